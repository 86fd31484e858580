"""The ``image_scores`` table: one row per (image, entity) with every score and the decision."""

from collections.abc import Mapping, Sequence
from typing import Any

import pyarrow as pa

from craft_dag.curation.metrics import METRIC_NAMES
from craft_dag.curation.score import ScoredImage

SCORES = "image_scores"

_METRIC_TYPES = {"width": pa.int32(), "height": pa.int32(), "frames": pa.int32()}

SCORES_SCHEMA = pa.schema(
    [
        ("image_id", pa.string()),
        ("entity_id", pa.string()),
        ("category", pa.string()),
        ("status", pa.string()),  # ok | error
        ("error", pa.string()),
        *[(name, _METRIC_TYPES.get(name, pa.float64())) for name in METRIC_NAMES],
        ("mode", pa.string()),
        ("dhash", pa.string()),  # 16 hex digits
        ("phash", pa.string()),
        ("text_words", pa.int32()),
        ("text_area", pa.float64()),
        ("text", pa.string()),
        ("text_watermark", pa.bool_()),
        ("relevance", pa.float64()),
        ("watermark_score", pa.float64()),
        ("nsfw", pa.float64()),
        ("tiled_overlay", pa.float64()),  # periodic-overlay (tiled watermark) detector
        ("jpeg_quality", pa.float64()),  # estimated from the header; 100 for lossless formats
        ("sharpness", pa.float64()),  # Laplacian variance at keeper.SHARPNESS_SIDE
        ("crop_of", pa.string()),  # group member it is a sub-window of; "" tested, not a crop
        ("quality", pa.float64()),
        ("dup_group", pa.int32()),
        ("dup_of", pa.string()),
        ("dup_reason", pa.string()),  # "kept", or why it lost to dup_of
        ("cross_entity_duplicate", pa.bool_()),
        ("decision", pa.string()),  # keep | reject | review
        ("reasons", pa.list_(pa.string())),
        ("thresholds", pa.string()),  # fingerprint of the thresholds in force
        ("scorers", pa.string()),  # which scorers produced the scores (reuse key)
    ]
)


def _hex(value: int | None) -> str | None:
    return None if value is None else f"{value:016x}"


def score_row(s: ScoredImage, **extra: Any) -> dict[str, Any]:
    """One row of the scores table (``extra`` supplies category, thresholds, scorers)."""
    raw = s.scores
    metrics = raw.metrics
    row: dict[str, Any] = {
        "image_id": s.key,
        "entity_id": s.entity_id,
        "status": raw.status,
        "error": raw.error,
        **{name: getattr(metrics, name) if metrics else None for name in METRIC_NAMES},
        "mode": metrics.mode if metrics else None,
        "dhash": _hex(raw.dhash),
        "phash": _hex(raw.phash),
        "text_words": raw.text_words,
        "text_area": raw.text_area,
        "text": raw.text,
        "text_watermark": raw.text_watermark,
        "relevance": raw.relevance,
        "watermark_score": raw.watermark,
        "nsfw": raw.nsfw,
        "tiled_overlay": raw.tiled_overlay,
        "jpeg_quality": raw.jpeg_quality,
        "sharpness": raw.sharpness,
        "crop_of": raw.crop_of,
        "quality": None if s.quality != s.quality else s.quality,  # NaN -> null
        "dup_group": s.dup_group,
        "dup_of": s.dup_of,
        "dup_reason": s.dup_reason,
        "cross_entity_duplicate": s.cross_entity,
        "decision": s.decision,
        "reasons": list(s.reasons),
    }
    row.update(extra)
    return row


def scores_table(
    scored: Sequence[ScoredImage], *, category: str, thresholds: str, scorers: str
) -> pa.Table:
    rows = [score_row(s, category=category, thresholds=thresholds, scorers=scorers) for s in scored]
    return pa.Table.from_pylist(rows, schema=SCORES_SCHEMA)


def decision_counts(table: pa.Table) -> Mapping[str, int]:
    counts = {"keep": 0, "reject": 0, "review": 0}
    for value in table["decision"].to_pylist():
        counts[value] = counts.get(value, 0) + 1
    return counts
