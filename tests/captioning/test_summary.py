"""The ``captions`` asset's summary: counts, sorted tallies and the examples table."""

from collections import Counter

import pyarrow as pa

from craft_dag.captioning.caption_category import CaptionsResult
from craft_dag.captioning.summary import TINY_NOTE, entity_names, summarise_captions


def _row(entity: str, source: str, caption: str, violations: list[str], included: bool) -> dict:
    reason = "" if included else "no caption"
    return {"entity_id": entity, "caption_source": source, "caption": caption,
            "violations": violations, "included": included, "excluded_reason": reason}  # fmt: skip


def _result(rows: list[dict]) -> CaptionsResult:
    return CaptionsResult(
        table=pa.Table.from_pylist(rows),
        counts=Counter({"kept": 2, "dropped": 1}),
        violations=Counter({"viewing": 1, "hedging": 3}),
    )


def test_counts_tallies_and_verdicts() -> None:
    rows = [
        _row("blini", "human", "Blini on a plate. A samovar.", [], True),
        _row("kvass", "auto", "Maybe kvass.", ["hedging", "viewing"], False),
        _row("shchi", "none", "", [], False),
    ]
    summary = summarise_captions(_result(rows), tiny_model=False)
    assert summary.included == 1
    assert list(summary.outcomes.items()) == [("dropped", 1), ("kept", 2)]
    assert list(summary.guideline_violations.items()) == [("hedging", 3), ("viewing", 1)]
    table = summary.examples.splitlines()
    assert table[0] == "| entity | source | caption | guidelines |"
    assert table[2:] == [
        "| blini | human | Blini on a plate. A samovar. | ok |",
        "| kvass | auto | Maybe kvass. | hedging;viewing |",
        "| shchi | none | (none) | no caption |",
    ]


def test_tiny_note_only_when_a_tiny_model_wrote_a_caption() -> None:
    human = [_row("blini", "human", "Blini.", [], True)]
    auto = [*human, _row("kvass", "auto", "Kvass.", [], True)]
    assert summarise_captions(_result(auto), tiny_model=True).examples.startswith(TINY_NOTE)
    assert summarise_captions(_result(human), tiny_model=True).examples.startswith("| entity")
    assert summarise_captions(_result(auto), tiny_model=False).examples.startswith("| entity")


def test_only_the_first_rows_are_examples() -> None:
    rows = [_row(f"e{i}", "human", f"Caption {i}.", [], True) for i in range(12)]
    summary = summarise_captions(_result(rows), tiny_model=False)
    assert summary.included == 12
    assert len(summary.examples.splitlines()) == 2 + 10


def test_entity_names_in_order_without_repeats() -> None:
    rows = [{"entity_id": "blini", "native_name": "блины", "english_name": "blini",
             "aliases": ["blini", "блинчики"]}]  # fmt: skip
    assert entity_names(rows) == {"blini": ["блины", "blini", "блинчики"]}
