"""Score a set of images and decide on each: cheap scores for all, costly ones for survivors.

The order follows cost. Every image is decoded once for the CPU metrics and perceptual hashes
(``cpu_scores``); the CPU rules and near-duplicate grouping then remove what needs no model to
remove. Only the survivors are decoded again in colour for OCR and the model scorers, in
batches. A file that will not decode becomes a row with ``status = "error"`` and its reason,
never an exception: one broken image must not fail a category.

Scores are reusable: pass the previous run's scores as ``prior`` and an image whose scores
were computed by the same scorers is not decoded, OCR'd or embedded again; only its decision
is recomputed, so changing a threshold costs a table join, not a rescoring. A costly score
that an earlier run skipped (the image was rejected then) is computed when the image now
survives.
"""

import io
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from PIL import Image
from scipy.sparse.csgraph import connected_components

from craft_dag.curation.cpu_scores import CpuScores, cpu_scores
from craft_dag.curation.decide import (
    REVIEW,
    cpu_reasons,
    decide,
    model_reasons,
    overlay_reasons,
    text_reasons,
)
from craft_dag.curation.keeper import (
    CROP_FRACTIONS,
    KEPT,
    MemberFacts,
    coarse_thumbnail,
    crop_screen,
    is_crop_of,
    keep_best,
    thumbnail,
)
from craft_dag.curation.metrics import ImageMetrics
from craft_dag.curation.near_duplicates import group_near_duplicates
from craft_dag.curation.policy import EffectiveThresholds
from craft_dag.imaging.decode import ImageRejected, open_untrusted, rejecting
from craft_dag.imaging.greyscale import to_greyscale

TONE_REASONS = frozenset({"underexposed", "overexposed", "low_information"})
"""CPU reasons after which OCR still runs (the image may be a page or a screenshot)."""
COLOUR_MAX_SIDE = 1024
"""Survivors are decoded in colour at most this large for OCR and the models."""
CROP_DECODE_SIDE = 320
"""A group member whose crop screen passed is decoded about this large (JPEG draft scaling)
to verify it."""


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

    text: Any = None  # craft_dag.curation.text_detection.TextDetector
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


def _cpu(item: ScoreItem) -> tuple[RawScores, np.ndarray | None]:
    """The CPU scores, and the coarse thumbnail the crop screen uses (kept only in memory)."""
    try:
        data = item.load()
        scores: CpuScores = cpu_scores(data)
    except ImageRejected as exc:
        return RawScores(status="error", error=f"{exc.reason}: {exc.detail}"), None
    except OSError as exc:
        return RawScores(status="error", error=f"unreadable: {exc}"), None
    raw = RawScores(
        status="ok",
        metrics=scores.metrics,
        dhash=scores.dhash,
        phash=scores.phash,
        jpeg_quality=scores.jpeg_quality,
        sharpness=scores.sharpness,
    )
    return raw, scores.thumbnail


def colour_image(data: bytes, max_side: int = COLOUR_MAX_SIDE) -> Image.Image:
    """The image as RGB (transparency on white), at most ``max_side`` px, for OCR and models."""
    image, fmt = open_untrusted(data)
    with rejecting(fmt):
        if fmt == "JPEG":
            image.draft("RGB", (max_side, max_side))
        image.load()
        if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
            rgba = image.convert("RGBA")
            rgb = Image.new("RGB", rgba.size, "white")
            rgb.paste(rgba, mask=rgba.getchannel("A"))
        elif image.mode.startswith("I;16") or image.mode in ("I", "F"):
            from craft_dag.curation.metrics import to_greyscale

            rgb = to_greyscale(image).convert("RGB")
        else:
            rgb = image.convert("RGB")
        rgb.thumbnail((max_side, max_side))
    return rgb


