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

Where the parts live: the records (``ScoreItem``, ``RawScores``, ``ScoredImage``, ``Scorers``)
in ``score_records``, the costly pass in ``score_costly``, the near-duplicate groups and the
crop search in ``score_duplicates``. This module runs them in order and decides; it
re-exports their public names.
"""

import math
import time
from collections.abc import Callable, Mapping, MutableMapping, Sequence
from dataclasses import replace

import numpy as np

from craft_dag.curation.cpu_scores import CpuScores, cpu_scores
from craft_dag.curation.decide import (
    REVIEW,
    cpu_reasons,
    decide,
    model_reasons,
    overlay_reasons,
    text_reasons,
)
from craft_dag.curation.keeper import KEPT, MemberFacts, keep_best
from craft_dag.curation.policy import EffectiveThresholds
from craft_dag.curation.score_costly import COLOUR_MAX_SIDE, colour_image, costly_scores
from craft_dag.curation.score_duplicates import CROP_DECODE_SIDE, CropSearch, confirmed_groups
from craft_dag.curation.score_records import (
    RawScores,
    ScoredImage,
    ScoreItem,
    Scorers,
    bytes_loader,
    quality_of,
    raw_scores_from_row,
)
from craft_dag.imaging.decode import ImageRejected

# The public names of this module before it was split: importers keep using them from here.
__all__ = [
    "COLOUR_MAX_SIDE",
    "CROP_DECODE_SIDE",
    "TONE_REASONS",
    "RawScores",
    "ScoreItem",
    "ScoredImage",
    "Scorers",
    "bytes_loader",
    "colour_image",
    "quality_of",
    "raw_scores_from_row",
    "score_images",
]

TONE_REASONS = frozenset({"underexposed", "overexposed", "low_information"})
"""CPU reasons after which OCR still runs (the image may be a page or a screenshot)."""


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


def score_images(
    items: Sequence[ScoreItem],
    thresholds: EffectiveThresholds,
    scorers: Scorers | None = None,
    *,
    prior: Mapping[tuple[str, str], RawScores] | None = None,
    thumbnails: MutableMapping[tuple[str, str], np.ndarray] | None = None,
    log: Callable[[str], None] = lambda _: None,
) -> list[ScoredImage]:
    """Score ``items`` and decide on each; the result is in the order of ``items``.

    ``thumbnails``, by (key, entity): the crop screen's coarse thumbnails. Read for the images
    whose scores are in ``prior``, so that their near-duplicate groups are ranked without a
    second decode (a member without one is decoded again if its group needs it); filled in for
    the images decoded here, so that a caller can keep them beside the scores.
    """
    scorers = scorers or Scorers()
    prior = prior or {}
    t = thresholds.values
    started = time.perf_counter()

    raws: list[RawScores] = []
    # ~1.7 KB per image (48 px greyscale): what lets a group be ranked without a second decode.
    coarse: dict[int, np.ndarray] = {}
    reused = 0
    for n, item in enumerate(items, 1):
        key = (item.key, item.entity_id)
        known = prior.get(key)
        if known is not None:
            raws.append(known)
            reused += 1
            if thumbnails is not None and key in thumbnails:
                coarse[n - 1] = thumbnails[key]
        else:
            raw, thumb = _cpu(item)
            raws.append(raw)
            if thumb is not None:
                coarse[n - 1] = thumb
                if thumbnails is not None:
                    thumbnails[key] = thumb
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
        groups = confirmed_groups(list(zip(items, raws, strict=True)), t.duplicate_radius)

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
    raws = costly_scores(items, raws, survivors, scorers, log)
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
        raws = costly_scores(items, raws, toned, ocr_only, log)
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
        crops = CropSearch(items, coarse)
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
