"""Translate one category's captions in storage, with the glossary enforced and checked.

Only the captions that passed the guideline linter are translated. A caption already in the
target language (an automatic English caption) is carried over as it is. Every translation is
post-edited against the pack's glossary (known wrong renderings replaced by the required term)
and checked again; a row with a glossary miss left, an empty or truncated output, or output
not in the target language is kept in the table with its reason but marked not trainable.
"""

import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from craft_dag.captioning.caption_category import CAPTIONS
from craft_dag.curation.filtering import IMAGE_FIELDS
from craft_dag.storage import Storage
from craft_dag.translation.memory import TranslationMemory
from craft_dag.translation.translator import glossary_checked, translate_with_glossary

TRANSLATED = "translated_captions"

TRANSLATED_SCHEMA = pa.schema(
    [
        *IMAGE_FIELDS,
        ("caption_source", pa.string()),  # human | auto
        ("caption_native", pa.string()),  # in the pack's source language ("" for auto captions)
        ("caption_en", pa.string()),  # in the target language, after the glossary post-edit
        ("machine_translation", pa.string()),  # the model's output before the post-edit
        ("translation_backend", pa.string()),
        ("translation_model", pa.string()),
        ("glossary_hits", pa.list_(pa.string())),  # source terms found (dictionary form)
        ("glossary_edits", pa.int32()),  # wrong renderings replaced
        ("glossary_misses", pa.list_(pa.string())),  # terms not rendered as required
        ("language", pa.string()),  # detected language of caption_en
        ("language_confidence", pa.float64()),
        ("length_ratio", pa.float64()),
        ("empty", pa.bool_()),
        ("truncated", pa.bool_()),
        ("qe_score", pa.float64()),
        ("trainable", pa.bool_()),
        ("excluded_reason", pa.string()),
    ]
)


@dataclass
class RowTranslations:
    """What a ``translate_rows`` hook returns: the model's output by (image, entity), and why
    a row has none."""

    raw: dict[tuple[str, str], str]
    failed: dict[tuple[str, str], str] = field(default_factory=dict)
    backend: str = ""  # the translator's name and model, as the workers built it
    model: str = ""


@dataclass
class TranslationResult:
    table: pa.Table
    counts: Counter = field(default_factory=Counter)
    misses: Counter = field(default_factory=Counter)


