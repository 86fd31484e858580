"""Image-quality metrics on the sample set's real photos, against the problems planted in them."""

import dataclasses
import io
import statistics
import struct
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from craft_dag.collection.samples import SampleImage, build_sample_set
from craft_dag.curation.metrics import (
    METRIC_NAMES,
    ImageMetrics,
    compute_metrics,
    metrics_from_image,
    to_greyscale,
)
from craft_dag.imaging.decode import ImageRejected

# Six categories of two entities: every planted kind appears at least once.
ENTITIES = {f"cat{c}": [f"c{c}_entity{e}" for e in range(2)] for c in range(6)}
BROKEN = {"truncated": "decode_error", "empty": "not_an_image", "not_an_image": "not_an_image"}


@dataclasses.dataclass(frozen=True)
class Scored:
    row: SampleImage
    data: bytes
    metrics: ImageMetrics


@pytest.fixture(scope="module")
def sample_set(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[SampleImage]]:
    root = tmp_path_factory.mktemp("samples")
    return root, build_sample_set(root, ENTITIES, per_category=2, seed=0)


@pytest.fixture(scope="module")
def scored(sample_set: tuple[Path, list[SampleImage]]) -> list[Scored]:
    """Every decodable image of the set with its metrics."""
    root, rows = sample_set
    result = []
    for row in rows:
        if row.planted in BROKEN:
            continue
        data = (root / row.path).read_bytes()
        result.append(Scored(row, data, compute_metrics(data)))
    return result


def _of(scored: list[Scored], planted: str) -> list[Scored]:
    found = [s for s in scored if s.row.planted == planted]
    assert found, f"the sample set has no {planted!r} image"
    return found


def _clean_values(scored: list[Scored], name: str, source: str | None = None) -> list[float]:
    return [
        getattr(s.metrics, name)
        for s in _of(scored, "none")
        if source is None or s.row.source_file == source
    ]


def encode(image: Image.Image, fmt: str, **params: object) -> bytes:
    out = io.BytesIO()
    image.save(out, format=fmt, **params)
    return out.getvalue()


# --- the clean photos ----------------------------------------------------------------------


def test_clean_photos_have_sane_metrics(scored: list[Scored]) -> None:
    for item in _of(scored, "none"):
        m = item.metrics
        with Image.open(io.BytesIO(item.data)) as image:
            assert (m.width, m.height, m.mode) == (*image.size, image.mode)
        assert m.aspect == pytest.approx(max(m.width, m.height) / min(m.width, m.height))
        assert m.frames == 1
        assert m.blur > 10, item.row.path
        assert 0.05 < m.mean_luminance < 0.7
        assert 0 <= m.dark_fraction < 0.5 and 0 <= m.bright_fraction < 0.1
        assert 4 < m.entropy <= 8
        assert 0.05 < m.contrast < 0.5


def test_metric_names_are_the_numeric_fields_in_order() -> None:
    assert METRIC_NAMES == (
        "width",
        "height",
        "aspect",
        "blur",
        "mean_luminance",
        "dark_fraction",
        "bright_fraction",
        "entropy",
        "contrast",
        "highlight",
        "frames",
    )


# --- planted problems ----------------------------------------------------------------------


def test_blurred_images_score_below_the_clean_ones(scored: list[Scored]) -> None:
    median = statistics.median(_clean_values(scored, "blur"))
    for item in _of(scored, "blurred"):
        same_photo = _clean_values(scored, "blur", item.row.source_file)
        assert all(item.metrics.blur < value for value in same_photo)
        assert item.metrics.blur < median / 10


def test_underexposed_images_are_mostly_dark(scored: list[Scored]) -> None:
    clean_dark = _clean_values(scored, "dark_fraction")
    for item in _of(scored, "underexposed"):
        assert item.metrics.dark_fraction > 0.9
        assert item.metrics.dark_fraction > max(clean_dark)
        assert item.metrics.mean_luminance < min(_clean_values(scored, "mean_luminance"))


def test_overexposed_images_are_largely_blown_out(scored: list[Scored]) -> None:
    clean_bright = _clean_values(scored, "bright_fraction")
    for item in _of(scored, "overexposed"):
        assert item.metrics.bright_fraction > 0.3
        assert item.metrics.bright_fraction > 10 * max(clean_bright)
        assert item.metrics.mean_luminance > max(_clean_values(scored, "mean_luminance"))


def test_low_information_images_have_low_entropy_and_contrast(scored: list[Scored]) -> None:
    for item in _of(scored, "low_information"):
        assert item.metrics.entropy < min(_clean_values(scored, "entropy")) - 2
        assert item.metrics.contrast < 0.01
        assert item.metrics.blur < min(_clean_values(scored, "blur"))


