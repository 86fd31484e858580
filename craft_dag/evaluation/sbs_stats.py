"""Side-by-side statistics: win/tie/loss tallies, prompt bootstrap intervals, Fleiss' kappa.

The win rate is ``model_b``'s share of wins; its 95% interval is a percentile bootstrap that
resamples *prompts* (all the votes on a prompt travel together, so several assessors and seeds
of one prompt do not pass for independent evidence). Agreement is Fleiss' kappa per question
over the pairs that several assessors rated (categories model a / model b / tie).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from craft_dag.evaluation.sbs_votes import ALL, CHOICES, QUESTIONS, Vote, dedupe, orient


def fleiss_kappa(counts: Sequence[Sequence[int]]) -> float:
    """Fleiss' kappa of an items x categories table of rating counts.

    Items may have different numbers of raters (each at least 2). ``nan`` where chance
    agreement is 1 (every rating in one category), where kappa is undefined.
    """
    table = np.asarray(counts, dtype=float)
    if table.ndim != 2 or table.shape[0] == 0:
        raise ValueError("counts must be a non-empty items x categories table")
    raters = table.sum(axis=1)
    if (raters < 2).any():
        raise ValueError("every item needs at least two ratings")
    agreement = ((table * table).sum(axis=1) - raters) / (raters * (raters - 1))
    p_bar = float(agreement.mean())
    shares = table.sum(axis=0) / table.sum()
    p_e = float((shares * shares).sum())
    if math.isclose(p_e, 1.0):
        return float("nan")
    return (p_bar - p_e) / (1.0 - p_e)


def bootstrap_ci(
    wins: Sequence[float],
    totals: Sequence[float],
    *,
    bootstrap: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> tuple[float, float]:
    """Percentile bootstrap interval of ``sum(wins) / sum(totals)``, resampling the units.

    ``wins[i]`` and ``totals[i]`` are one unit's (prompt's) wins and votes. Deterministic for
    a seed; with one unit, or ``bootstrap`` 0, the interval is the point estimate. (A ratio's
    percentile interval can, in rare skewed cases, miss the point estimate: it is then widened
    to reach it.)
    """
    w = np.asarray(wins, dtype=float)
    t = np.asarray(totals, dtype=float)
    if w.shape != t.shape or w.ndim != 1 or len(w) == 0 or t.sum() <= 0:
        raise ValueError("wins and totals must be equal-length, non-empty, with votes")
    point = float(w.sum() / t.sum())
    if bootstrap <= 0 or len(w) == 1:
        return point, point
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(w), size=(bootstrap, len(w)))
    sums_t = t[idx].sum(axis=1)
    rates = np.where(sums_t > 0, w[idx].sum(axis=1) / np.maximum(sums_t, 1e-12), point)
    alpha = (1.0 - level) / 2.0
    low, high = np.quantile(rates, [alpha, 1.0 - alpha])
    return float(min(low, point)), float(max(high, point))


@dataclass(frozen=True)
class Tally:
    """Win/tie/loss of ``model_b`` against ``model_a`` for one question and category."""

    model_a: str
    model_b: str
    question: str
    category: str
    n: int
    wins_b: int
    ties: int
    wins_a: int
    prompts: int
    win_rate: float
    ci_low: float
    ci_high: float

    @property
    def tie_rate(self) -> float:
        """Share of ties."""
        return self.ties / self.n

    @property
    def loss_rate(self) -> float:
        """Share of ``model_a`` wins."""
        return self.wins_a / self.n


@dataclass(frozen=True)
class Agreement:
    """Fleiss' kappa for one question over the pairs rated by two or more assessors."""

    question: str
    items: int
    ratings: int
    kappa: float | None


