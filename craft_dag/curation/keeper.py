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

Everything but the crop relation is a number per image, measured in the cheap pass from the
decode every image gets anyway (``cpu_scores``). The crop relation is between two images and
costs a template search, so ``keep_best`` asks for it lazily: only the best-ranked clean member
is tested, against the other clean members, and only if it turns out to be a crop is the next
one tested. A search first runs on tiny thumbnails (``COARSE_SIDE``) that the cheap pass keeps,
and only a coarse match is verified at ``CROP_SIDE``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PIL import Image

from craft_dag.curation.metrics import laplacian_variance
from craft_dag.imaging.greyscale import to_greyscale

SHARPNESS_SIDE = 256
"""Every member's sharpness is measured with its long side resized (box filter) to this."""
COARSE_SIDE = 48
"""The cheap pass keeps a greyscale thumbnail this large of every image, to screen for crops."""
COARSE_MATCH = 0.7
COARSE_RATIO = 0.5
"""The screen on coarse thumbnails passes what ``is_crop_of`` would call a crop with these
looser limits, for verification at ``CROP_SIDE``. Looser than the verification's: at 48 px a
real crop's window is off by up to a pixel of scale and position, and the screen must not miss
one (a false pass costs only a verification). On the calibration corpus every crop of a clean
copy scores >= 0.81 at 48 px with a residual ratio <= 0.25."""
CROP_SIDE = 160
"""Containment is verified on greyscale thumbnails whose long side is this."""
CROP_MATCH = 0.8
CROP_RATIO = 0.25
"""Verified at ``CROP_SIDE``: the correlation of the sub-window at least ``CROP_MATCH``, and its
residual at most ``CROP_RATIO`` of the reverse fit's (``is_crop_of``). On the calibration corpus
crops of 75-90 % score >= 0.85 with residual ratios <= 0.17, and no original passes as a crop of
any of its copies."""
CROP_FRACTIONS = tuple(np.round(np.arange(0.64, 1.001, 0.03), 2).tolist())
"""The widths (shares of the larger image's) at which a crop is looked for. A window within ~4 %
of the whole image in both sides cannot be told from a copy shifted by a pixel or two, and is
not tried."""
COARSE_FRACTIONS = CROP_FRACTIONS[::2]
"""The screen tries every other width: at 48 px, 6 % of scale is under 3 px of the window."""
COARSE_STEP = round(COARSE_FRACTIONS[1] - COARSE_FRACTIONS[0], 2)
"""The step between ``COARSE_FRACTIONS``."""

KEPT = "kept"


@dataclass(frozen=True)
class MemberFacts:
    """What the choice looks at for one member of a group."""

    key: str
    reasons: tuple[str, ...]  # its own reasons (duplicate aside)
    area: int
    quality: float | None  # estimated JPEG quality 0-100, 100 for lossless; None: not measured
    sharpness: float | None  # Laplacian variance at SHARPNESS_SIDE; None: not measured
    crop_of: str | None = None  # known from a previous run: key it is a crop of, "" none


@dataclass
class KeeperChoice:
    """``lost``: per member not kept, (its keeper's index, why it lost). ``crop_of``: per member
    tested, the key of the member it is a crop of, or "" (not a crop of any clean member)."""

    lost: dict[int, tuple[int, str]] = field(default_factory=dict)
    crop_of: dict[int, str] = field(default_factory=dict)


def _rank(facts: MemberFacts) -> tuple[float, ...]:
    """Higher is better, compared element by element; the crop relation is tested apart."""
    return (
        0.0 if facts.reasons else 1.0,
        float(facts.area),
        _or(facts.quality, -1.0),
        _or(facts.sharpness, -1.0),
    )


def _or(value: float | None, default: float) -> float:
    return default if value is None or math.isnan(value) else float(value)


def keep_best(
    groups: Sequence[Sequence[int]],
    facts: Mapping[int, MemberFacts],
    is_crop: Callable[[int, int], bool] = lambda _small, _large: False,
) -> KeeperChoice:
    """Choose each group's keeper; ``is_crop(a, b)``: whether member ``a`` is a crop of ``b``.

    ``is_crop`` is called only for the best-ranked clean members, each against the other clean
    members, until one is not a crop; a member whose ``crop_of`` is already known is not
    tested again. Ties keep the first member in group order.
    """
    choice = KeeperChoice()
    for group in groups:
        order = sorted(group, key=lambda i: _rank(facts[i]), reverse=True)  # stable on ties
        clean = [i for i in order if not facts[i].reasons]
        keeper = None
        for candidate in clean:
            parent = _crop_parent(candidate, clean, facts, is_crop)
            choice.crop_of[candidate] = facts[parent].key if parent is not None else ""
            if parent is None:
                keeper = candidate
                break
        if keeper is None:  # no clean member (all are rejected anyway), or all crops (a cycle)
            keeper = clean[0] if clean else order[0]
        for i in group:
            if i != keeper:
                cropped = bool(choice.crop_of.get(i))
                choice.lost[i] = (keeper, why_lost(facts[i], facts[keeper], cropped=cropped))
    return choice


