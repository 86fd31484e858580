"""Text and watermark detection: the planted watermark of the sample set is caught, clean
photos are not, and bad input or a missing language fails clearly."""

import io
from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFont

from craft_dag.collection.samples import build_sample_set
from craft_dag.curation.text_detection import (
    NO_TEXT,
    TesseractTextDetector,
    TextDetectorUnavailable,
    TextFindings,
    tesseract_languages,
    watermark_suspected,
)
from craft_dag.imaging.decode import ImageRejected

# Several categories, so every planted kind lands on its own entity and clean photos of many
# sources (colour, greyscale, textures) are among the "none" images.
ENTITIES = {f"cat{i}": [f"e{i}a", f"e{i}b"] for i in range(6)}
ODD_MODES = ("cmyk", "16bit", "palette_alpha", "webp")


@pytest.fixture(scope="module")
def sample_set(tmp_path_factory: pytest.TempPathFactory):
    dest = tmp_path_factory.mktemp("samples")
    return dest, build_sample_set(dest, ENTITIES)


@pytest.fixture(scope="module")
def detector():
    with TesseractTextDetector(tesseract_languages("ru")) as detector:
        yield detector


def _open(root: Path, path: str) -> Image.Image:
    return Image.open(root / path)


def test_planted_watermark_is_detected(sample_set, detector) -> None:
    root, rows = sample_set
    (row,) = [r for r in rows if r.planted == "watermark"]
    found = detector.detect(_open(root, row.path))
    assert found.words >= 3 and found.text_area >= 0.02, found
    assert found.angle != 0.0  # read through the deskewed fallback pass
    assert watermark_suspected(found)


@pytest.mark.slow  # ~15 s since the band passes (three readings of two bands per photo)
def test_clean_and_odd_mode_photos_have_no_text(sample_set, detector) -> None:
    root, rows = sample_set
    chosen = [r for r in rows if r.planted in ("none", *ODD_MODES)]
    assert len([r for r in chosen if r.planted == "none"]) >= 10
    found = {r.path: detector.detect(_open(root, r.path)) for r in chosen}
    assert {path: f for path, f in found.items() if f.words} == {}


def test_horizontal_text_is_read_without_fallback(detector) -> None:
    image = Image.new("RGB", (640, 240), (235, 230, 220))
    draw = ImageDraw.Draw(image)
    # Latin only: Pillow's bundled default font has no Cyrillic glyphs.
    draw.text((30, 80), "KREMLIN Moscow", font=ImageFont.load_default(size=56), fill=(20, 20, 20))
    found = detector.detect(image)
    assert found.angle == 0.0 and found.words >= 2, found
    assert "moscow" in found.text.casefold()
    assert 0.0 < found.text_area < 1.0 and 60.0 <= found.mean_confidence <= 100.0
    assert not watermark_suspected(found)