def _groups(scored: list[tuple[ScoreItem, RawScores]], radius: int) -> list[list[int]]:
    """Near-duplicate groups: close in dHash, confirmed in pHash (both hashes must agree).

    Requiring both keeps false merges rare: a wrong merge silently removes a distinct image,
    and with it some of what the collection knows of an entity.
    """
    ok = [i for i, (_, raw) in enumerate(scored) if raw.status == "ok"]
    rough = group_near_duplicates([scored[i][1].dhash for i in ok], radius)
    confirmed: list[list[int]] = []
    for group in rough:
        members = np.array([ok[g] for g in group])
        phashes = np.array([scored[m][1].phash for m in members], dtype=np.uint64)
        # Components of the pHash-confirmed edges inside the (small) dHash group.
        close = np.bitwise_count(phashes[:, None] ^ phashes[None, :]) <= radius
        count, labels = connected_components(close, directed=False)
        for label in range(count):
            part = members[labels == label]
            if len(part) > 1:
                confirmed.append(sorted(part.tolist()))
    confirmed.sort(key=lambda g: g[0])
    return confirmed


def score_images(
    items: Sequence[ScoreItem],
    thresholds: EffectiveThresholds,
    scorers: Scorers | None = None,
    *,
    prior: Mapping[tuple[str, str], RawScores] | None = None,
    log: Callable[[str], None] = lambda _: None,
) -> list[ScoredImage]:
    """Score ``items`` and decide on each; the result is in the order of ``items``."""
    scorers = scorers or Scorers()
    prior = prior or {}
    t = thresholds.values
    started = time.perf_counter()

    raws: list[RawScores] = []
    # ~1.7 KB per image (48 px greyscale): what lets a group be ranked without a second decode.
    coarse: dict[int, np.ndarray] = {}
    reused = 0
    for n, item in enumerate(items, 1):
        known = prior.get((item.key, item.entity_id))
        if known is not None:
            raws.append(known)
            reused += 1
        else:
            raw, thumb = _cpu(item)
            raws.append(raw)
            if thumb is not None:
                coarse[n - 1] = thumb
        if n % 200 == 0:
            log(f"CPU scores: {n}/{len(items)} images")
    log(
        f"CPU scores: {len(items)} images ({reused} reused from the previous run) "
        f"in {time.perf_counter() - started:.1f} s"
    )

    reasons: list[list[str]] = [
        cpu_reasons(raw.metrics, t) if raw.metrics is not None else [] for raw in raws
    ]
    quality = [quality_of(raw.metrics) for raw in raws]
    groups: list[list[int]] = []
    if t.duplicate_radius is not None:
        groups = _groups(list(zip(items, raws, strict=True)), t.duplicate_radius)

    # Where the near-duplicate choice sits in the cheap-first order: after the costly scores.
    # The copy to keep is the one with no reason of its own, and a watermark or caption is
    # only known once OCR and the detectors have seen the image; chosen before them, a tiled
    # watermark (more edges, so more Laplacian variance) beats its clean original. So every
    # CPU-clean image gets the costly scores, near-duplicate copies included, and only then is
    # each group's keeper chosen. The extra cost is bounded by the copies: groups are a small
    # share of a collection, and the CPU rules still remove everything a model need not see.
    # What the choice itself compares (area, compression, sharpness, a coarse thumbnail) came
    # with the first decode; only a member that the crop screen cannot clear is decoded again.
    survivors = [i for i, raw in enumerate(raws) if raw.status == "ok" and not reasons[i]]
    raws = _costly(items, raws, survivors, scorers, log)
    for i in survivors:
        raw = raws[i]
        reasons[i] += text_reasons(raw.text_words, raw.text_area, raw.text_watermark, t)
        reasons[i] += overlay_reasons(raw.tiled_overlay, t)
        reasons[i] += model_reasons(raw.relevance, raw.watermark, raw.nsfw, t)
    # OCR also reads the images that only their tones removed (overexposed, low-information,
    # underexposed): a scanned page or a screenshot is both by its histogram, and its text is
    # what a curator needs to hear. They are few, and only OCR runs on them (no models).
    toned = [
        i
        for i, raw in enumerate(raws)
        if raw.status == "ok" and reasons[i] and set(reasons[i]) <= TONE_REASONS
    ]
    if scorers.text is not None and toned:
        ocr_only = Scorers(text=scorers.text, batch_size=scorers.batch_size)
        raws = _costly(items, raws, toned, ocr_only, log)
        for i in toned:
            raw = raws[i]
            reasons[i] += text_reasons(raw.text_words, raw.text_area, raw.text_watermark, t)

    group_of: dict[int, int] = {}
    dup_of: dict[int, int] = {}
    dup_reason: dict[int, str] = {}
    cross: set[int] = set()
    if groups:
        facts = {
            i: MemberFacts(
                key=items[i].key,
                reasons=tuple(dict.fromkeys(reasons[i])),
                area=raws[i].metrics.width * raws[i].metrics.height,  # type: ignore[union-attr]
                quality=raws[i].jpeg_quality,
                sharpness=raws[i].sharpness,
                crop_of=raws[i].crop_of,
            )
            for group in groups
            for i in group
        }
        for g, group in enumerate(groups):
            for i in group:
                group_of[i] = g
                dup_reason[i] = KEPT
        crops = _CropSearch(items, coarse)
        choice = keep_best(groups, facts, crops.is_crop)
        for i, parent in choice.crop_of.items():
            if raws[i].crop_of != parent:
                raws[i] = replace(raws[i], crop_of=parent)
        if crops.verified:
            log(f"near-duplicates: {crops.verified} possible crops verified at full detail")
        for i, (keeper, why) in choice.lost.items():
            dup_of[i] = keeper
            dup_reason[i] = why
            reasons[i].append("duplicate")
            if items[i].entity_id != items[keeper].entity_id:
                cross.add(i)
        log(f"near-duplicates: {len(groups)} groups, {len(dup_of)} copies not kept")

    out = []
    for i, (item, raw) in enumerate(zip(items, raws, strict=True)):
        if raw.status != "ok":
            out.append(ScoredImage(item.key, item.entity_id, raw, "reject", (), math.nan))
            continue
        decision = decide(reasons[i], thresholds, needs_review=i in cross)
        out.append(
            ScoredImage(
                item.key,
                item.entity_id,
                raw,
                decision.decision,
                decision.reasons,
                quality[i],
                dup_group=group_of.get(i, -1),
                dup_of=items[dup_of[i]].key if i in dup_of else "",
                dup_reason=dup_reason.get(i, ""),
                cross_entity=i in cross and decision.decision == REVIEW,
            )
        )
    log(f"scored {len(items)} images in {time.perf_counter() - started:.1f} s")
    return out