def _crop_parent(
    candidate: int,
    clean: Sequence[int],
    facts: Mapping[int, MemberFacts],
    is_crop: Callable[[int, int], bool],
) -> int | None:
    known = facts[candidate].crop_of
    if known is not None:
        return next((m for m in clean if m != candidate and facts[m].key == known), None)
    return next((m for m in clean if m != candidate and is_crop(candidate, m)), None)


def why_lost(loser: MemberFacts, keeper: MemberFacts, *, cropped: bool = False) -> str:
    """The first preference on which ``loser`` ranks below ``keeper``."""
    if loser.reasons and not keeper.reasons:
        return "own reason: " + ",".join(loser.reasons)
    if cropped:
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


def sharpness(image: Image.Image, side: int = SHARPNESS_SIDE) -> float:
    """Laplacian variance of ``image`` in greyscale, long side resized to ``side`` (box filter)."""
    return laplacian_variance(np.asarray(_shrink(to_greyscale(image), side)))


def keeper_measures(grey: Image.Image) -> tuple[float, np.ndarray]:
    """Sharpness at ``SHARPNESS_SIDE`` and the coarse thumbnail, from one greyscale image.

    The thumbnail is made from the sharpness image, not from ``grey``: the same box average,
    at a fraction of the cost (the cheap pass computes this for every image).
    """
    pixels = _shrunk_pixels(grey, SHARPNESS_SIDE)
    return laplacian_variance(pixels), _coarse(pixels)


