"""The filtering rule: people's decisions win, review on or off, coverage gaps named."""

import pytest

from craft_dag.curation.filtering import FILTERED_SCHEMA, coverage_gaps, filter_images


def score(image: str, entity: str, decision: str, reasons: tuple = (), status: str = "ok") -> dict:
    return {
        "image_id": image,
        "entity_id": entity,
        "category": "cat",
        "status": status,
        "decision": decision,
        "reasons": list(reasons),
        "width": 640,
        "height": 480,
        "quality": 20.0,
    }


SCORES = [
    score("a", "e1", "keep"),
    score("b", "e1", "review", ("text",)),
    score("c", "e1", "reject", ("blurry",)),
    score("d", "e2", "keep"),
    score("e", "e2", "reject", (), status="error"),
    score("f", "e2", "reject", ("too_small",)),
]
RAW = [
    {"image_id": s["image_id"], "entity_id": s["entity_id"], "licence": "CC0-1.0"} for s in SCORES
]


def person(verdict: str, caption: str = "") -> dict:
    return {"verdict": verdict, "caption": caption, "annotators": ("ann@example.org",)}


def test_with_review_only_what_people_kept_is_in() -> None:
    human = {
        ("a", "e1"): person("keep", "Пельмени на тарелке."),
        ("b", "e1"): person("reject"),
        ("f", "e2"): person("keep"),  # a person brings back what the rules rejected
        ("e", "e2"): person("keep"),  # but not a file that does not decode
    }
    result = filter_images(SCORES, RAW, human, review=True, entities=["e1", "e2", "e3"])
    rows = result.table.to_pylist()
    assert [(r["image_id"], r["decided_by"]) for r in rows] == [("a", "human"), ("f", "human")]
    assert rows[0]["human_caption"] == "Пельмени на тарелке."
    assert rows[0]["licence"] == "CC0-1.0" and rows[1]["auto_reasons"] == ["too_small"]
    assert result.outcomes == {
        "in: kept by reviewer": 1,
        "in: kept by reviewer over the rules": 1,
        "out: rejected by reviewer": 1,
        "out: rejected by rules": 1,  # c
        "out: awaiting review": 1,  # d
        "out: decode_error": 1,  # e
    }
    assert result.per_entity == {"e1": 1, "e2": 1, "e3": 0}
    assert result.table.schema == FILTERED_SCHEMA


def test_without_review_the_automatic_keep_alone_is_in() -> None:
    result = filter_images(SCORES, RAW, {}, review=False)
    assert [r["image_id"] for r in result.table.to_pylist()] == ["a", "d"]
    assert result.outcomes["out: review by rules"] == 1
    assert {r["decided_by"] for r in result.table.to_pylist()} == {"auto"}


@pytest.mark.parametrize(("minimum", "gaps"), [(0, {}), (1, {"e3": 0}), (2, {"e1": 1, "e3": 0})])
def test_coverage_gaps(minimum: int, gaps: dict) -> None:
    assert coverage_gaps({"e1": 1, "e2": 5, "e3": 0}, minimum) == gaps