def _costly(
    items: Sequence[ScoreItem],
    raws: list[RawScores],
    survivors: list[int],
    scorers: Scorers,
    log: Callable[[str], None],
) -> list[RawScores]:
    """Fill in the OCR, detector and model scores the survivors lack, in batches."""
    wanted = {
        "text": scorers.text is not None,
        "relevance": scorers.relevance is not None,
        "watermark": scorers.watermark is not None,
        "nsfw": scorers.nsfw is not None,
        "overlay": scorers.overlay is not None,
    }

    def missing(i: int) -> bool:
        raw = raws[i]
        return (
            (wanted["text"] and raw.text_words is None)
            or (wanted["relevance"] and raw.relevance is None)
            or (wanted["watermark"] and raw.watermark is None)
            or (wanted["nsfw"] and raw.nsfw is None)
            or (wanted["overlay"] and raw.tiled_overlay is None)
        )

    todo = [i for i in survivors if missing(i)]
    if not todo:
        return raws
    from craft_dag.curation.text_detection import watermark_suspected

    raws = list(raws)
    started = time.perf_counter()
    size = max(1, scorers.batch_size)
    for start in range(0, len(todo), size):
        batch = todo[start : start + size]
        images: list[Image.Image] = []
        ready: list[int] = []
        updates: list[dict[str, Any]] = []
        for i in batch:
            try:
                images.append(colour_image(items[i].load()))
                ready.append(i)
            except (ImageRejected, OSError) as exc:
                reason = exc.reason if isinstance(exc, ImageRejected) else "unreadable"
                raws[i] = replace(raws[i], status="error", error=f"{reason}: {exc}")
                continue
            updates.append({})
        if not ready:
            continue
        if wanted["text"]:
            for u, (i, image) in zip(updates, zip(ready, images, strict=True), strict=True):
                if raws[i].text_words is None:
                    found = scorers.text.detect(image)
                    u.update(
                        text_words=found.words,
                        text_area=found.text_area,
                        text=found.text,
                        text_watermark=watermark_suspected(found),
                    )
        if wanted["overlay"]:
            for u, (i, image) in zip(updates, zip(ready, images, strict=True), strict=True):
                if raws[i].tiled_overlay is None:
                    u["tiled_overlay"] = float(scorers.overlay.score(image))
        if wanted["relevance"]:
            values = scorers.relevance.score(images, [items[i].texts for i in ready])
            for u, value in zip(updates, values, strict=True):
                u["relevance"] = float(value)
        for name in ("watermark", "nsfw"):
            if wanted[name]:
                values = getattr(scorers, name).score(images)
                for u, value in zip(updates, values, strict=True):
                    u[name] = float(value)
        for i, u in zip(ready, updates, strict=True):
            raws[i] = replace(
                raws[i], **{k: v for k, v in u.items() if getattr(raws[i], k) is None}
            )
        log(f"OCR and model scores: {min(start + size, len(todo))}/{len(todo)} survivors")
    log(f"OCR and model scores: {len(todo)} images in {time.perf_counter() - started:.1f} s")
    return raws


