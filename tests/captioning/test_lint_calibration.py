"""Precision and recall of the caption linter on hand-labelled captions (issue 12, part 5).

Two sets, both labelled by hand from the paper's section 4.3 (see the header of
``data/lint_labelled.yaml`` for how each rule was read):

- ``lint_labelled.yaml`` (193 captions): the development set. Its labels were committed before
  the linter was run on it; the linter was then improved where it fell short on it.
- ``lint_heldout.yaml`` (65 captions, other entities): written after those improvements and
  committed before the linter first ran on it. First run: micro precision 0.97, recall 0.92;
  three misses were then fixed in general form, one false alarm is left (an entity named only by
  its adjective, "палехской росписью" for Палех, which lemma matching cannot link).

The thresholds of the issue: recall >= 0.95 at precision >= 0.9, micro-averaged over all rules
on each set and on both together, and per rule on both together for every rule with at least
MIN_POSITIVES captions labelled as breaking it (each rule has more; the held-out set alone has
fewer per rule, so it is held to the micro-average only).
"""

from pathlib import Path

import pytest

from craft_dag.captioning.lint import RULE_IDS
from craft_dag.captioning.lint_calibration import (
    LabelledCaption,
    Scores,
    evaluate,
    load_labelled,
)

DATA = Path(__file__).parent / "data"
DEVELOPMENT = DATA / "lint_labelled.yaml"
HELD_OUT = DATA / "lint_heldout.yaml"
MIN_RECALL = 0.95
MIN_PRECISION = 0.9
# Below this many labelled positives, one miss moves a rule's recall by more than the margin
# between 1.0 and MIN_RECALL, so the per-rule check would test luck rather than the rule.
MIN_POSITIVES = 10


@pytest.fixture(scope="module")
def development() -> list[LabelledCaption]:
    return load_labelled(DEVELOPMENT)


@pytest.fixture(scope="module")
def held_out() -> list[LabelledCaption]:
    return load_labelled(HELD_OUT)


def _misses(scores: Scores) -> str:
    return "; ".join(
        f"{rule}: false alarms {c.false_positives}, missed {c.false_negatives}"
        for rule, c in scores.rules.items()
        if c.fp or c.fn
    )


def test_the_sets_cover_every_rule_broken_and_kept_in_both_languages(
    development: list[LabelledCaption], held_out: list[LabelledCaption]
) -> None:
    assert len(development) >= 40 and len(held_out) >= 40
    for captions in (development, held_out):
        assert {c.language for c in captions} == {"ru", "en"}
    both = development + held_out
    for rule in RULE_IDS:
        for language in ("ru", "en"):
            broken = [c for c in both if c.language == language and rule in c.breaks]
            kept = [c for c in both if c.language == language and rule not in c.breaks]
            assert broken and kept, (rule, language)
    # Clean captions, the near misses among them, are a good share of the set.
    assert sum(1 for c in both if not c.breaks) >= len(both) // 3


@pytest.mark.parametrize("which", ["development", "held_out", "both"])
def test_micro_recall_and_precision(
    which: str, development: list[LabelledCaption], held_out: list[LabelledCaption]
) -> None:
    captions = {"development": development, "held_out": held_out}.get(which, development + held_out)
    scores = evaluate(captions)
    micro = scores.micro
    assert micro.recall >= MIN_RECALL, _misses(scores)
    assert micro.precision >= MIN_PRECISION, _misses(scores)


@pytest.mark.parametrize("rule", RULE_IDS)
def test_per_rule_recall_and_precision(
    rule: str, development: list[LabelledCaption], held_out: list[LabelledCaption]
) -> None:
    counts = evaluate(development + held_out).rules[rule]
    assert counts.positives >= MIN_POSITIVES, f"{rule}: only {counts.positives} labelled"
    assert counts.recall >= MIN_RECALL, f"{rule} missed {counts.false_negatives}"
    assert counts.precision >= MIN_PRECISION, f"{rule} false alarms {counts.false_positives}"


def test_evaluate_counts_hits_and_misses(development: list[LabelledCaption]) -> None:
    # A linter that flags every rule on every caption: full recall, precision = label share.
    everything = evaluate(development, lambda rows: [list(RULE_IDS) for _ in rows])
    nothing = evaluate(development, lambda rows: [[] for _ in rows])
    for rule in RULE_IDS:
        labelled = sum(1 for c in development if rule in c.breaks)
        assert everything.rules[rule].tp == labelled == nothing.rules[rule].fn
        assert everything.rules[rule].fp == len(development) - labelled
        assert everything.rules[rule].recall == 1.0
        assert everything.rules[rule].precision == pytest.approx(labelled / len(development))
        assert nothing.rules[rule].recall == 0.0 and nothing.rules[rule].precision == 1.0
    assert nothing.exact == sum(1 for c in development if not c.breaks)
    with pytest.raises(ValueError, match="answered 0 rows"):
        evaluate(development, lambda rows: [])


def test_the_linter_sees_a_group_as_one_entity(development: list[LabelledCaption]) -> None:
    """`templated` is judged within a group; a caption without one is an entity of its own."""
    seen: list[list[str]] = []

    def record(rows):
        seen.extend([str(r["entity"])] for r in rows)
        return [[] for _ in rows]

    evaluate(development, record)
    entities = [s[0] for s in seen]
    for caption, entity in zip(development, entities, strict=True):
        assert entity == (caption.group or caption.id)


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("{id: a, entity: x, language: en, breaks: [hedge], caption: Hi.}", "unknown rule"),
        ("{id: a, entity: y, language: en, breaks: [], caption: Hi.}", "not under 'entities'"),
        ("{id: a, entity: x, breaks: [], caption: Hi.}", "missing 'language'"),
    ],
)
def test_load_labelled_rejects_bad_rows(tmp_path: Path, row: str, message: str) -> None:
    path = tmp_path / "set.yaml"
    path.write_text(f"entities: {{x: [X]}}\ncaptions:\n  - {row}\n", encoding="utf-8")
    with pytest.raises(ValueError, match=message):
        load_labelled(path)


def test_load_labelled_rejects_duplicate_ids(tmp_path: Path) -> None:
    path = tmp_path / "set.yaml"
    row = "{id: a, entity: x, language: en, breaks: [], caption: Hi.}"
    path.write_text(f"entities: {{x: [X]}}\ncaptions:\n  - {row}\n  - {row}\n", encoding="utf-8")
    with pytest.raises(ValueError, match="duplicate id"):
        load_labelled(path)
