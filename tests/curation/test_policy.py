"""Thresholds: built-in defaults, the pack's curation.yaml, per-category and per-run overrides."""

from pathlib import Path

import pytest

from craft_dag.catalog.pack import load_pack, validate_pack
from craft_dag.curation.decide import KEEP, REJECT, REVIEW, decide
from craft_dag.curation.policy import REASONS, CurationPolicy, effective


def write_policy(pack: Path, text: str) -> None:
    (pack / "curation.yaml").write_text(text, encoding="utf-8")


def test_layers_apply_in_order_and_say_where_each_value_came_from(mini_pack: Path) -> None:
    write_policy(
        mini_pack,
        "thresholds:\n  min_blur: 10\n  max_aspect: 3\n"
        "categories:\n  cuisine:\n    min_blur: 5\n    min_relevance: 0.2\n",
    )
    policy = load_pack(mini_pack).curation
    cuisine = effective(policy, "cuisine", {"max_aspect": 2.0})
    assert cuisine.values.min_blur == 5 and cuisine.origin["min_blur"] == "category"
    assert cuisine.values.max_aspect == 2.0 and cuisine.origin["max_aspect"] == "run"
    assert cuisine.values.min_relevance == 0.2
    assert cuisine.origin["min_short_side"] == "default"
    crafts = effective(policy, "crafts")
    assert crafts.values.min_blur == 10 and crafts.origin["min_blur"] == "pack"
    assert crafts.values.min_relevance is None
    assert ("min_blur", "10.0", "pack") in crafts.rows()


def test_a_category_override_changes_only_that_categorys_fingerprint(mini_pack: Path) -> None:
    before = load_pack(mini_pack)
    write_policy(mini_pack, "categories:\n  cuisine:\n    min_blur: 5\n")
    after = load_pack(mini_pack)
    assert before.curation_fingerprint("cuisine") != after.curation_fingerprint("cuisine")
    assert before.curation_fingerprint("crafts") == after.curation_fingerprint("crafts")
    # Entities are untouched by a threshold edit.
    assert before.category_fingerprint("cuisine") == after.category_fingerprint("cuisine")


def test_switching_a_rule_off_for_a_run(mini_pack: Path) -> None:
    values = effective(CurationPolicy(), "crafts", {"min_blur": None}).values
    assert values.min_blur is None


def test_unknown_threshold_names_are_errors() -> None:
    with pytest.raises(ValueError, match=r"unknown curation threshold.*min_bluur"):
        effective(CurationPolicy(), "crafts", {"min_bluur": 3})


def test_a_broken_curation_file_is_reported_with_file_line_and_field(mini_pack: Path) -> None:
    write_policy(
        mini_pack,
        "thresholds:\n"  # 1
        "  min_blur: 10\n"  # 2
        "  min_bluur: 3\n"  # 3
        "categories:\n"  # 4
        "  cuisine:\n"  # 5
        "    max_aspect: 0.5\n"  # 6
        "review_reasons: [text, nonsense]\n",  # 7
    )
    problems = {(p.file, p.line, p.field) for p in validate_pack(mini_pack)}
    assert ("curation.yaml", 3, "thresholds.min_bluur") in problems
    assert ("curation.yaml", 6, "categories.cuisine.max_aspect") in problems
    assert ("curation.yaml", 7, "review_reasons[1]") in problems


def test_an_override_for_an_unknown_category_is_reported(mini_pack: Path) -> None:
    write_policy(mini_pack, "categories:\n  nope:\n    min_blur: 1\n")
    problems = [str(p) for p in validate_pack(mini_pack)]
    assert problems == ["curation.yaml:2: categories.nope: unknown category 'nope'"]


@pytest.mark.parametrize(
    ("reasons", "needs_review", "expected"),
    [
        ([], False, (KEEP, ())),
        (["blurry"], False, (REJECT, ("blurry",))),
        (["text"], False, (REVIEW, ("text",))),  # text is a review reason by default
        (["text", "blurry"], False, (REJECT, ("blurry", "text"))),
        (["duplicate"], True, (REVIEW, ("duplicate",))),  # shared by another entity
        (["duplicate"], False, (REJECT, ("duplicate",))),
        (["duplicate", "overexposed"], True, (REJECT, ("overexposed", "duplicate"))),
    ],
)
def test_decisions(reasons: list[str], needs_review: bool, expected: tuple) -> None:
    got = decide(reasons, effective(CurationPolicy(), "x"), needs_review=needs_review)
    assert (got.decision, got.reasons) == expected


def test_reasons_must_come_from_the_vocabulary() -> None:
    with pytest.raises(ValueError, match="unknown reason"):
        decide(["ugly"], effective(CurationPolicy(), "x"))
    assert len(REASONS) == 11