@dataclass
class Report:
    """What :func:`report` computes; :func:`write_report` renders it."""

    votes: int
    assessors: list[str]
    pairs: int
    prompts: int
    model_pairs: list[tuple[str, str]]
    tallies: list[Tally]
    agreement: list[Agreement]
    bootstrap: int
    seed: int
    categories: list[str] = field(default_factory=list)

    def tally(self, model_a: str, model_b: str, question: str = ALL, category: str = ALL) -> Tally:
        """The row for a model pair, question and category (``ALL`` pools)."""
        for row in self.tallies:
            if (row.model_a, row.model_b, row.question, row.category) == (
                model_a,
                model_b,
                question,
                category,
            ):
                return row
        raise KeyError((model_a, model_b, question, category))

    def table(self) -> str:
        """A plain-text summary: the overall rows per model pair and question, then kappa."""
        lines = [
            f"{self.votes} votes by {len(self.assessors)} assessor(s) on {self.pairs} pairs "
            f"({self.prompts} prompts)",
            f"{'model_b vs model_a':<40} {'question':<10} {'n':>5} {'win':>6} {'tie':>6} "
            f"{'loss':>6}  win rate [95% CI]",
        ]
        for row in self.tallies:
            if row.category != ALL:
                continue
            name = f"{row.model_b} vs {row.model_a}"
            lines.append(
                f"{name:<40} {row.question:<10} {row.n:>5} {row.wins_b:>6} {row.ties:>6} "
                f"{row.wins_a:>6}  {_pct(row.win_rate)} [{_pct(row.ci_low)}, {_pct(row.ci_high)}]"
            )
        for agr in self.agreement:
            lines.append(
                f"Fleiss' kappa ({agr.question}): {format_kappa(agr.kappa)} over {agr.items} pairs"
            )
        return "\n".join(lines)


def _pct(x: float) -> str:
    return f"{100 * x:5.1f}%"


def format_kappa(k: float | None) -> str:
    return "n/a" if k is None else f"{k:.3f}"


def _tally(
    votes: Sequence[Vote], model_a: str, model_b: str, question: str, category: str, **kw: Any
) -> Tally:
    per_prompt: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    counts = dict.fromkeys(CHOICES, 0)
    for vote in votes:
        counts[vote.choice] += 1
        per_prompt[vote.prompt_id][0] += vote.choice == "b"
        per_prompt[vote.prompt_id][1] += 1
    keys = sorted(per_prompt)
    low, high = bootstrap_ci(
        [per_prompt[k][0] for k in keys], [per_prompt[k][1] for k in keys], **kw
    )
    n = len(votes)
    return Tally(
        model_a=model_a,
        model_b=model_b,
        question=question,
        category=category,
        n=n,
        wins_b=counts["b"],
        ties=counts["tie"],
        wins_a=counts["a"],
        prompts=len(keys),
        win_rate=counts["b"] / n,
        ci_low=low,
        ci_high=high,
    )


def _agreement(votes: Sequence[Vote], question: str) -> Agreement:
    by_item: dict[str, dict[str, str]] = defaultdict(dict)
    for vote in votes:
        if vote.question == question:
            by_item[vote.pair_id][vote.assessor] = vote.choice
    rows = [
        [sum(1 for c in raters.values() if c == choice) for choice in CHOICES]
        for _, raters in sorted(by_item.items())
        if len(raters) >= 2
    ]
    if not rows:
        return Agreement(question=question, items=0, ratings=0, kappa=None)
    kappa = fleiss_kappa(rows)
    return Agreement(
        question=question,
        items=len(rows),
        ratings=sum(map(sum, rows)),
        kappa=None if math.isnan(kappa) else kappa,
    )


def report(votes: Iterable[Vote], *, bootstrap: int = 1000, seed: int = 0) -> Report:
    """Tally votes per model pair, question (and both) and category (and all), with agreement.

    Duplicate votes (one assessor, pair and question, e.g. two exports) count once: the latest.
    """
    clean = orient(dedupe(votes))
    if not clean:
        raise ValueError("no votes to report on")
    model_pairs = list(dict.fromkeys((v.model_a, v.model_b) for v in clean))
    categories = sorted({v.category for v in clean})
    tallies = []
    for model_a, model_b in model_pairs:
        mine = [v for v in clean if (v.model_a, v.model_b) == (model_a, model_b)]
        for question in (*QUESTIONS, ALL):
            asked = [v for v in mine if question in (ALL, v.question)]
            for category in (ALL, *categories):
                rows = [v for v in asked if category in (ALL, v.category)]
                if rows:
                    tallies.append(
                        _tally(
                            rows,
                            model_a,
                            model_b,
                            question,
                            category,
                            bootstrap=bootstrap,
                            seed=seed,
                        )
                    )
    return Report(
        votes=len(clean),
        assessors=sorted({v.assessor for v in clean}),
        pairs=len({v.pair_id for v in clean}),
        prompts=len({v.prompt_id for v in clean}),
        model_pairs=model_pairs,
        tallies=tallies,
        agreement=[_agreement(clean, q) for q in QUESTIONS],
        bootstrap=bootstrap,
        seed=seed,
        categories=categories,
    )