def _shrunk_pixels(grey: Image.Image, side: int) -> np.ndarray:
    """``_shrink`` as an array. An exact factor that divides both sides is OpenCV's INTER_AREA,
    which at an integer factor is the same box average as Pillow's ``reduce``, pixel for pixel,
    in an eighth of the time (0.02 against 0.14 ms at 512 px)."""
    import cv2

    long_side = max(grey.size)
    factor = long_side // side
    if (
        long_side > side
        and long_side % side == 0
        and grey.width % factor == grey.height % factor == 0
    ):
        size = (grey.width // factor, grey.height // factor)
        return cv2.resize(np.asarray(grey), size, interpolation=cv2.INTER_AREA)
    return np.asarray(_shrink(grey, side))


def _shrink(grey: Image.Image, side: int) -> Image.Image:
    """``grey`` with the long side ``side`` when larger, by a box filter.

    An exact integer factor (the cheap pass's 512 px image to 256) is Pillow's ``reduce``, the
    same box average several times faster than ``resize``. Not OpenCV's INTER_AREA, though it
    is fast too: between one and two input pixels per output pixel it mixes neighbours
    unevenly, and the sharpness of one photo shrunk from 300 px and from 600 px came out 813
    and 1316; Pillow's box filter gives 1773 and 1744.
    """
    long_side = max(grey.size)
    if long_side <= side:
        return grey
    if long_side % side == 0:
        return grey.reduce(long_side // side)
    scale = side / long_side
    size = (max(3, round(grey.width * scale)), max(3, round(grey.height * scale)))
    return grey.resize(size, Image.Resampling.BOX)


def thumbnail(image: Image.Image, side: int = CROP_SIDE) -> np.ndarray:
    """The greyscale thumbnail the crop search compares (float32, long side ``side``).

    Box-resized, then blurred by one pixel: a crop and its original are resampled on grids
    that differ by a fraction of a pixel, and on fine texture (grass, gravel) that alone drops
    their correlation to ~0.65; without the finest detail it is back above 0.85.
    """
    import cv2

    grey = to_greyscale(image)
    scale = side / max(grey.size)
    size = (max(8, round(grey.width * scale)), max(8, round(grey.height * scale)))
    small = np.asarray(grey.resize(size, Image.Resampling.BOX), dtype=np.float32)
    return cv2.GaussianBlur(small, (0, 0), 1.0)


def coarse_thumbnail(image: Image.Image) -> np.ndarray:
    """What the cheap pass keeps of every image for the crop screen: uint8, ``COARSE_SIDE``."""
    return thumbnail(image, COARSE_SIDE).round().astype(np.uint8)


def _coarse(pixels: np.ndarray) -> np.ndarray:
    """``coarse_thumbnail`` of an 8-bit greyscale array, in OpenCV alone (INTER_AREA is the
    box filter for a shrink)."""
    import cv2

    height, width = pixels.shape
    scale = COARSE_SIDE / max(height, width)
    size = (max(8, round(width * scale)), max(8, round(height * scale)))
    small = cv2.resize(pixels, size, interpolation=cv2.INTER_AREA).astype(np.float32)
    return cv2.GaussianBlur(small, (0, 0), 1.0).round().astype(np.uint8)


def crop_score(
    small: np.ndarray, large: np.ndarray, fractions: Sequence[float] = CROP_FRACTIONS
) -> float:
    """The best normalised cross-correlation of ``small`` as a proper sub-window of ``large``.

    ``small`` is resized so its width is each of ``fractions`` of ``large``'s and slid over it
    (OpenCV's ``TM_CCOEFF_NORMED``); -1 when no fraction fits.
    """
    return best_window(small, large, fractions)[0]


def best_window(
    small: np.ndarray, large: np.ndarray, fractions: Sequence[float] = CROP_FRACTIONS
) -> tuple[float, float | None]:
    """``crop_score`` and the width (share of ``large``'s) that gave it; None when none fits."""
    import cv2

    small = small.astype(np.float32, copy=False)
    large = large.astype(np.float32, copy=False)
    height, width = large.shape
    aspect = small.shape[0] / small.shape[1]
    best, best_fraction = -1.0, None
    for fraction in fractions:
        w = round(width * fraction)
        h = round(w * aspect)
        if h > height or w < 8 or h < 8:
            continue
        if h > height * 0.965 and w > width * 0.965:
            continue
        template = cv2.resize(small, (w, h), interpolation=cv2.INTER_AREA)
        if float(template.std()) < 1.0:
            continue  # a flat template matches anything
        score = float(cv2.matchTemplate(large, template, cv2.TM_CCOEFF_NORMED).max())
        if score > best:
            best, best_fraction = score, fraction
    return best, best_fraction


def is_crop_of(
    small: np.ndarray,
    large: np.ndarray,
    threshold: float = CROP_MATCH,
    ratio: float = CROP_RATIO,
    fractions: Sequence[float] = CROP_FRACTIONS,
    reverse_fractions: Sequence[float] | None = None,
) -> bool:
    """Whether ``small``'s content is a proper sub-window of ``large``'s, at any scale tried.

    ``fractions`` are the widths tried for ``small`` inside ``large``; ``reverse_fractions``
    (default: the same) those for the reverse fit.

    Containment is one-way: ``small`` must fit inside ``large`` (correlation >= ``threshold``)
    and fit much better than ``large`` fits inside ``small`` (residual ``1 - r`` at most
    ``ratio`` times the reverse one). A smooth image (a retina scan, a sky) resized by a few
    per cent still correlates above 0.95 with a window of itself, in both directions; only a
    real crop is explained by a window far better than the other way round.
    """
    forward = crop_score(small, large, fractions)
    if forward < threshold:
        return False
    reverse = fractions if reverse_fractions is None else reverse_fractions
    backward = max(0.0, crop_score(large, small, reverse))
    return (1.0 - forward) <= ratio * (1.0 - backward) + 1e-6


def is_crop_screen(small: np.ndarray, large: np.ndarray) -> bool:
    """The cheap screen on coarse thumbnails: could ``small`` be a crop of ``large``?"""
    return crop_screen(small, large) is not None


def crop_screen(small: np.ndarray, large: np.ndarray) -> tuple[float, ...] | None:
    """The screen of ``is_crop_screen``; where it passes, the widths the verification tries.

    Those are the ``CROP_FRACTIONS`` within two fine steps of the coarse best: the verification
    is the costly half of the crop search (13 widths at 160 px, in both directions), and a real
    crop's width at 160 px is within one coarse step (6 %) of its width at 48 px. Only the
    forward search is narrowed: a narrower one can only find less, so it never makes a copy a
    crop. The reverse fit keeps every width, because a lower reverse score would.
    """
    forward, fraction = best_window(small, large, COARSE_FRACTIONS)
    if forward < COARSE_MATCH or fraction is None:
        return None
    backward = max(0.0, crop_score(large, small, COARSE_FRACTIONS))
    if (1.0 - forward) > COARSE_RATIO * (1.0 - backward) + 1e-6:
        return None
    return tuple(f for f in CROP_FRACTIONS if abs(f - fraction) <= COARSE_STEP + 1e-9)


# The plain choice by one quality value per member (moved here from near_duplicates.py, which
# re-exports it): what a caller with a single score, not keep_best's facts, uses.
def choose_keepers(groups: list[list[int]], quality: Sequence[Any]) -> dict[int, int]:
    """For every member that is not kept: the index of the member of its group that is.

    Each group keeps its highest-quality member (ties: the lower index). ``quality`` holds
    floats or tuples compared element by element (``keep_best`` ranks by a tuple of
    preferences). A NaN float counts as the lowest, so an image whose score could not be
    computed is never kept over one whose score could.
    """
    replaced: dict[int, int] = {}
    seen: set[int] = set()
    for group in groups:
        for index in group:
            if index in seen:
                raise ValueError(f"index {index} is in more than one group")
            if not 0 <= index < len(quality):
                raise IndexError(f"index {index} has no quality score")
            seen.add(index)
        if not group:
            continue
        ordered = sorted(group)
        best = ordered[0]
        for index in ordered[1:]:
            if _score(quality[index]) > _score(quality[best]):
                best = index
        for index in group:
            if index != best:
                replaced[index] = best
    return replaced


def _score(value: Any) -> Any:
    if isinstance(value, tuple):
        return value
    return -math.inf if math.isnan(value) else float(value)