def test_size_and_shape_problems_come_from_the_header(scored: list[Scored]) -> None:
    (small,) = _of(scored, "too_small")
    assert (small.metrics.width, small.metrics.height) == (64, 48)
    (strip,) = _of(scored, "bad_aspect")
    assert (strip.metrics.width, strip.metrics.height) == (1600, 160)
    assert strip.metrics.aspect == pytest.approx(10)


def test_broken_files_are_rejected(sample_set: tuple[Path, list[SampleImage]]) -> None:
    root, rows = sample_set
    for row in rows:
        if row.planted in BROKEN:
            with pytest.raises(ImageRejected) as excinfo:
                compute_metrics((root / row.path).read_bytes())
            assert excinfo.value.reason == BROKEN[row.planted], row.path


def test_a_truncated_image_opened_lazily_is_rejected_too(
    sample_set: tuple[Path, list[SampleImage]],
) -> None:
    root, rows = sample_set
    (row,) = [r for r in rows if r.planted == "truncated"]
    with pytest.raises(ImageRejected):
        metrics_from_image(Image.open(root / row.path))


def test_a_huge_header_is_rejected_before_decoding() -> None:
    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body)
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    # A PNG that claims 9000x9000 pixels and has no pixel data at all.
    header = struct.pack(">IIBBBBB", 9000, 9000, 8, 0, 0, 0, 0)
    data = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b"")
    with pytest.raises(ImageRejected) as excinfo:
        compute_metrics(data)
    assert excinfo.value.reason == "decompression_bomb"


# --- unusual modes -------------------------------------------------------------------------


def test_cmyk_jpeg_matches_its_rgb_rendering(scored: list[Scored]) -> None:
    (item,) = _of(scored, "cmyk")
    assert item.metrics.mode == "CMYK"
    rgb = metrics_from_image(Image.open(io.BytesIO(item.data)).convert("RGB"))
    assert item.metrics.mean_luminance == pytest.approx(rgb.mean_luminance, abs=0.01)
    assert item.metrics.entropy == pytest.approx(rgb.entropy, abs=0.1)


def test_16bit_png_is_scaled_not_clipped(scored: list[Scored]) -> None:
    (item,) = _of(scored, "16bit")
    assert item.metrics.mode == "I;16"
    wide = np.asarray(Image.open(io.BytesIO(item.data)))
    assert wide.dtype == np.uint16 and wide.max() > 255
    eight_bit = Image.fromarray(np.rint(wide / 257).astype(np.uint8), "L")
    reference = compute_metrics(encode(eight_bit, "PNG"))
    assert item.metrics.mean_luminance == pytest.approx(reference.mean_luminance, abs=0.005)
    assert item.metrics.entropy == pytest.approx(reference.entropy, abs=0.05)
    assert item.metrics.blur == pytest.approx(reference.blur, rel=0.05)
    assert item.metrics.bright_fraction < 0.01  # clipping would have made it nearly all white


def test_transparent_palette_image_is_composited_on_white(scored: list[Scored]) -> None:
    (item,) = _of(scored, "palette_alpha")
    assert item.metrics.mode == "P"
    # The corners outside an inscribed ellipse (1 - pi/4 of the image) are transparent.
    assert item.metrics.bright_fraction >= 1 - np.pi / 4 - 0.01
    rgba = Image.open(io.BytesIO(item.data)).convert("RGBA")
    on_white = Image.alpha_composite(Image.new("RGBA", rgba.size, "white"), rgba)
    reference = metrics_from_image(on_white.convert("RGB"))
    assert item.metrics.mean_luminance == pytest.approx(reference.mean_luminance, abs=0.005)


def test_animated_gif_is_measured_on_its_first_frame(scored: list[Scored]) -> None:
    (item,) = _of(scored, "animated")
    assert item.metrics.frames == 3 and item.metrics.mode == "P"
    with Image.open(io.BytesIO(item.data)) as image:
        first = metrics_from_image(image.convert("RGB"))
    assert item.metrics.mean_luminance == pytest.approx(first.mean_luminance, abs=1e-6)
    assert item.metrics.blur == pytest.approx(first.blur)


def test_webp_has_sane_metrics(scored: list[Scored]) -> None:
    (item,) = _of(scored, "webp")
    assert item.metrics.mode == "RGB"
    assert item.metrics.blur > 10 and 4 < item.metrics.entropy <= 8
    same_photo = _clean_values(scored, "mean_luminance", item.row.source_file)
    assert item.metrics.mean_luminance == pytest.approx(statistics.median(same_photo), abs=0.1)


