"""The near-duplicate keeper: the undegraded original is kept, and every copy names why it lost.

Real photographs from scikit-image's data module (inside the wheel), with copies made here.
"""

import io

import numpy as np
import pytest
from PIL import Image, ImageFilter
from skimage import data as skdata

from craft_dag.catalog.pack import bundled_pack_path, load_pack
from craft_dag.curation.cpu_scores import cpu_scores
from craft_dag.curation.keeper import (
    CROP_FRACTIONS,
    KEPT,
    MemberFacts,
    _shrink,
    _shrunk_pixels,
    coarse_thumbnail,
    crop_screen,
    is_crop_of,
    is_crop_screen,
    keep_best,
    keeper_measures,
    sharpness,
    thumbnail,
)
from craft_dag.curation.policy import effective
from craft_dag.curation.report import near_duplicates_markdown
from craft_dag.curation.score import ScoreItem, Scorers, bytes_loader, score_images
from craft_dag.curation.tables import score_row
from craft_dag.imaging.jpeg_quality import UNKNOWN_QUALITY, estimate_quality


def _png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def _jpeg(image: Image.Image, quality: int) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality)
    return out.getvalue()


def _open(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


@pytest.fixture(scope="module")
def coffee() -> Image.Image:
    return Image.fromarray(skdata.coffee())  # 600 x 400, a real photograph


@pytest.fixture(scope="module")
def thresholds():
    return effective(load_pack(bundled_pack_path("ru")).curation, "", {})


def _crop(image: Image.Image, keep: float, left: float = 0.3, top: float = 0.6) -> Image.Image:
    w, h = image.size
    cw, ch = round(w * keep), round(h * keep)
    x, y = round((w - cw) * left), round((h - ch) * top)
    return image.crop((x, y, x + cw, y + ch))


# --- the measurements ---------------------------------------------------------------------


@pytest.mark.parametrize("quality", [20, 50, 75, 90, 97])
def test_jpeg_quality_is_read_from_libjpeg_tables(coffee: Image.Image, quality: int) -> None:
    assert estimate_quality(_open(_jpeg(coffee, quality))) == quality


def test_jpeg_quality_of_lossless_and_webp_files(coffee: Image.Image) -> None:
    assert estimate_quality(_open(_png(coffee))) == 100.0
    lossless, lossy = io.BytesIO(), io.BytesIO()
    coffee.save(lossless, "WEBP", lossless=True)
    coffee.save(lossy, "WEBP", quality=80)
    assert estimate_quality(_open(lossless.getvalue()), lossless.getvalue()) == 100.0
    assert estimate_quality(_open(lossy.getvalue()), lossy.getvalue()) == UNKNOWN_QUALITY


@pytest.mark.parametrize("quality", [40, 90])
def test_the_cheap_pass_reads_the_jpeg_quality_in_its_one_decode(
    coffee: Image.Image, quality: int
) -> None:
    data = _jpeg(coffee, quality)
    assert cpu_scores(data).jpeg_quality == quality
    lossless = io.BytesIO()
    coffee.save(lossless, "WEBP", lossless=True)
    assert cpu_scores(lossless.getvalue()).jpeg_quality == 100.0


def test_sharpness_is_compared_at_a_common_scale(coffee: Image.Image) -> None:
    # At its own size a downscale has more Laplacian variance per pixel than its original;
    # at the common scale the two are alike (area, not sharpness, prefers the original), and a
    # blurred copy of the same size is told apart.
    half = coffee.resize((300, 200), Image.Resampling.LANCZOS)
    blurred = coffee.filter(ImageFilter.GaussianBlur(1.5))
    assert sharpness(half, side=10_000) > 1.1 * sharpness(coffee, side=10_000)
    assert sharpness(half) == pytest.approx(sharpness(coffee), rel=0.05)
    assert sharpness(blurred) < 0.5 * sharpness(coffee)


def test_keeper_measures_match_the_plain_functions(coffee: Image.Image) -> None:
    grey = coffee.convert("L")
    sharp, thumb = keeper_measures(grey)
    assert sharp == pytest.approx(sharpness(grey), rel=1e-12)
    assert thumb.dtype == np.uint8 and max(thumb.shape) == 48
    # Box filters from another starting size: equal up to rounding of the 8-bit levels.
    reference = coarse_thumbnail(grey).astype(int)
    assert thumb.shape == reference.shape
    assert np.abs(thumb.astype(int) - reference).mean() < 1.0


@pytest.mark.parametrize("keep", [0.7, 0.8, 0.9])
def test_a_crop_is_found_and_containment_is_one_way(coffee: Image.Image, keep: float) -> None:
    crop = _crop(coffee, keep)
    # Web copies of a crop are often resized; upscaled back to the original's width here.
    upscaled = crop.resize(coffee.size, Image.Resampling.BICUBIC)
    for copy in (crop, upscaled):
        assert is_crop_screen(coarse_thumbnail(copy), coarse_thumbnail(coffee))
        assert is_crop_of(thumbnail(copy), thumbnail(coffee))
        assert not is_crop_of(thumbnail(coffee), thumbnail(copy))


@pytest.mark.parametrize("keep", [0.7, 0.8, 0.9])
def test_the_screen_narrows_the_verification_to_widths_around_the_crop(
    coffee: Image.Image, keep: float
) -> None:
    crop = _crop(coffee, keep)
    widths = crop_screen(coarse_thumbnail(crop), coarse_thumbnail(coffee))
    assert widths is not None
    assert set(widths) < set(CROP_FRACTIONS) and len(widths) <= 5
    # The crop's own width is among them, and the narrowed search finds what the full one does.
    assert min(abs(w - crop.width / coffee.width) for w in widths) <= 0.03
    small, large = thumbnail(crop), thumbnail(coffee)
    assert is_crop_of(small, large, fractions=widths, reverse_fractions=CROP_FRACTIONS)
    assert is_crop_of(small, large)
    # A copy of the whole frame does not pass the screen.
    downscale = coffee.resize((420, 280), Image.Resampling.LANCZOS)
    assert crop_screen(coarse_thumbnail(downscale), coarse_thumbnail(coffee)) is None


@pytest.mark.parametrize("size", [(512, 512), (512, 342), (341, 512), (512, 341), (300, 200)])
def test_the_sharpness_image_is_pillows_box_reduction_pixel_for_pixel(size) -> None:
    grey = Image.fromarray(skdata.camera()).resize(size, Image.Resampling.BILINEAR)
    fast, reference = _shrunk_pixels(grey, 256), np.asarray(_shrink(grey, 256))
    assert fast.shape == reference.shape
    assert (fast == reference).all()


def test_copies_of_the_whole_frame_are_not_crops(coffee: Image.Image) -> None:
    copies = {
        "downscale": coffee.resize((420, 280), Image.Resampling.LANCZOS),
        "jpeg": _open(_jpeg(coffee, 60)),
        "blur": coffee.filter(ImageFilter.GaussianBlur(2)),
        "dark": Image.fromarray((np.asarray(coffee) * 0.3).astype(np.uint8)),
    }
    for name, copy in copies.items():
        assert not is_crop_of(thumbnail(copy), thumbnail(coffee)), name
        assert not is_crop_of(thumbnail(coffee), thumbnail(copy)), name


def test_a_smooth_image_resized_is_not_taken_for_a_crop() -> None:
    # A retina scan is smooth: a few per cent of zoom still correlates > 0.95 with a window of
    # itself, in both directions. Only a one-way fit is a crop.
    retina = Image.fromarray(skdata.retina()[100:500, 100:500])
    for side in (360, 300):
        smaller = retina.resize((side, side), Image.Resampling.LANCZOS)
        assert not is_crop_of(thumbnail(retina), thumbnail(smaller)), side
        assert not is_crop_of(thumbnail(smaller), thumbnail(retina)), side
    zoomed = _crop(retina, 0.9, 0.5, 0.5).resize(retina.size, Image.Resampling.BICUBIC)
    assert is_crop_of(thumbnail(zoomed), thumbnail(retina))
    assert not is_crop_of(thumbnail(retina), thumbnail(zoomed))


# --- the order of preferences ---------------------------------------------------------------


def _facts(key: str, reasons=(), area=100, quality=100.0, sharp=10.0) -> MemberFacts:
    return MemberFacts(key, tuple(reasons), area, quality, sharp)


@pytest.mark.parametrize(
    ("loser", "why"),
    [
        (_facts("x", reasons=("watermark",), area=10_000, sharp=99.0), "own reason: watermark"),
        (_facts("x", area=99), "smaller"),
        (_facts("x", quality=80.0), "more compressed"),
        (_facts("x", sharp=9.0), "blurrier"),
    ],
)
def test_each_preference_decides_when_the_earlier_ones_tie(loser: MemberFacts, why: str) -> None:
    original = _facts("original")
    choice = keep_best([[0, 1]], {0: loser, 1: original})
    assert choice.lost == {0: (1, why)}


def test_a_crop_never_beats_the_image_it_was_cut_from() -> None:
    # The crop was upscaled: it is larger and, resampled, as sharp. Still the original wins.
    facts = {0: _facts("crop", area=200, sharp=20.0), 1: _facts("original")}
    calls: list[tuple[int, int]] = []

    def is_crop(small: int, large: int) -> bool:
        calls.append((small, large))
        return (small, large) == (0, 1)

    choice = keep_best([[0, 1]], facts, is_crop)
    assert choice.lost == {0: (1, "crop of")}
    assert choice.crop_of == {0: "original", 1: ""}
    assert calls == [(0, 1), (1, 0)]  # the best-ranked first, then the next one only


def test_the_crop_search_is_lazy_and_reuses_what_is_known() -> None:
    facts = {i: _facts(f"m{i}", area=100 - i) for i in range(5)}
    calls: list[tuple[int, int]] = []
    choice = keep_best([list(range(5))], facts, lambda a, b: calls.append((a, b)) or False)
    assert {a for a, _ in calls} == {0}  # only the best member was tested
    assert choice.lost == {i: (0, "smaller") for i in range(1, 5)}
    known = {**facts, 0: MemberFacts("m0", (), 100, 100.0, 10.0, crop_of="m1")}
    calls.clear()
    choice = keep_best([list(range(5))], known, lambda a, b: calls.append((a, b)) or False)
    assert calls and {a for a, _ in calls} == {1}  # m0's relation came from the previous run
    assert choice.lost[0] == (1, "crop of")


def test_a_group_with_no_clean_member_still_names_a_keeper() -> None:
    facts = {0: _facts("a", reasons=("blurry",)), 1: _facts("b", reasons=("text",), area=200)}
    choice = keep_best([[0, 1]], facts)
    assert choice.lost == {0: (1, "smaller")}


# --- end to end, through score_images ---------------------------------------------------------


class _FlagsTheseImages:
    """A stand-in for a watermark detector: flags exactly the images it is given."""

    def __init__(self, *flagged: Image.Image) -> None:
        self.flagged = [np.asarray(image.convert("RGB")) for image in flagged]

    def score(self, images):
        return [
            1.0 if any(np.array_equal(np.asarray(im), f) for f in self.flagged) else 0.0
            for im in images
        ]


def test_the_undegraded_original_is_kept_and_every_copy_names_it(coffee) -> None:
    # Global hashes group a crop only when it keeps ~95 % of the frame; a curator who wants
    # crops of 90 % grouped widens the radius, and then the crop rule is what keeps the original.
    policy = load_pack(bundled_pack_path("ru")).curation
    thresholds = effective(policy, "", {"duplicate_radius": 20})
    crop = _crop(coffee, 0.9, 0.5, 0.5)
    watermarked = coffee.copy()
    pixels = np.asarray(watermarked).copy()
    pixels[::24, :] = 255  # a fine periodic overlay: more edges, so *more* Laplacian variance
    watermarked = Image.fromarray(pixels)
    gain = np.asarray(coffee, dtype=np.float32)
    copies = {
        "original.png": _png(coffee),
        "crop_upscaled.png": _png(crop.resize((660, 440), Image.Resampling.BICUBIC)),
        "downscale.png": _png(coffee.resize((480, 320), Image.Resampling.LANCZOS)),
        "recompressed.jpg": _jpeg(coffee, 70),
        "blurred.png": _png(coffee.filter(ImageFilter.GaussianBlur(1.2))),
        "dark.png": _png(Image.fromarray((gain * 0.12).astype(np.uint8))),
        "bright.png": _png(Image.fromarray(np.clip(gain * 3.0, 0, 255).astype(np.uint8))),
        "watermarked.png": _png(watermarked),
    }
    assert sharpness(watermarked) > sharpness(coffee)  # the trap the old keeper fell into
    items = [ScoreItem(k, "samovar", bytes_loader(v)) for k, v in copies.items()]
    scorers = Scorers(watermark=_FlagsTheseImages(watermarked))
    rows = {s.key: s for s in score_images(items, thresholds, scorers)}

    kept = rows["original.png"]
    assert kept.decision == "keep", kept.reasons
    assert kept.dup_reason == KEPT and kept.dup_group >= 0
    expected = {
        "crop_upscaled.png": "crop of",
        "downscale.png": "smaller",
        "recompressed.jpg": "more compressed",
        "blurred.png": "blurrier",  # mildly: not blurry enough for a reason of its own
    }
    for key, row in rows.items():
        if key == "original.png":
            continue
        assert row.dup_group == kept.dup_group, key
        assert row.dup_of == "original.png", key
        assert "duplicate" in row.reasons and row.decision == "reject", key
        if key in expected:
            assert row.dup_reason == expected[key], (key, row.dup_reason)
        else:  # dark, bright, watermarked: each loses on a reason of its own
            assert row.dup_reason.startswith("own reason: "), (key, row.dup_reason)
    assert "watermark" in rows["watermarked.png"].dup_reason
    assert rows["crop_upscaled.png"].scores.crop_of == "original.png"

    # What the curator sees in the materialisation's metadata.
    report = near_duplicates_markdown([score_row(s) for s in rows.values()])
    assert report.startswith("1 groups, 7 copies not kept.")
    assert "| crop of | 1 |" in report and "| own reason | 3 |" in report
    assert "| original.png | 8 |" in report and "downscale.png (smaller)" in report
