"""The automatic decision for one image: keep, reject or review, with reasons.

Every rule compares one score with one named threshold (``policy.Thresholds``), so a curator
can see which number removed an image and change it. A rule whose threshold is ``None`` is
off; a rule whose score is missing (a scorer that was not run) cannot fire. A reason listed in
the policy's ``review_reasons`` sends the image to a person instead of out, and so does a
near-duplicate that another entity shares (which entity is it really? a person decides).
"""

from dataclasses import dataclass

from craft_dag.curation.metrics import ImageMetrics
from craft_dag.curation.policy import REASONS, EffectiveThresholds, Thresholds

KEEP, REJECT, REVIEW = "keep", "reject", "review"
DECISIONS = (KEEP, REJECT, REVIEW)


def cpu_reasons(metrics: ImageMetrics, t: Thresholds) -> list[str]:
    """The reasons the CPU metrics alone give, in vocabulary order."""
    reasons = []
    short_side = min(metrics.width, metrics.height)
    if t.min_short_side is not None and short_side < t.min_short_side:
        reasons.append("too_small")
    if t.max_aspect is not None and metrics.aspect > t.max_aspect:
        reasons.append("bad_aspect")
    if t.min_blur is not None and metrics.blur < t.min_blur:
        reasons.append("blurry")
    if (
        (t.min_mean_luminance is not None and metrics.mean_luminance < t.min_mean_luminance)
        or (t.max_dark_fraction is not None and metrics.dark_fraction > t.max_dark_fraction)
        or (t.min_highlight is not None and metrics.highlight < t.min_highlight)
    ):
        reasons.append("underexposed")
    if (t.max_mean_luminance is not None and metrics.mean_luminance > t.max_mean_luminance) or (
        t.max_bright_fraction is not None and metrics.bright_fraction > t.max_bright_fraction
    ):
        reasons.append("overexposed")
    if (t.min_entropy is not None and metrics.entropy < t.min_entropy) or (
        t.min_contrast is not None and metrics.contrast < t.min_contrast
    ):
        reasons.append("low_information")
    return reasons


def text_reasons(
    words: int | None, area: float | None, watermark_like: bool | None, t: Thresholds
) -> list[str]:
    """``text`` for legible text over the limits; ``watermark`` when the OCR finds a watermark."""
    reasons = []
    if watermark_like:
        reasons.append("watermark")
    elif (t.max_text_words is not None and words is not None and words > t.max_text_words) or (
        t.max_text_area is not None and area is not None and area > t.max_text_area
    ):
        reasons.append("text")
    return reasons


def overlay_reasons(score: float | None, t: Thresholds) -> list[str]:
    """``watermark`` when the tiled-overlay detector's score is over its threshold."""
    if t.max_tiled_overlay is not None and score is not None and score > t.max_tiled_overlay:
        return ["watermark"]
    return []


def model_reasons(
    relevance: float | None, watermark: float | None, nsfw: float | None, t: Thresholds
) -> list[str]:
    """Reasons from the model scorers, each only when its score exists."""
    reasons = []
    if (
        t.max_watermark_score is not None
        and watermark is not None
        and watermark > t.max_watermark_score
    ):
        reasons.append("watermark")
    if t.min_relevance is not None and relevance is not None and relevance < t.min_relevance:
        reasons.append("not_relevant")
    if t.max_nsfw is not None and nsfw is not None and nsfw > t.max_nsfw:
        reasons.append("nsfw")
    return reasons


@dataclass(frozen=True)
class Decision:
    decision: str  # keep | reject | review
    reasons: tuple[str, ...]  # in vocabulary order, no repeats


def decide(
    reasons: list[str], policy: EffectiveThresholds, *, needs_review: bool = False
) -> Decision:
    """Reject on any reason not meant for review; else review on any reason; else keep."""
    ordered = tuple(r for r in REASONS if r in set(reasons))
    unknown = set(reasons) - set(REASONS)
    if unknown:
        raise ValueError(f"unknown reason(s) {sorted(unknown)}: the vocabulary is {REASONS}")
    review_only = set(policy.review_reasons)
    if any(r not in review_only for r in ordered if not (needs_review and r == "duplicate")):
        return Decision(REJECT, ordered)
    if ordered or needs_review:
        return Decision(REVIEW, ordered)
    return Decision(KEEP, ordered)