@pytest.mark.parametrize(
    ("mode", "convert"),
    [
        ("1", lambda grey: grey.point(lambda v: 255 if v >= 128 else 0).convert("1")),
        ("L", lambda grey: grey),
        ("LA", lambda grey: grey.convert("LA")),
        ("P", lambda grey: grey.convert("RGB").quantize(256)),
        ("RGB", lambda grey: grey.convert("RGB")),
        ("RGBA", lambda grey: grey.convert("RGBA")),
        ("CMYK", lambda grey: grey.convert("RGB").convert("CMYK")),
        ("YCbCr", lambda grey: grey.convert("RGB").convert("YCbCr")),
        ("I", lambda grey: Image.fromarray(np.asarray(grey).astype(np.int32) * 257, "I")),
        ("I;16", lambda grey: Image.fromarray(np.asarray(grey).astype(np.uint16) * 257)),
        ("F", lambda grey: Image.fromarray(np.asarray(grey).astype(np.float32) / 255, "F")),
    ],
)
def test_every_mode_gives_the_same_grey(
    mode: str, convert: Callable[[Image.Image], Image.Image]
) -> None:
    grey = Image.linear_gradient("L").resize((300, 200))
    image = convert(grey)
    assert image.mode == mode
    expected = 0.5 if mode == "1" else np.asarray(grey).mean() / 255
    assert metrics_from_image(image).mean_luminance == pytest.approx(expected, abs=0.01)


def test_transparent_pixels_count_as_white() -> None:
    clear = Image.new("RGBA", (64, 64), (0, 0, 0, 0))
    m = metrics_from_image(clear)
    assert (m.mean_luminance, m.bright_fraction, m.dark_fraction) == (1.0, 1.0, 0.0)
    assert np.asarray(to_greyscale(clear)).min() == 255


# --- size normalisation --------------------------------------------------------------------


def test_small_images_are_never_upscaled(scored: list[Scored]) -> None:
    (small,) = _of(scored, "too_small")
    assert compute_metrics(small.data, normalise_to=64) == small.metrics
    assert compute_metrics(small.data, normalise_to=4096) == small.metrics


def test_large_images_are_measured_at_the_normalised_size(scored: list[Scored]) -> None:
    photo = max(_of(scored, "none"), key=lambda s: s.metrics.blur)
    shrunk = compute_metrics(photo.data, normalise_to=128)
    assert (shrunk.width, shrunk.height) == (photo.metrics.width, photo.metrics.height)
    assert shrunk.blur != photo.metrics.blur
    assert shrunk.mean_luminance == pytest.approx(photo.metrics.mean_luminance, abs=0.02)


def test_a_4000x3000_jpeg_is_decoded_at_reduced_scale(scored: list[Scored]) -> None:
    photo = max(_of(scored, "none"), key=lambda s: s.metrics.blur)
    big = Image.open(io.BytesIO(photo.data)).convert("RGB").resize((4000, 3000))
    data = encode(big, "JPEG", quality=90)
    m = compute_metrics(data)
    assert (m.width, m.height, m.mode, m.frames) == (4000, 3000, "RGB", 1)
    # The draft (reduced-scale, luma-only) decode agrees with a full decode of the same bytes.
    full = metrics_from_image(Image.open(io.BytesIO(data)))
    assert m.mean_luminance == pytest.approx(full.mean_luminance, abs=0.01)
    assert m.entropy == pytest.approx(full.entropy, abs=0.1)
    assert m.dark_fraction == pytest.approx(full.dark_fraction, abs=0.01)


def test_normalise_to_must_leave_a_laplacian() -> None:
    with pytest.raises(ValueError, match="normalise_to"):
        compute_metrics(encode(Image.new("L", (8, 8)), "PNG"), normalise_to=2)


def test_a_photo_darkened_as_a_whole_is_underexposed_a_night_sky_is_not() -> None:
    """The highlight rule: the brightest 1 % of a darkened photo is dark too; a space photo's
    stars and a moon on black keep it bright, whatever their mean level."""
    from skimage import data as skdata

    from craft_dag.catalog.pack import bundled_pack_path, load_pack
    from craft_dag.curation.decide import cpu_reasons
    from craft_dag.curation.policy import effective

    t = effective(load_pack(bundled_pack_path("ru")).curation, "", {}).values

    def metrics_of(pixels: np.ndarray) -> ImageMetrics:
        out = io.BytesIO()
        Image.fromarray(pixels).save(out, "PNG")
        return compute_metrics(out.getvalue())

    coffee = skdata.coffee().astype(np.float32)
    dark = metrics_of((coffee * 0.22 + 0.5).astype(np.uint8))
    assert dark.mean_luminance > t.min_mean_luminance  # the mean rule alone lets it through
    assert dark.highlight < t.min_highlight
    assert "underexposed" in cpu_reasons(dark, t)
    for name in ("hubble_deep_field", "moon"):
        night = metrics_of(getattr(skdata, name)())
        assert night.highlight >= t.min_highlight, name
        assert "underexposed" not in cpu_reasons(night, t), name
