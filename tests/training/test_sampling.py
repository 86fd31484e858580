"""Repeat weights: the paper's uniform x50 and entity balancing, with numbers done by hand."""

import pytest

from craft_dag.training.sampling import entity_weight, repeat_weights

# 1 + 4 + 10 + 60 = 75 samples.
IDS = ["a"] + ["b"] * 4 + ["c"] * 10 + ["d"] * 60


def test_uniform_is_the_papers_x50() -> None:
    result = repeat_weights(IDS, "uniform")
    assert set(result.weights) == {50.0}
    assert result.effective == 75 * 50
    assert result.target_per_entity is None and result.max_repeats is None
    # Every entity's share is what it was: a rare entity stays rare.
    assert [e.effective / result.effective for e in result.entities] == pytest.approx(
        [1 / 75, 4 / 75, 10 / 75, 60 / 75]
    )


def test_balanced_by_hand() -> None:
    # T = 40, C = 20: a 40/1 = 40 -> capped at 20; b 40/4 = 10; c 40/10 = 4; d 40/60 -> floor 1.
    result = repeat_weights(IDS, target_per_entity=40, max_repeats=20)
    assert {e.entity_id: e.weight for e in result.entities} == {
        "a": 20.0,
        "b": 10.0,
        "c": 4.0,
        "d": 1.0,
    }
    assert {e.entity_id: e.effective for e in result.entities} == {
        "a": 20.0,
        "b": 40.0,
        "c": 40.0,
        "d": 60.0,
    }
    assert result.effective == 160.0  # 20 + 40 + 40 + 60
    assert result.weights[:2] == [20.0, 10.0]  # in the input's order
    assert len(result.weights) == result.samples == 75


def test_rare_entities_rise_and_the_cap_holds() -> None:
    result = repeat_weights(IDS, target_per_entity=40, max_repeats=20)
    before = {"a": 1 / 75, "b": 4 / 75, "c": 10 / 75, "d": 60 / 75}
    after = {e.entity_id: e.effective / result.effective for e in result.entities}
    assert after["a"] > before["a"] and after["b"] > before["b"] and after["c"] > before["c"]
    assert after["d"] < before["d"]
    assert max(result.weights) == 20.0 and min(result.weights) == 1.0


def test_fractional_weights_and_strength() -> None:
    assert entity_weight(3, 40, 20) == pytest.approx(40 / 3)  # 13.33: floats, not rounded
    assert entity_weight(4, 64, 20, strength=0.5) == pytest.approx(4.0)  # sqrt(64 / 4)
    assert entity_weight(4, 64, 20, strength=0.0) == 1.0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"mode": "x50"}, "unknown sampling mode"),
        ({"target_per_entity": 0}, "target_per_entity"),
        ({"max_repeats": 0.5}, "max_repeats"),
        ({"strength": 2}, "strength"),
    ],
)
def test_bad_settings_are_refused(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        repeat_weights(IDS, **kwargs)
