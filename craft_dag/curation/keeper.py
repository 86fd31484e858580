"""Which member of a near-duplicate group to keep, and why each other member lost.

A web collection holds an original and its copies: crops, downscales, recompressions, blurred,
darkened or watermarked versions. The copy worth training on is the original, and no single
quality number finds it: a tiled watermark adds edges, so a watermarked copy has *more*
Laplacian variance than its clean original. The choice is an order of preferences instead,
each looked at only when the ones before it tie:

1. a member with a reject reason of its own (blurry, exposure, text, watermark, too small, ...)
   never beats one without;
2. a crop never beats the image it was cut from (its content is a sub-window of another
   member's: ``is_crop_of``);
3. larger area (most copies on the web are resized down from the original);
4. less compression (JPEG quality estimated from the quantisation tables; lossless formats
   count as 100);
5. sharper *at a common scale*: the Laplacian variance of each member resized to the same
   size (``SHARPNESS_SIDE``), since the raw variance of a smaller copy is higher only because
   its pixels are coarser.

``keep_best`` returns, per member that is not kept, the keeper and the first preference on
which it lost (``dup_reason``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image

from craft_dag.curation.metrics import _laplacian_variance, to_greyscale
from craft_dag.curation.near_duplicates import choose_keepers

SHARPNESS_SIDE = 256
"""Every member's sharpness is measured with its long side resized (box filter) to this."""
CROP_SIDE = 160
"""Containment is checked on greyscale thumbnails whose long side is this."""
CROP_MATCH = 0.9
"""Normalised cross-correlation at least this: the smaller image is a sub-window of the other."""
CROP_FRACTIONS = tuple(np.round(np.arange(0.64, 1.001, 0.03), 2).tolist())
"""The widths (shares of the larger image's) at which a crop is looked for. A window within ~4 %
of the whole image in both sides cannot be told from a copy shifted by a pixel or two, and is
not tried."""
UNKNOWN_QUALITY = 75.0
"""A lossy file whose compression cannot be read (lossy WebP): taken as a typical web quality."""

KEPT = "kept"


@dataclass(frozen=True)
class MemberFacts:
    """What the choice looks at for one member of a group."""

    key: str
    reasons: tuple[str, ...]  # its own reasons (duplicate aside)
    area: int
    quality: float | None  # estimated JPEG quality 0-100, 100 for lossless; None: not measured
    sharpness: float | None  # Laplacian variance at SHARPNESS_SIDE; None: not measured
    crop_of: str | None = None  # key of the member whose sub-window it is, "" if none


def _rank(facts: MemberFacts, group_keys: set[str]) -> tuple[float, ...]:
    """Higher is better, compared element by element (choose_keepers's convention)."""
    cropped = bool(facts.crop_of) and facts.crop_of in group_keys
    return (
        0.0 if facts.reasons else 1.0,
        0.0 if cropped else 1.0,
        float(facts.area),
        _or(facts.quality, -1.0),
        _or(facts.sharpness, -1.0),
    )


def _or(value: float | None, default: float) -> float:
    return default if value is None or math.isnan(value) else float(value)


def keep_best(
    groups: Sequence[Sequence[int]], facts: Mapping[int, MemberFacts]
) -> dict[int, tuple[int, str]]:
    """Per member not kept: (index of its group's keeper, why it lost to it)."""
    lost: dict[int, tuple[int, str]] = {}
    ranks: dict[int, tuple[float, ...]] = {}
    for group in groups:
        keys = {facts[i].key for i in group}
        for i in group:
            ranks[i] = _rank(facts[i], keys)
    size = max((i for g in groups for i in g), default=-1) + 1
    # choose_keepers compares ranks with >; members outside the groups are never looked at.
    filler: tuple[float, ...] = ()
    keepers = choose_keepers([list(g) for g in groups], [ranks.get(i, filler) for i in range(size)])
    for loser, keeper in keepers.items():
        lost[loser] = (keeper, why_lost(facts[loser], facts[keeper]))
    return lost


def why_lost(loser: MemberFacts, keeper: MemberFacts) -> str:
    """The first preference on which ``loser`` ranks below ``keeper``."""
    if loser.reasons and not keeper.reasons:
        return "own reason: " + ",".join(loser.reasons)
    if loser.crop_of and not keeper.crop_of:
        return "crop of"
    if loser.area < keeper.area:
        return "smaller"
    if _or(loser.quality, -1.0) < _or(keeper.quality, -1.0):
        return "more compressed"
    if _or(loser.sharpness, -1.0) < _or(keeper.sharpness, -1.0):
        return "blurrier"
    if loser.reasons:
        return "own reason: " + ",".join(loser.reasons)  # every member has one
    return "identical"


