"""Aspect-ratio buckets: the training shapes of the paper's mixed-resolution stage.

The paper's stage 2 trains at mixed resolutions with ``768^2 <= W x H <= 1024^2``. Every batch
must hold one shape, so images are grouped into buckets: shapes on a grid whose sides are
multiples of 64. The sides must divide evenly by MoVQ's downsampling factor (8): a side that
does not is silently floored by the encoder, and the decoded image comes out smaller than the
caption's image. A spec whose ``multiple`` is not a multiple of 8 is therefore refused outright.

An image goes into a bucket by *resize to cover, then centre-crop*: it is scaled by
``cover_scale`` (the smallest factor at which both sides reach the bucket's) and the overflow is
cropped. Among the buckets the image reaches without being upscaled by more than
``max_upscale``, the one chosen has the aspect ratio closest to the image's (distance
``|log(w/h) - log(W/H)|``, so 2:1 and 1:2 are equally far from 1:1); among equals, the one
needing the least upscaling (none at all counts the same for all: upscaling only adds blur, so
an 800x800 image trains at 768x768, not upscaled to 832x832), then the largest area.

``MAX_UPSCALE = 1.1``: the grid's 64-pixel rounding alone asks for up to ~7.5% upscaling of
some images that meet the paper's area bound (708x834, area 590,472 >= 768^2, reaches no bucket
below x1.074), and the closest-aspect bucket can ask a little more (1000x600 goes to 1088x640 at
x1.088). Up to 10% of bilinear upscaling is below what the autoencoder resolves at these sizes,
and with it every image whose area is at least the paper's 768^2 finds a stage-2 bucket
(tested). An image that would need more is *too small*: ``assign_bucket`` returns ``None`` and
the training set counts it with a reason.
"""

import math
from dataclasses import dataclass

LATENT_FACTOR = 8  # MoVQ (Kandinsky 3's autoencoder) downsamples each side by 8
MAX_UPSCALE = 1.1


@dataclass(frozen=True)
class BucketSpec:
    """A bucket grid: areas in ``[min_area, max_area]``, sides multiples of ``multiple``,
    aspect ratio (long side / short side) at most ``max_aspect``."""

    min_area: int
    max_area: int
    multiple: int = 64
    max_aspect: float = 2.0

    def __post_init__(self) -> None:
        if self.multiple <= 0 or self.multiple % LATENT_FACTOR:
            raise ValueError(
                f"bucket sides must be multiples of {LATENT_FACTOR} (the autoencoder's "
                f"downsampling), got multiple={self.multiple}"
            )
        if not 0 < self.min_area <= self.max_area:
            raise ValueError(f"need 0 < min_area <= max_area, got {self.min_area}, {self.max_area}")
        if self.max_aspect < 1.0:
            raise ValueError(f"max_aspect is long side / short side, >= 1; got {self.max_aspect}")


PAPER_STAGE1 = BucketSpec(768 * 768, 768 * 768, 64, max_aspect=1.0)  # 768x768 only
PAPER_STAGE2 = BucketSpec(768 * 768, 1024 * 1024, 64)


def bucket_grid(spec: BucketSpec) -> list[tuple[int, int]]:
    """Every (width, height) of the grid, sorted ascending by width then height."""
    m = spec.multiple
    # The longest side possible: max_area at the widest allowed aspect.
    longest = math.isqrt(int(spec.max_area * spec.max_aspect)) + m
    sides = range(m, longest + 1, m)
    grid = {
        (w, h)
        for w in sides
        for h in sides
        if spec.min_area <= w * h <= spec.max_area and max(w, h) <= spec.max_aspect * min(w, h)
    }
    return sorted(grid)


def cover_scale(width: int, height: int, bucket: tuple[int, int]) -> float:
    """The factor that makes a ``width x height`` image cover ``bucket`` (then it is cropped)."""
    return max(bucket[0] / width, bucket[1] / height)


def aspect_distance(width: int, height: int, bucket: tuple[int, int]) -> float:
    """``|log(w/h) - log(bw/bh)|``: symmetric in portrait and landscape."""
    return abs(math.log(width / height) - math.log(bucket[0] / bucket[1]))


def assign_bucket(
    width: int,
    height: int,
    spec: BucketSpec,
    *,
    max_upscale: float = MAX_UPSCALE,
    grid: list[tuple[int, int]] | None = None,
) -> tuple[int, int] | None:
    """The bucket for a ``width x height`` image, or ``None`` when it is too small for all.

    Among the buckets the image reaches with ``cover_scale <= max_upscale``: the closest aspect
    ratio, then the least upscaling (any downscaling counts as none), then the largest area,
    then the narrower (so the answer is deterministic).
    ``grid`` may pass a precomputed ``bucket_grid(spec)`` when assigning many images.
    """
    if width <= 0 or height <= 0:
        raise ValueError(f"image size must be positive, got {width}x{height}")
    reachable = [
        b for b in (grid or bucket_grid(spec)) if cover_scale(width, height, b) <= max_upscale
    ]
    if not reachable:
        return None
    # Rounded so two buckets of mathematically equal distance (w/h and its mirror) tie.
    return min(
        reachable,
        key=lambda b: (
            round(aspect_distance(width, height, b), 9),
            max(cover_scale(width, height, b), 1.0),
            -b[0] * b[1],
            b[0],
        ),
    )
