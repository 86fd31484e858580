"""What the ``translated_captions`` asset reports about one category, as plain values.

Kept apart from ``translation.category`` (which makes the table) so the summary can be tested
without translating anything, and so the asset only wraps these values for Dagster.
"""

from dataclasses import dataclass

from craft_dag import markdown
from craft_dag.translation.translate_category import TranslationResult, side_by_side

TINY_NOTE = (
    "Machine translations come from a tiny random model: their text is noise "
    "(rows from the translation memory are human translations).\n\n"
)


@dataclass(frozen=True)
class TranslationSummary:
    trainable: int
    from_translation_memory: int  # rows a person translated, taken before any machine output
    glossary_edits: int  # wrong renderings replaced, over all rows
    glossary_misses: dict[str, int]  # sorted by term, so the metadata reads the same every run
    side_by_side: str  # markdown: native and English examples with their status


def summarise_translations(
    result: TranslationResult, *, source_language: str, target_language: str, tiny_model: bool
) -> TranslationSummary:
    """The counts and side-by-side table of one category's translations.

    ``tiny_model``: the translator is the tiny random test model; when any row is a machine
    translation the table then says its text is noise.
    """
    rows = result.table.to_pylist()
    from_memory = sum(1 for r in rows if r["translation_backend"] == "memory")
    note = TINY_NOTE if tiny_model and from_memory < len(rows) else ""
    header = ["entity", source_language, target_language, "status"]
    return TranslationSummary(
        trainable=sum(1 for r in rows if r["trainable"]),
        from_translation_memory=from_memory,
        glossary_edits=sum(r["glossary_edits"] for r in rows),
        glossary_misses=dict(sorted(result.misses.items())),
        side_by_side=note + markdown.table(header, side_by_side(rows)),
    )