# --- the measurements ------------------------------------------------------------------------

# The IJG (libjpeg) luminance table at quality 50: what every encoder built on libjpeg
# (Pillow, ImageMagick, most cameras' firmware) scales for its quality setting.
_IJG_LUMA = np.array(
    [
        16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55,
        14, 13, 16, 24, 40, 57, 69, 56, 14, 17, 22, 29, 51, 87, 80, 62,
        18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
        49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99,
    ],
    dtype=np.float64,
)  # fmt: skip


def _ijg_sums() -> np.ndarray:
    sums = []
    for quality in range(1, 101):
        scale = 5000 / quality if quality < 50 else 200 - 2 * quality
        table = np.clip(np.floor((_IJG_LUMA * scale + 50) / 100), 1, 255)
        sums.append(table.sum())
    return np.array(sums)


_IJG_SUMS = _ijg_sums()
_LOSSLESS = frozenset({"PNG", "BMP", "TIFF", "GIF", "PPM", "TGA", "QOI"})


def estimate_quality(image: Image.Image, data: bytes = b"") -> float | None:
    """The JPEG quality (1-100) an image was saved at, from its luminance quantisation table.

    The table's sum is compared with the IJG table's at every quality: the estimate is exact
    for libjpeg-made files and monotone for any other encoder (smaller quantisers, higher
    quality), which is all a comparison between copies needs. Lossless formats give 100;
    a lossy WebP (its ``VP8 `` chunk, not ``VP8L``) gives ``UNKNOWN_QUALITY``.
    """
    fmt = image.format or ""
    if fmt == "JPEG":
        tables = getattr(image, "quantization", None) or {}
        luma = tables.get(0)
        if not luma:
            return None
        total = float(np.sum(np.asarray(luma, dtype=np.float64)))
        return float(np.argmin(np.abs(_IJG_SUMS - total)) + 1)
    if fmt in _LOSSLESS:
        return 100.0
    if fmt == "WEBP":
        return 100.0 if data[12:16] == b"VP8L" else UNKNOWN_QUALITY
    return None


def sharpness(image: Image.Image, side: int = SHARPNESS_SIDE) -> float:
    """Laplacian variance of ``image`` in greyscale, long side resized to ``side`` (box filter)."""
    grey = to_greyscale(image)
    scale = side / max(grey.size)
    if scale < 1:
        size = (max(3, round(grey.width * scale)), max(3, round(grey.height * scale)))
        grey = grey.resize(size, Image.Resampling.BOX)
    return _laplacian_variance(np.asarray(grey))


def thumbnail(image: Image.Image, side: int = CROP_SIDE) -> np.ndarray:
    """The greyscale thumbnail ``is_crop_of`` compares (float32, long side ``side``)."""
    grey = to_greyscale(image)
    scale = side / max(grey.size)
    size = (max(8, round(grey.width * scale)), max(8, round(grey.height * scale)))
    return np.asarray(grey.resize(size, Image.Resampling.BOX), dtype=np.float32)


def is_crop_of(small: np.ndarray, large: np.ndarray, threshold: float = CROP_MATCH) -> bool:
    """Whether ``small``'s content is a proper sub-window of ``large``'s, at any scale tried.

    ``small`` is resized so its width is each of ``CROP_FRACTIONS`` of ``large``'s and slid
    over it (OpenCV's normalised cross-correlation, ``TM_CCOEFF_NORMED``).
    """
    import cv2

    height, width = large.shape
    aspect = small.shape[0] / small.shape[1]
    for fraction in CROP_FRACTIONS:
        w = round(width * fraction)
        h = round(w * aspect)
        if h > height or w < 16 or h < 16:
            continue
        if h > height * 0.965 and w > width * 0.965:
            continue
        template = cv2.resize(small, (w, h), interpolation=cv2.INTER_AREA)
        if float(template.std()) < 1.0:
            continue  # a flat template matches anything
        score = cv2.matchTemplate(large, template, cv2.TM_CCOEFF_NORMED)
        if float(score.max()) >= threshold:
            return True
    return False


def crop_relations(thumbnails: Mapping[str, np.ndarray]) -> dict[str, str]:
    """Per key: the key of another image it is a crop of, or "" (the first found, by key)."""
    out = {}
    for key, small in thumbnails.items():
        out[key] = ""
        for other, large in sorted(thumbnails.items()):
            if other != key and is_crop_of(small, large):
                out[key] = other
                break
    return out
