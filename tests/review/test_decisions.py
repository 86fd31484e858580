"""The review vocabulary, the CSV import and the conflict rule, on hand-built cases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pytest

from craft_dag.review.decisions import (
    DECISIONS_SCHEMA,
    REJECT_REASONS,
    UNDATED,
    ReviewDecision,
    RowProblem,
    decisions_table,
    parse_csv,
    resolve,
)

IMG = "a" * 64
IMG2 = "b" * 64
T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def decision(
    annotator: str,
    verdict: str,
    *,
    reasons: tuple[str, ...] = (),
    caption: str = "",
    minutes: int = 0,
    image_id: str = IMG,
    entity_id: str = "e1",
    source: str = "label_studio",
) -> ReviewDecision:
    return ReviewDecision(
        image_id=image_id,
        entity_id=entity_id,
        category="c",
        verdict=verdict,
        reasons=reasons,
        caption=caption,
        annotator=annotator,
        annotated_at=T0 + timedelta(minutes=minutes),
        source=source,
    )


def test_vocabulary_covers_the_automatic_reasons_and_the_human_only_ones() -> None:
    for reason in ("blurry", "watermark", "duplicate", "collage", "distorted", "not_cultural"):
        assert reason in REJECT_REASONS
    assert len(set(REJECT_REASONS)) == len(REJECT_REASONS)


def test_a_decision_refuses_values_the_table_cannot_hold() -> None:
    with pytest.raises(ValueError, match="sha256"):
        decision("a", "keep", image_id="not-a-hash")
    with pytest.raises(ValueError, match="verdict"):
        decision("a", "maybe")
    with pytest.raises(ValueError, match="unknown reason"):
        decision("a", "reject", reasons=("ugly",))
    with pytest.raises(ValueError, match="UTC"):
        ReviewDecision(IMG, "e1", "c", "keep", (), "", "a", datetime(2025, 1, 1), "csv")


# --- the conflict rule -------------------------------------------------------------------


def test_one_annotator_is_their_own_majority() -> None:
    [r] = resolve([decision("a", "reject", reasons=("blurry",))]).decisions
    assert (r.verdict, r.reasons, r.votes_keep, r.votes_reject, r.conflict) == (
        "reject",
        ("blurry",),
        0,
        1,
        False,
    )
    assert r.annotators == ("a",)


def test_a_tie_resolves_to_reject_with_the_rejecters_reasons() -> None:
    resolution = resolve(
        [
            decision("a", "keep", caption="a caption", reasons=("text",)),
            decision("b", "reject", reasons=("not_cultural",), caption="b caption"),
        ]
    )
    [r] = resolution.decisions
    assert r.verdict == "reject"
    assert r.reasons == ("not_cultural",)  # the losing keep's "text" does not describe it
    assert r.caption == "b caption"
    assert (r.votes_keep, r.votes_reject, r.conflict) == (1, 1, True)
    assert r.annotators == ("a", "b")
    assert resolution.counts()["ties"] == 1
    assert resolution.counts()["conflicts"] == 1


def test_an_annotator_who_changes_their_mind_counts_once_as_they_finally_decided() -> None:
    resolution = resolve(
        [
            decision("a", "reject", reasons=("blurry",), minutes=0),
            decision("b", "keep", minutes=1),
            decision("a", "keep", caption="second look", minutes=5),
        ]
    )
    [r] = resolution.decisions
    assert (r.verdict, r.votes_keep, r.votes_reject, r.conflict) == ("keep", 2, 0, False)
    assert r.reasons == ()
    assert r.caption == "second look"
    assert r.annotated_at == T0 + timedelta(minutes=5)
    assert (resolution.n_input, resolution.n_superseded) == (3, 1)


def test_the_latest_decision_wins_by_time_not_by_order_given() -> None:
    # The export lists a later edit first; the earlier decision must not override it.
    [r] = resolve([decision("a", "keep", minutes=10), decision("a", "reject", minutes=2)]).decisions
    assert r.verdict == "keep"
    # At equal times, the one given later wins.
    [r] = resolve([decision("a", "keep"), decision("a", "reject")]).decisions
    assert r.verdict == "reject"


def test_three_annotators_majority_and_reason_union() -> None:
    [r] = resolve(
        [
            decision("a", "reject", reasons=("watermark",), minutes=1),
            decision("b", "keep", reasons=("blurry",), caption="kept by b", minutes=2),
            decision("c", "reject", reasons=("text", "watermark"), minutes=3),
        ]
    ).decisions
    assert (r.verdict, r.votes_keep, r.votes_reject, r.conflict) == ("reject", 1, 2, True)
    assert r.reasons == ("text", "watermark")  # vocabulary order, each once
    assert r.caption == ""  # the only caption came from the losing side
    assert r.annotators == ("a", "b", "c")

    [r] = resolve(
        [
            decision("a", "keep", caption="first", minutes=1),
            decision("b", "keep", caption="", minutes=3),
            decision("c", "keep", caption="latest", minutes=2),
            decision("d", "reject", reasons=("other",), minutes=4),
        ]
    ).decisions
    assert (r.verdict, r.caption) == ("keep", "latest")  # latest non-empty among winners


def test_images_and_entities_resolve_separately() -> None:
    resolution = resolve(
        [
            decision("a", "keep", image_id=IMG2),
            decision("a", "reject", reasons=("duplicate",), entity_id="e2"),
            decision("a", "keep", entity_id="e1"),
            decision("b", "keep", entity_id="e1", source="csv"),
        ]
    )
    keys = [(r.image_id, r.entity_id) for r in resolution.decisions]
    assert keys == [(IMG, "e1"), (IMG, "e2"), (IMG2, "e1")]  # sorted
    assert resolution.decisions[0].source == "csv+label_studio"
    assert resolution.counts() == {
        "decisions": 4,
        "superseded": 0,
        "resolved": 3,
        "keep": 2,
        "reject": 1,
        "conflicts": 0,
        "ties": 0,
    }


def test_nothing_resolves_to_nothing() -> None:
    resolution = resolve([])
    assert resolution.decisions == ()
    assert decisions_table(resolution).num_rows == 0
    assert decisions_table(resolution).schema == DECISIONS_SCHEMA


def test_table_has_the_fixed_schema() -> None:
    resolution = resolve(
        [decision("b", "reject", reasons=("blurry", "text")), decision("a", "keep")]
    )
    table = decisions_table(resolution)
    assert table.schema == DECISIONS_SCHEMA
    assert table.schema.field("annotated_at").type == pa.timestamp("us", tz="UTC")
    [row] = table.to_pylist()
    assert row["reasons"] == ["blurry", "text"]
    assert row["annotators"] == ["a", "b"]
    assert (row["verdict"], row["votes_keep"], row["votes_reject"], row["conflict"]) == (
        "reject",
        1,
        1,
        True,
    )
    assert row["annotated_at"] == T0


# --- CSV ---------------------------------------------------------------------------------

HEADER = "image_id,entity_id,category,verdict,reasons,caption,annotator,annotated_at\n"


def test_csv_imports_good_rows_and_names_bad_ones() -> None:
    data = (
        HEADER
        + f"{IMG},e1,c,keep,,Собор,anna@example.org,2025-03-01T12:00:00Z\n"
        + f"{IMG.upper()},e1,c,REJECT,blurry; Text;blurry,,bob@example.org,2025-03-01T13:00:00+02:00\n"
        + f"{IMG},e1,c,maybe,,,anna@example.org,\n"  # line 4: bad verdict
        + "xyz,e1,c,keep,,,anna@example.org,\n"  # line 5: bad image id
        + f"{IMG},e1,c,reject,ugly,,anna@example.org,\n"  # line 6: unknown reason
        + f"{IMG},e1,c,keep,,,anna@example.org,yesterday\n"  # line 7: bad time
        + f"{IMG},e1,c,keep,,,,\n"  # line 8: no annotator
        + f'{IMG2},e2,c,keep,,"a caption\nover two lines",anna@example.org,2025-03-01\n'
        + f"{IMG},e1,c,keep,,,anna@example.org,,extra\n"  # line 11: too many fields
    ).encode()
    decisions, problems = parse_csv(data, where="review.csv")
    assert [(p.line, p.message.split(" ")[0]) for p in problems] == [
        (4, "verdict"),
        (5, "image_id"),
        (6, "unknown"),
        (7, "annotated_at"),
        (8, "annotator"),
        (11, "more"),
    ]
    assert all(p.where == "review.csv" for p in problems)
    assert str(problems[0]).startswith("review.csv:4: verdict 'maybe'")
    first, second, third = decisions
    assert (first.caption, first.annotated_at, first.source) == ("Собор", T0, "csv")
    assert first.task_id == ""
    assert (second.image_id, second.verdict, second.reasons) == (IMG, "reject", ("blurry", "text"))
    assert second.annotated_at == datetime(2025, 3, 1, 11, 0, tzinfo=UTC)  # converted to UTC
    assert third.caption == "a caption\nover two lines"
    assert third.annotated_at == datetime(2025, 3, 1, tzinfo=UTC)  # a naive time is UTC


def test_csv_optional_columns_may_be_absent_and_bom_is_accepted() -> None:
    data = "\ufeffImage_ID,entity_id,category,verdict,annotator\n" + f"{IMG},e1,c,keep,a\n"
    decisions, problems = parse_csv(data.encode(), where="x.csv")
    assert problems == []
    [d] = decisions
    assert (d.reasons, d.caption, d.annotated_at) == ((), "", UNDATED)


def test_csv_without_required_columns_is_one_problem() -> None:
    decisions, problems = parse_csv(b"image_id,verdict\nabc,keep\n", where="x.csv")
    assert decisions == []
    assert problems == [RowProblem("x.csv", 1, "missing column(s): entity_id, category, annotator")]
    assert parse_csv(b"\xff\xfe", where="x.csv")[1][0].message.startswith("not UTF-8")
    assert parse_csv(b"", where="x.csv")[1][0].line == 1


def test_csv_round_trips_into_the_rule() -> None:
    data = (
        HEADER
        + f"{IMG},e1,c,reject,watermark,,a,2025-03-01T12:00:00Z\n"
        + f"{IMG},e1,c,keep,,,b,2025-03-01T12:01:00Z\n"
        + f"{IMG},e1,c,keep,,,a,2025-03-01T12:02:00Z\n"
    ).encode()
    decisions, problems = parse_csv(data, where="x.csv")
    assert problems == []
    [r] = resolve(decisions).decisions
    assert (r.verdict, r.votes_keep, r.source) == ("keep", 2, "csv")
