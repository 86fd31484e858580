"""Aspect-ratio buckets: the grid, the assignment, and shapes the autoencoder divides evenly."""

import pytest

from craft_dag.training.buckets import (
    LATENT_FACTOR,
    PAPER_STAGE1,
    PAPER_STAGE2,
    BucketSpec,
    assign_bucket,
    bucket_grid,
    cover_scale,
)

# Areas 16^2..24^2, sides multiples of 8, aspect <= 2, enumerated by hand:
# w=8 needs h >= 32 (area) but h <= 16 (aspect); w=16: h in 16, 24, 32; w=24: h in 16, 24
# (24x32 = 768 > 576); w=32: h=16; w=40: 40x16 = 640 > 576 and 40x8 breaks the aspect.
TINY = BucketSpec(min_area=16 * 16, max_area=24 * 24, multiple=8)
TINY_GRID = [(16, 16), (16, 24), (16, 32), (24, 16), (24, 24), (32, 16)]


def test_tiny_grid_by_hand() -> None:
    assert bucket_grid(TINY) == TINY_GRID


def test_stage1_is_768_square_only() -> None:
    assert bucket_grid(PAPER_STAGE1) == [(768, 768)]


def test_stage2_grid_bounds() -> None:
    grid = bucket_grid(PAPER_STAGE2)
    assert grid == sorted(set(grid))
    assert {(768, 768), (1024, 1024), (1408, 704), (704, 1408), (1344, 768)} <= set(grid)
    # 1408x768 = 1,081,344 > 1024^2; 1472x704 has aspect 2.09 > 2; 704x832 = 585,728 < 768^2.
    assert not {(1408, 768), (1472, 704), (704, 832)} & set(grid)
    for w, h in grid:
        assert 768 * 768 <= w * h <= 1024 * 1024
        assert max(w, h) <= 2 * min(w, h)
        assert (h, w) in grid


@pytest.mark.parametrize("spec", [PAPER_STAGE1, PAPER_STAGE2, TINY])
def test_every_bucket_divides_into_whole_latents(spec: BucketSpec) -> None:
    for w, h in bucket_grid(spec):
        assert w % spec.multiple == 0 and h % spec.multiple == 0
        assert w % LATENT_FACTOR == 0 and h % LATENT_FACTOR == 0
        assert (w // LATENT_FACTOR) * LATENT_FACTOR == w


@pytest.mark.parametrize("multiple", [0, 12, 60])
def test_spec_refuses_sides_the_autoencoder_would_floor(multiple: int) -> None:
    with pytest.raises(ValueError, match="multiples of 8"):
        BucketSpec(256, 1024, multiple=multiple)


@pytest.mark.parametrize(
    ("size", "bucket"),
    [
        # Square buckets reachable from 800: 768 (x0.96), 832 (x1.04); 896 needs x1.12 > 1.1.
        # 768 needs no upscaling, so it wins over the larger 832.
        ((800, 800), (768, 768)),
        ((768, 768), (768, 768)),
        ((2048, 2048), (1024, 1024)),
        # 1000x600 (5:3): 1088x640 is log-distance 0.020 away, 1024x640 0.041; x1.088 <= 1.1.
        ((1000, 600), (1088, 640)),
        ((600, 1000), (640, 1088)),
        # 3:1 is beyond every bucket: the widest, 2:1 at the largest area that fits, is chosen.
        ((3000, 1000), (1408, 704)),
        # 768 / 600 = 1.28 > 1.1: too small for stage 2.
        ((600, 600), None),
        # 1:2 buckets: 640x1280 (x0.914) and 704x1408 (x1.0057): no upscaling wins.
        ((700, 1400), (640, 1280)),
        ((1400, 700), (1280, 640)),
        # 1400x1400 reaches every square bucket without upscaling: the largest.
        ((1400, 1400), (1024, 1024)),
    ],
)
def test_assign_stage2_by_hand(size: tuple[int, int], bucket: tuple[int, int] | None) -> None:
    assert assign_bucket(*size, PAPER_STAGE2) == bucket


def test_assign_tiny_by_hand() -> None:
    assert assign_bucket(16, 16, TINY) == (16, 16)
    assert assign_bucket(30, 30, TINY) == (24, 24)  # 16 (x0.53) and 24 (x0.8): the larger
    assert assign_bucket(40, 20, TINY) == (32, 16)
    assert assign_bucket(14, 14, TINY) is None  # 16 / 14 = 1.14 > 1.1
    assert assign_bucket(14, 14, TINY, max_upscale=1.2) == (16, 16)


def test_every_image_meeting_the_paper_area_finds_a_bucket() -> None:
    grid = bucket_grid(PAPER_STAGE2)
    for w in range(540, 1500, 13):
        for h in range(540, 1500, 13):
            if w * h >= 768 * 768 and max(w, h) <= 2 * min(w, h):
                bucket = assign_bucket(w, h, PAPER_STAGE2, grid=grid)
                assert bucket is not None, (w, h)
                assert cover_scale(w, h, bucket) <= 1.1


def test_assign_refuses_empty_images() -> None:
    with pytest.raises(ValueError):
        assign_bucket(0, 10, PAPER_STAGE2)