class _CropSearch:
    """``is_crop(a, b)`` for ``keep_best``: the coarse screen on the thumbnails of the cheap
    pass, then, only where it passes, the verification on thumbnails decoded for it."""

    def __init__(self, items: Sequence[ScoreItem], coarse: dict[int, np.ndarray]) -> None:
        self.items = items
        self.coarse = coarse  # filled in for images whose cheap pass was reused
        self.fine: dict[int, np.ndarray | None] = {}
        self.verified = 0

    def _decode(self, i: int) -> np.ndarray | None:
        if i not in self.fine:
            try:
                image = _grey_for_crop(self.items[i].load())
            except (ImageRejected, OSError):
                image = None  # it cannot be compared; it is then not a crop
            self.fine[i] = thumbnail(image) if image is not None else None
            if image is not None:
                self.coarse.setdefault(i, coarse_thumbnail(image))
        return self.fine[i]

    def is_crop(self, small: int, large: int) -> bool:
        for i in (small, large):
            if i not in self.coarse:
                self._decode(i)
        if small not in self.coarse or large not in self.coarse:
            return False
        widths = crop_screen(self.coarse[small], self.coarse[large])
        if widths is None:
            return False
        self.verified += 1
        a, b = self._decode(small), self._decode(large)
        return (
            a is not None
            and b is not None
            and is_crop_of(a, b, fractions=widths, reverse_fractions=CROP_FRACTIONS)
        )


def _grey_for_crop(data: bytes) -> Image.Image:
    """The image in greyscale at about ``CROP_DECODE_SIDE`` px, for the crop verification.

    Greyscale is all the comparison uses, so a JPEG is decoded in luma only, at the smallest
    DCT scale that is still at least that size; ``thumbnail`` then box-averages it down. Half
    the cost of the colour decode and bicubic shrink of ``colour_image``, and the crop search
    runs inside the cheap pass's budget.
    """
    image, fmt = open_untrusted(data)
    with rejecting(fmt):
        if fmt == "JPEG":
            image.draft("L", (CROP_DECODE_SIDE, CROP_DECODE_SIDE))
        image.load()
        return to_greyscale(image)


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
