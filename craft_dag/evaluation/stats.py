"""Statistics of the evaluation: the Vendi score and paired bootstrap confidence intervals.

* Vendi score (Friedman and Dieng, 2023; the CUBE benchmark's diversity measure): for n items
  with a similarity kernel K (here cosine similarity of embeddings, so K_ii = 1), the
  exponential of the Shannon entropy of the eigenvalues of K / n. It is the "effective number"
  of distinct items: 1 when all are identical, n when all are orthogonal.
* Base against tuned: a per-prompt difference (tuned minus base, both scored on the same
  prompts and seeds), its mean, and a percentile bootstrap interval from resampling prompts with
  replacement, seeded so a rerun gives the same interval.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np


def vendi_score(embeddings: np.ndarray | Sequence[Sequence[float]]) -> float:
    """The Vendi score of the rows of ``embeddings`` under the cosine-similarity kernel (1..n).

    Rows are L2-normalised first; a zero row is an error. One row scores 1; no rows, nan.
    """
    x = np.asarray(embeddings, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"embeddings must be a 2-D array (n, dim), not shape {x.shape}")
    n = x.shape[0]
    if n == 0:
        return math.nan
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    if np.any(norms == 0):
        raise ValueError("an embedding of norm 0 has no cosine similarity")
    x = x / norms
    kernel = x @ x.T
    eigenvalues = np.linalg.eigvalsh(kernel / n)
    eigenvalues = eigenvalues[eigenvalues > 1e-12]
    entropy = -float(np.sum(eigenvalues * np.log(eigenvalues)))
    return float(math.exp(entropy))


@dataclass(frozen=True)
class Interval:
    """A mean with its bootstrap confidence interval."""

    n: int
    mean: float
    low: float
    high: float
    confidence: float = 0.95

    def contains(self, value: float) -> bool:
        return self.low <= value <= self.high

    def excludes_zero(self) -> bool:
        """Whether the difference is significant at this confidence (the interval misses 0)."""
        return self.n > 0 and not self.contains(0.0)

    def format(self, digits: int = 3) -> str:
        if self.n == 0 or math.isnan(self.mean):
            return "n/a"
        return f"{self.mean:+.{digits}f} [{self.low:+.{digits}f}, {self.high:+.{digits}f}]"


def bootstrap_ci(
    values: Sequence[float] | np.ndarray,
    *,
    resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> Interval:
    """The mean of ``values`` (nan dropped) and a percentile bootstrap interval of it.

    ``resamples`` resamples of the same size, drawn with replacement by a generator seeded
    ``seed``: deterministic. One value gives a zero-width interval; none, an ``Interval`` of
    nan with ``n = 0``.
    """
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), not {confidence}")
    if resamples < 1:
        raise ValueError(f"resamples must be at least 1, not {resamples}")
    x = np.asarray(values, dtype=np.float64)
    x = x[~np.isnan(x)]
    n = int(x.size)
    if n == 0:
        return Interval(0, math.nan, math.nan, math.nan, confidence)
    mean = float(x.mean())
    rng = np.random.default_rng(seed)
    means = x[rng.integers(0, n, size=(resamples, n))].mean(axis=1)
    alpha = (1 - confidence) / 2
    low, high = np.quantile(means, [alpha, 1 - alpha])
    # The percentile interval always holds the sample mean in practice; make it exact.
    return Interval(n, mean, min(float(low), mean), max(float(high), mean), confidence)


def paired_difference(
    base: Mapping[str, float],
    tuned: Mapping[str, float],
    *,
    resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> Interval:
    """Mean of ``tuned[k] - base[k]`` over the keys (prompts) both have a finite value for, with
    a bootstrap interval from resampling those prompts."""
    keys = sorted(
        k for k in base.keys() & tuned.keys() if not (math.isnan(base[k]) or math.isnan(tuned[k]))
    )
    differences = [tuned[k] - base[k] for k in keys]
    return bootstrap_ci(differences, resamples=resamples, confidence=confidence, seed=seed)
