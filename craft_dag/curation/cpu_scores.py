"""Every CPU score of one image (quality metrics and perceptual hashes) from a single decode.

This is the cheap first pass over a whole collection: no OCR, no model. Decoding dominates its
cost, so it decodes once, at a reduced scale where the format allows, and derives everything
from that normalised greyscale image (see ``metrics``).
"""

from dataclasses import dataclass, field

import numpy as np

from craft_dag.curation.keeper import keeper_measures
from craft_dag.curation.metrics import (
    DEFAULT_NORMALISE_TO,
    ImageMetrics,
    NormalisedImage,
    decode_normalised,
    measure,
)
from craft_dag.curation.near_duplicates import dhash, phash
from craft_dag.imaging.decode import DEFAULT_MAX_PIXELS, ImageRejected, open_untrusted
from craft_dag.imaging.jpeg_quality import estimate_quality


@dataclass(frozen=True)
class CpuScores:
    metrics: ImageMetrics
    dhash: int
    phash: int
    # What the near-duplicate keeper compares (keeper.py), measured here because this is the
    # one decode every image gets: a group's members need no second decode to be ranked.
    sharpness: float | None = None  # Laplacian variance at keeper.SHARPNESS_SIDE
    jpeg_quality: float | None = None  # from the header's quantisation tables
    thumbnail: np.ndarray | None = field(default=None, compare=False)  # the crop screen's


def scores_of(image: NormalisedImage, data: bytes = b"") -> CpuScores:
    """The CPU scores of an image already decoded by ``decode_normalised``."""
    sharp, thumb = keeper_measures(image.grey)
    return CpuScores(
        measure(image),
        dhash(image.grey),
        phash(image.grey),
        sharpness=sharp,
        jpeg_quality=_jpeg_quality(data) if data else None,
        thumbnail=thumb,
    )


def _jpeg_quality(data: bytes) -> float | None:
    # Opening parses the header (quantisation tables included) and decodes no pixel.
    try:
        image, _ = open_untrusted(data)
    except ImageRejected:
        return None
    return estimate_quality(image, data)


def cpu_scores(
    data: bytes,
    *,
    normalise_to: int = DEFAULT_NORMALISE_TO,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> CpuScores:
    """Quality metrics and both perceptual hashes of ``data``; raise ImageRejected if it is bad."""
    decoded = decode_normalised(data, normalise_to=normalise_to, max_pixels=max_pixels)
    return scores_of(decoded, data)