def test_broken_image_is_rejected_clearly(detector) -> None:
    buffer = io.BytesIO()
    Image.effect_noise((400, 300), 60).convert("RGB").save(buffer, "JPEG")
    data = buffer.getvalue()
    truncated = Image.open(io.BytesIO(data[: len(data) // 2]))  # header intact, pixels cut
    with pytest.raises(ImageRejected) as caught:
        detector.detect(truncated)
    assert caught.value.reason == "decode_error"


def test_languages_map_iso_codes() -> None:
    assert tesseract_languages("ru") == ("rus", "eng")
    assert tesseract_languages("en") == ("eng",)
    assert tesseract_languages("pt-BR") == ("por", "eng")
    assert tesseract_languages("kaz") == ("kaz", "eng")
    with pytest.raises(ValueError, match="no Tesseract language"):
        tesseract_languages("xx")


def test_missing_language_fails_at_construction(tmp_path: Path) -> None:
    with pytest.raises(TextDetectorUnavailable, match=r"tesseract-ocr-kor"):
        TesseractTextDetector(("kor",), tessdata=tmp_path)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("@STOCKPHOTO ЗТОСКРНО", True),  # stock vocabulary, Cyrillic look-alikes folded
        ("© Ivan Petrov 2019", True),
        ("Getty Images", True),
        ("PHOTO OTOPHOTO HOTOS PHOTOGRAPH", True),  # one piece repeated over the image
        ("Кафе Пушкинъ открыто ежедневно", False),  # a sign
        ("Station information: trains to Moscow depart from platform two", False),
    ],
)
def test_watermark_rule(text: str, expected: bool) -> None:
    found = TextFindings(words=len(text.split()), text_area=0.05, mean_confidence=80, text=text)
    assert watermark_suspected(found) is expected
    assert not watermark_suspected(NO_TEXT)


# --- text over photographs: captions and corner marks, read in the top and bottom bands ------


def _skimage_photo(name: str) -> Image.Image:
    from skimage import data

    return Image.fromarray(getattr(data, name)()).convert("RGB")


def _caption(image: Image.Image, text: str) -> Image.Image:
    """A meme-style caption: white letters, black outline, centred near the bottom."""
    image = image.copy()
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=max(14, image.height // 16))
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font, stroke_width=2)
    x = (image.width - (right - left)) // 2 - left
    y = image.height - (bottom - top) - image.height // 25 - top
    draw.text((x, y), text, font=font, fill="white", stroke_width=2, stroke_fill="black")
    return image


def _corner_mark(
    image: Image.Image, text: str, *, top_left: bool = False, inset: float = 1 / 40
) -> Image.Image:
    """Light text on a translucent dark box in the bottom-right (or top-left) corner, ``inset``
    of the short side from both edges."""
    layer = Image.new("RGBA", image.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    font = ImageFont.load_default(size=max(12, min(image.size) // 20))
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
    pad, margin = 8, round(min(image.size) * inset)
    x = image.width - (right - left) - 2 * pad - margin
    y = image.height - (bottom - top) - 2 * pad - margin
    if top_left:
        x = y = margin
    box = (x, y, x + right - left + 2 * pad, y + bottom - top + 2 * pad)
    draw.rounded_rectangle(box, radius=pad, fill=(20, 20, 20, 110))
    draw.text((x + pad - left, y + pad - top), text, font=font, fill=(255, 255, 255, 200))
    return Image.alpha_composite(image.convert("RGBA"), layer).convert("RGB")


@pytest.mark.parametrize("name", ["astronaut", "coffee", "chelsea"])
def test_a_burnt_in_caption_is_read_as_text_not_a_watermark(detector, name) -> None:
    found = detector.detect(_caption(_skimage_photo(name), "When you finally get the weekend off"))
    assert found.words >= 3 and found.text_area > 0, found
    assert not found.corner and not watermark_suspected(found)


@pytest.mark.parametrize("name", ["astronaut", "coffee", "camera"])
def test_a_corner_mark_is_a_watermark(detector, name) -> None:
    found = detector.detect(_corner_mark(_skimage_photo(name), "PhotoAgency 2019"))
    assert found.corner and watermark_suspected(found), found


def test_a_corner_mark_the_whole_image_pass_reads_is_still_a_watermark() -> None:
    # The whole-image pass reads this one (bands are off here): its boxes, not only the band
    # pass's, place it in the corner.
    image = _corner_mark(_skimage_photo("coffee"), "PhotoAgency 2019", top_left=True)
    with TesseractTextDetector(tesseract_languages("ru"), bands=False) as whole_only:
        found = whole_only.detect(image)
    assert found.words and found.corner and watermark_suspected(found), found


def test_a_corner_mark_ocr_cannot_read_is_found_by_the_layout(detector) -> None:
    from craft_dag.curation.calibration_painters import corner_logo

    # Light text on a translucent box over the rocket's lit scaffolding: Tesseract reads no
    # word of it, in the whole image or the bands, but its layout analysis finds the line.
    params = {"corner": "bl", "font": "dejavu_sans_bold", "opacity": 0.6}
    image = corner_logo(_skimage_photo("rocket"), params | {"text": "fotostock.example"})
    found = detector.detect(image)
    assert found.words == 0 and found.corner_line and watermark_suspected(found), found
    with TesseractTextDetector(tesseract_languages("ru"), corner_lines=False) as reading_only:
        assert not watermark_suspected(reading_only.detect(image))


def test_a_line_across_the_top_is_not_a_corner_mark(detector) -> None:
    boxes = [(40, 10, 200, 40), (220, 10, 470, 40)]  # a headline over most of the width
    assert not detector._in_corner_band(boxes, (512, 512))
    assert detector._in_corner_band(boxes[:1], (512, 512))  # its first word alone: a mark
    assert not detector._in_corner_band([(40, 200, 200, 230)], (512, 512))  # mid-frame text
    # A mark set in 12 % of the width (its unread "©", margin and padding before it).
    assert detector._in_corner_band([(61, 20, 300, 45)], (512, 512))


def test_the_band_pass_is_what_reads_the_caption(detector) -> None:
    image = _caption(_skimage_photo("astronaut"), "When you finally get the weekend off")
    with TesseractTextDetector(tesseract_languages("ru"), bands=False) as whole_only:
        without = whole_only.detect(image)
    assert detector.detect(image).words > without.words


@pytest.mark.slow  # ~7 s: eight photos, each with its band passes
def test_clean_skimage_photos_have_no_text(detector) -> None:
    names = ["astronaut", "camera", "coffee", "chelsea", "rocket", "coins", "moon", "brick"]
    found = {name: detector.detect(_skimage_photo(name)) for name in names}
    assert {name: f for name, f in found.items() if f.words or f.corner_line} == {}


def test_band_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="band_share"):
        TesseractTextDetector(tesseract_languages("ru"), band_share=0.8)