def translate_category(
    store: Storage,
    category: str,
    *,
    translator: Any,
    settings: Any,
    matcher: Any,
    target_language: str,
    min_language_confidence: float = 0.5,
    signals: Callable[..., Any],
    memory: TranslationMemory | None = None,
    translate_rows: Callable[[list[dict]], RowTranslations] | None = None,
    log: Callable[[str], None] = lambda _: None,
) -> TranslationResult:
    """Translate ``captions[category]`` into ``translated_captions[category]``.

    ``matcher`` is a ``craft_dag.translation.glossary.GlossaryMatcher`` for the pack;
    ``signals(source, translation)`` returns ``QualitySignals``; a caption found in ``memory``
    takes the human translation and skips the model (the glossary check still runs).
    ``translate_rows(rows)``, when given, makes the model's translations instead of
    ``translator`` in this process (``craft_dag.parallel.translation``: by shard on Ray); a row
    it could not translate is kept, not trainable, with the reason.
    """
    rows = [r for r in store.read_table(CAPTIONS, category).to_pylist() if r["included"]]
    memory = memory or TranslationMemory()
    native = [r for r in rows if r["caption_language"] != target_language]
    remembered = {
        (r["image_id"], r["entity_id"]): entry
        for r in native
        if (entry := memory.lookup(r["caption"])) is not None
    }
    to_translate = [r for r in native if (r["image_id"], r["entity_id"]) not in remembered]
    if remembered:
        log(f"translation memory: {len(remembered)} of {len(native)} captions")
    started = time.perf_counter()
    translated = {
        key: glossary_checked(source_row["caption"], remembered[key].translation, matcher)
        for source_row in native
        if (key := (source_row["image_id"], source_row["entity_id"])) in remembered
    }
    failed: dict[tuple[str, str], str] = {}
    backend = getattr(translator, "name", "")
    model = getattr(translator, "model", "")
    if to_translate and translate_rows is not None:
        found = translate_rows(to_translate)
        failed, backend, model = found.failed, found.backend, found.model
        translated.update(
            {
                key: glossary_checked(r["caption"], found.raw[key], matcher)
                for r in to_translate
                if (key := (r["image_id"], r["entity_id"])) in found.raw
            }
        )
    elif to_translate:
        done = translate_with_glossary(
            translator, [r["caption"] for r in to_translate], settings, matcher
        )
        translated.update(
            {(r["image_id"], r["entity_id"]): t for r, t in zip(to_translate, done, strict=True)}
        )
    if to_translate:
        log(
            f"translated {len(to_translate) - len(failed)} captions with {model} "
            f"in {time.perf_counter() - started:.1f} s"
        )

    result = TranslationResult(pa.table({}))
    table_rows = []
    for r in rows:
        done = translated.get((r["image_id"], r["entity_id"]))
        if (r["image_id"], r["entity_id"]) in failed:  # the model never answered for it
            source, output, english, hits, edits, misses = r["caption"], "", "", [], 0, []
        elif done is not None:
            source, output, english = done.source, done.raw, done.text
            hits = sorted({h.source for h in done.hits})
            edits, misses = len(done.edits), sorted({m.source for m in done.misses})
        else:  # already in the target language: carried over as it is
            source, output, english, hits, edits, misses = "", "", r["caption"], [], 0, []
        quality = signals(source or english, english)
        reasons = []
        if (why := failed.get((r["image_id"], r["entity_id"]))) is not None:
            reasons.append(f"translation failed: {why}")
        if misses:
            reasons.append("glossary miss: " + ";".join(misses))
        if quality.empty:
            reasons.append("empty")
        if quality.truncated:
            reasons.append("truncated")
        if (
            quality.language != target_language
            or quality.language_confidence < min_language_confidence
        ):
            reasons.append(f"language {quality.language} ({quality.language_confidence:.2f})")
        result.misses.update(misses)
        result.counts["trainable" if not reasons else "not trainable"] += 1
        table_rows.append(
            {
                "image_id": r["image_id"],
                "entity_id": r["entity_id"],
                "category": category,
                "blob_key": r["blob_key"],
                "width": r["width"],
                "height": r["height"],
                "caption_source": r["caption_source"],
                "caption_native": source,
                "caption_en": english,
                "machine_translation": output,
                "translation_backend": (
                    "memory"
                    if (key := (r["image_id"], r["entity_id"])) in remembered
                    else (backend if done or key in failed else "none (already in target)")
                ),
                "translation_model": (
                    remembered[key].where
                    if key in remembered
                    else (model if done or key in failed else "")
                ),
                "glossary_hits": hits,
                "glossary_edits": edits,
                "glossary_misses": misses,
                "language": quality.language,
                "language_confidence": quality.language_confidence,
                "length_ratio": quality.length_ratio,
                "empty": quality.empty,
                "truncated": quality.truncated,
                "qe_score": quality.qe_score,
                "trainable": not reasons,
                "excluded_reason": "; ".join(reasons),
            }
        )
    result.table = pa.Table.from_pylist(table_rows, schema=TRANSLATED_SCHEMA)
    store.write_table(TRANSLATED, category, result.table)
    return result


def side_by_side(rows: Sequence[dict[str, Any]], limit: int = 8) -> list[tuple[str, str, str, str]]:
    """(entity, native, English, status) for a metadata table: examples people can read."""
    return [
        (
            r["entity_id"],
            r["caption_native"] or "(auto, English)",
            r["caption_en"],
            "ok" if r["trainable"] else r["excluded_reason"],
        )
        for r in rows[:limit]
    ]
