"""The records of a scoring run: what goes in, what was measured, what comes out.

Split out of ``score.py`` (which runs the scorers and decides), and re-exported there:
``ScoreItem`` (an image to score), ``RawScores`` (what the scorers measured), ``ScoredImage``
(the decision on it), ``Scorers`` (the costly scorers to run), and the way back from a
previous run's table row to ``RawScores`` for reuse.
"""

import io
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from craft_dag.curation.metrics import ImageMetrics


@dataclass(frozen=True)
class ScoreItem:
    """One image to score: its key (image id or path), entity, bytes and the entity's texts."""

    key: str
    entity_id: str
    load: Callable[[], bytes]
    texts: tuple[str, ...] = ()  # names and queries, for the relevance scorer


@dataclass(frozen=True)
class RawScores:
    """What the scorers measured; ``None`` where a scorer did not run on the image."""

    status: str  # ok | error
    error: str = ""  # "reason: detail" when status is error
    metrics: ImageMetrics | None = None
    dhash: int | None = None
    phash: int | None = None
    text_words: int | None = None
    text_area: float | None = None
    text: str | None = None
    text_watermark: bool | None = None  # OCR found watermark-like text
    relevance: float | None = None
    watermark: float | None = None
    nsfw: float | None = None
    tiled_overlay: float | None = None  # periodic-overlay detector's score (watermark.py)
    # What the near-duplicate choice compares (measured for CPU-clean members of a group):
    jpeg_quality: float | None = None  # estimated; 100 for lossless formats
    sharpness: float | None = None  # Laplacian variance at keeper.SHARPNESS_SIDE
    crop_of: str | None = None  # key of the group member it is a sub-window of; "" none


@dataclass(frozen=True)
class ScoredImage:
    key: str
    entity_id: str
    scores: RawScores
    decision: str  # keep | reject | review
    reasons: tuple[str, ...]
    quality: float
    dup_group: int = -1  # index of the near-duplicate group, -1 if none
    dup_of: str = ""  # key of the group member that is kept instead of this one
    dup_reason: str = ""  # "kept", or why it lost to dup_of ("smaller", "crop of", ...)
    cross_entity: bool = False  # the duplicate it copies belongs to another entity


@dataclass
class Scorers:
    """The costly scorers; any may be None (switched off, or not available on this host)."""

    text: Any = None  # craft_dag.curation.text_findings.TextDetector
    relevance: Any = None  # craft_dag.curation.relevance.RelevanceScorer
    watermark: Any = None  # craft_dag.curation.classifiers.ImageClassifier
    nsfw: Any = None  # craft_dag.curation.classifiers.ImageClassifier
    overlay: Any = None  # craft_dag.curation.watermark.TiledOverlayDetector
    batch_size: int = 16
    version: str = field(default="", compare=False)  # identifies the scorers, for reuse
    unavailable: tuple[str, ...] = field(default=(), compare=False)  # detectors missing here

    def describe(self) -> dict[str, str]:
        return {
            name: type(getattr(self, name)).__name__ if getattr(self, name) else "off"
            for name in ("text", "relevance", "watermark", "nsfw", "overlay")
        }


def quality_of(metrics: ImageMetrics | None) -> float:
    """Which copy of a near-duplicate group to keep: mostly more pixels, then sharper.

    Copies on the web are mostly resized and recompressed versions of one original, and the
    largest is usually closest to it. Downscaling raises the (normalised) blur score, so
    sharpness weighs little: a tenfold sharper copy beats one about 25% larger in area,
    while a 5% smaller, resampled copy never beats its original.
    """
    if metrics is None:
        return math.nan
    return math.log2(max(1, metrics.width * metrics.height)) + 0.1 * math.log2(1 + metrics.blur)


def raw_scores_from_row(row: Mapping[str, Any]) -> RawScores:
    """The inverse of the table row builder: a previous run's scores, for reuse."""
    metrics = None
    if row.get("status") == "ok" and row.get("width") is not None:
        metrics = ImageMetrics(
            width=row["width"],
            height=row["height"],
            aspect=row["aspect"],
            blur=row["blur"],
            mean_luminance=row["mean_luminance"],
            dark_fraction=row["dark_fraction"],
            bright_fraction=row["bright_fraction"],
            entropy=row["entropy"],
            contrast=row["contrast"],
            # Tables written before the metric existed: NaN, which no rule flags.
            highlight=_or_nan(row.get("highlight")),
            frames=row["frames"],
            mode=row["mode"],
        )
    return RawScores(
        status=row["status"],
        error=row.get("error") or "",
        metrics=metrics,
        dhash=int(row["dhash"], 16) if row.get("dhash") else None,
        phash=int(row["phash"], 16) if row.get("phash") else None,
        text_words=row.get("text_words"),
        text_area=row.get("text_area"),
        text=row.get("text"),
        text_watermark=row.get("text_watermark"),
        relevance=row.get("relevance"),
        watermark=row.get("watermark_score"),
        nsfw=row.get("nsfw"),
        tiled_overlay=row.get("tiled_overlay"),
        jpeg_quality=row.get("jpeg_quality"),
        sharpness=row.get("sharpness"),
        crop_of=row.get("crop_of"),
    )


def _or_nan(value: Any) -> float:
    return math.nan if value is None else float(value)


def bytes_loader(data: bytes) -> Callable[[], bytes]:
    """A ``ScoreItem.load`` for bytes already in memory."""
    return io.BytesIO(data).getvalue
