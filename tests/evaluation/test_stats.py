"""The evaluation statistics against hand-computed cases."""

import math

import numpy as np
import pytest

from craft_dag.evaluation.stats import bootstrap_ci, paired_difference, vendi_score


def test_vendi_of_identical_embeddings_is_one() -> None:
    assert vendi_score([[1.0, 2.0, 3.0]] * 4) == pytest.approx(1.0)


def test_vendi_of_orthogonal_embeddings_is_n() -> None:
    assert vendi_score(np.eye(3)) == pytest.approx(3.0)
    assert vendi_score(np.eye(5)[:2] * 7.0) == pytest.approx(2.0)  # scale does not matter


def test_vendi_of_two_at_sixty_degrees() -> None:
    # K = [[1, .5], [.5, 1]] / 2 has eigenvalues .75 and .25.
    expected = math.exp(-(0.75 * math.log(0.75) + 0.25 * math.log(0.25)))
    assert vendi_score([[1.0, 0.0], [0.5, math.sqrt(3) / 2]]) == pytest.approx(expected)


def test_vendi_edge_cases() -> None:
    assert vendi_score([[0.3, 0.4]]) == pytest.approx(1.0)
    assert math.isnan(vendi_score(np.zeros((0, 3))))
    with pytest.raises(ValueError):
        vendi_score([[0.0, 0.0], [1.0, 0.0]])


def test_bootstrap_ci_contains_the_mean_and_is_deterministic() -> None:
    sample = [0.1, 0.4, 0.35, 0.8, 0.2, 0.55, 0.6, 0.05]
    first = bootstrap_ci(sample, resamples=1000, seed=7)
    assert first.mean == pytest.approx(np.mean(sample))
    assert first.low < first.mean < first.high
    assert first.contains(float(np.mean(sample)))
    assert bootstrap_ci(sample, resamples=1000, seed=7) == first
    assert bootstrap_ci(sample, resamples=1000, seed=8) != first
    # Within the range of the data, and narrower at a lower confidence.
    assert min(sample) <= first.low and first.high <= max(sample)
    narrow = bootstrap_ci(sample, resamples=1000, seed=7, confidence=0.5)
    assert narrow.high - narrow.low < first.high - first.low


def test_bootstrap_ci_degenerate_samples() -> None:
    constant = bootstrap_ci([2.0, 2.0, 2.0])
    assert (constant.mean, constant.low, constant.high) == (2.0, 2.0, 2.0)
    empty = bootstrap_ci([math.nan])
    assert empty.n == 0 and math.isnan(empty.mean) and empty.format() == "n/a"


def test_paired_difference_uses_shared_finite_prompts() -> None:
    base = {"a": 0.2, "b": 0.4, "c": 0.5, "d": math.nan}
    tuned = {"a": 0.3, "b": 0.6, "d": 0.9, "e": 1.0}
    diff = paired_difference(base, tuned, seed=0)
    assert diff.n == 2
    assert diff.mean == pytest.approx(0.15)
    assert diff.low == pytest.approx(0.1) and diff.high == pytest.approx(0.2)
    assert diff.excludes_zero()
