"""Tiled-overlay detector: a semi-transparent text tiled over a photo scores over the policy's
threshold; the same photos without it, and a single line of text, do not."""

import math

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont
from skimage import data

from craft_dag.curation.policy import Thresholds
from craft_dag.curation.watermark import TiledOverlayDetector, lattice_score
from craft_dag.imaging.decode import ImageRejected

THRESHOLD = Thresholds().max_tiled_overlay
PHOTOS = {
    "astronaut": data.astronaut,
    "camera": data.camera,
    "coffee": data.coffee,
    "chelsea": data.chelsea,
    "rocket": data.rocket,
}


def _photo(name: str) -> Image.Image:
    return Image.fromarray(PHOTOS[name]()).convert("RGB")


def _tiled(image: Image.Image, text: str, opacity: float, angle: float) -> Image.Image:
    """White ``text`` on a rotated half-offset lattice, blended at ``opacity``."""
    w, h = image.size
    side = math.ceil(math.hypot(w, h))
    font = ImageFont.load_default(size=max(14, min(w, h) // 14))
    mask = Image.new("L", (side, side), 0)
    draw = ImageDraw.Draw(mask)
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
    step_x, step_y = right - left + w // 10, (bottom - top) * 3
    for row, y in enumerate(range(0, side, step_y)):
        for x in range(-(row % 2) * step_x // 2, side, step_x):
            draw.text((x, y), text, font=font, fill=255)
    mask = mask.rotate(angle, resample=Image.Resampling.BILINEAR)
    offset_x, offset_y = (side - w) // 2, (side - h) // 2
    mask = mask.crop((offset_x, offset_y, offset_x + w, offset_y + h))
    alpha = mask.point(lambda v: round(v * opacity))
    return Image.composite(Image.new("RGB", (w, h), "white"), image, alpha)


@pytest.fixture(scope="module")
def detector() -> TiledOverlayDetector:
    return TiledOverlayDetector()


@pytest.mark.parametrize(
    ("name", "text", "opacity", "angle"),
    [
        ("astronaut", "© STOCKPHOTO", 0.3, 30.0),
        ("camera", "SAMPLE", 0.25, -20.0),
        ("coffee", "PREVIEW", 0.35, 40.0),
        ("rocket", "photobank", 0.3, 0.0),
    ],
)
def test_a_tiled_watermark_scores_over_the_threshold(detector, name, text, opacity, angle):
    assert THRESHOLD is not None
    marked = _tiled(_photo(name), text, opacity, angle)
    assert detector.score(marked) > THRESHOLD


def test_clean_photos_score_under_the_threshold(detector) -> None:
    scores = {name: detector.score(_photo(name)) for name in PHOTOS}
    assert {n: s for n, s in scores.items() if s > THRESHOLD} == {}


def test_one_line_of_text_is_not_a_lattice(detector) -> None:
    image = _photo("chelsea")
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=28)
    draw.text((20, image.height - 50), "One caption, once", font=font, fill="white")
    assert detector.score(image) <= THRESHOLD


def test_the_score_grows_with_the_overlay_opacity(detector) -> None:
    photo = _photo("astronaut")
    faint, strong = (detector.score(_tiled(photo, "SAMPLE", o, 25.0)) for o in (0.1, 0.4))
    assert strong > faint


def test_a_pure_lattice_scores_high_and_noise_low() -> None:
    rng = np.random.default_rng(0)
    noise = rng.normal(size=(256, 256))
    dots = np.zeros((256, 256))
    dots[::50, ::60] = 1.0  # a lattice with periods (50, 0) and (0, 60)
    assert lattice_score(dots - dots.mean(), min_period=40) > 3 * lattice_score(noise, 40)


def test_tiny_and_unreadable_images(detector) -> None:
    assert detector.score(Image.new("RGB", (40, 40), "grey")) == 0.0
    broken = Image.new("RGB", (10, 10))
    broken.load = lambda: (_ for _ in ()).throw(OSError("truncated"))  # type: ignore[method-assign]
    with pytest.raises(ImageRejected):
        detector.score(broken)
    with pytest.raises(ValueError, match="max_side"):
        TiledOverlayDetector(max_side=100, min_period=40)
