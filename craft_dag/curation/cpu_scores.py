"""Every CPU score of one image (quality metrics and perceptual hashes) from a single decode.

This is the cheap first pass over a whole collection: no OCR, no model. Decoding dominates its
cost, so it decodes once, at a reduced scale where the format allows, and derives everything
from that normalised greyscale image (see ``metrics``).
"""

from dataclasses import dataclass

from craft_dag.curation.metrics import (
    DEFAULT_NORMALISE_TO,
    ImageMetrics,
    NormalisedImage,
    decode_normalised,
    measure,
)
from craft_dag.curation.near_duplicates import dhash, phash
from craft_dag.imaging.decode import DEFAULT_MAX_PIXELS


@dataclass(frozen=True)
class CpuScores:
    metrics: ImageMetrics
    dhash: int
    phash: int


def scores_of(image: NormalisedImage) -> CpuScores:
    """The CPU scores of an image already decoded by ``decode_normalised``."""
    return CpuScores(measure(image), dhash(image.grey), phash(image.grey))


def cpu_scores(
    data: bytes,
    *,
    normalise_to: int = DEFAULT_NORMALISE_TO,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> CpuScores:
    """Quality metrics and both perceptual hashes of ``data``; raise ImageRejected if it is bad."""
    return scores_of(decode_normalised(data, normalise_to=normalise_to, max_pixels=max_pixels))
