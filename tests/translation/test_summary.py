"""The ``translated_captions`` asset's summary: counts, misses and the side-by-side table."""

from collections import Counter

import pyarrow as pa

from craft_dag.translation.summary import TINY_NOTE, summarise_translations
from craft_dag.translation.translate_category import TranslationResult


def _row(entity: str, backend: str, trainable: bool, edits: int) -> dict:
    return {"entity_id": entity, "caption_native": f"{entity} по-русски",
            "caption_en": f"{entity} in English", "translation_backend": backend,
            "trainable": trainable, "glossary_edits": edits,
            "excluded_reason": "" if trainable else "glossary miss"}  # fmt: skip


def _result(rows: list[dict]) -> TranslationResult:
    return TranslationResult(table=pa.Table.from_pylist(rows), misses=Counter({"щи": 1, "квас": 2}))


def _summary(rows: list[dict], tiny_model: bool = False):
    return summarise_translations(
        _result(rows), source_language="ru", target_language="en", tiny_model=tiny_model
    )


def test_counts_misses_and_table() -> None:
    rows = [_row("blini", "memory", True, 0), _row("kvass", "tiny", False, 2),
            _row("shchi", "tiny", True, 1)]  # fmt: skip
    summary = _summary(rows)
    assert (summary.trainable, summary.from_translation_memory, summary.glossary_edits) == (2, 1, 3)
    assert list(summary.glossary_misses.items()) == [("квас", 2), ("щи", 1)]
    table = summary.side_by_side.splitlines()
    assert table[0] == "| entity | ru | en | status |"
    assert table[3] == "| kvass | kvass по-русски | kvass in English | glossary miss |"


def test_tiny_note_only_when_a_machine_translated_a_row() -> None:
    memory = [_row("blini", "memory", True, 0)]
    machine = [*memory, _row("kvass", "tiny", True, 0)]
    assert _summary(machine, tiny_model=True).side_by_side.startswith(TINY_NOTE)
    assert _summary(memory, tiny_model=True).side_by_side.startswith("| entity")
    assert _summary(machine, tiny_model=False).side_by_side.startswith("| entity")
