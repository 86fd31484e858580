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
from craft_dag.curation.perceptual_hash import dhash, phash
from craft_dag.imaging.decode import DEFAULT_MAX_PIXELS


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


def scores_of(image: NormalisedImage) -> CpuScores:
    """The CPU scores of an image already decoded by ``decode_normalised``."""
    sharp, thumb = keeper_measures(image.grey)
    return CpuScores(
        measure(image),
        dhash(image.grey),
        phash(image.grey),
        sharpness=sharp,
        jpeg_quality=image.jpeg_quality,
        thumbnail=thumb,
    )


def cpu_scores(
    data: bytes,
    *,
    normalise_to: int = DEFAULT_NORMALISE_TO,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> CpuScores:
    """Quality metrics and both perceptual hashes of ``data``; raise ImageRejected if it is bad."""
    decoded = decode_normalised(data, normalise_to=normalise_to, max_pixels=max_pixels)
    return scores_of(decoded)
