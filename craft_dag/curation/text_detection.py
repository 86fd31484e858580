"""Text and watermark detection with Tesseract OCR.

The CRAFT paper drops images with overlaid text and watermarks: a text-to-image model trained
on them learns to draw captions and stock-photo marks. Two reasons come out of this module:
``text`` (legible text in the image) and ``watermark`` (text tiled over the image, or stock
agency vocabulary), told apart by ``watermark_suspected``. What a reading found
(``TextFindings``) and that test live in ``text_findings``, where the language data is in
``tessdata``; this module is the detector, and re-exports their public names.

How an image is read, at a bounded cost of at most ``7 + len(fallback_angles)`` OCR passes
and two layout passes:

1. the greyscale image, as it is, at 0°: ordinary horizontal text (signs, captions, banners);
2. only if that finds at most ``band_words`` words, the top and bottom bands (each
   ``band_share`` of the height) alone, upscaled ``band_scale`` times: as they are, then
   thresholded at a near-white level (white text), and as a white top-hat, keeping the
   reading with the most words. Burnt-in captions (white text, black outline) and corner marks sit
   there: on the whole photo Tesseract's page segmentation takes them for part of the picture
   and reads nothing (0 words on 18 captions and 18 corner logos of the calibration corpus),
   while on the band alone it reads 18 of 18 of each at 2x (``bench_curation_quality``).
   Where a band gives at most one word, Tesseract's layout analysis (no reading) looks in it
   for a line of text set in a corner: a mark it lays out but cannot read (``corner_line``);
3. only if that finds no word, a *white top-hat* of the image (bright thin strokes kept, the
   photo underneath removed), inverted to dark-on-white and deskewed by each fallback angle in
   turn, stopping at the first that finds words. Stock watermarks are semi-transparent white
   text tilted by some 30-45°: Tesseract does not read tilted text, and its global
   binarisation loses faint light text on a light photo. Measured on the demo's sample set,
   plain OCR finds nothing of the planted watermark at 0° or ±30°; the top-hat at -30° reads
   "@STOCKPHOTO" several times, and finds no word on any clean photo at any angle.

Wrapper: ``tesserocr`` (Tesseract's C++ API through Cython), not ``pytesseract``. Measured on
this project's 2-core machine over the sample set's photos (~512x700 px), pytesseract costs
~230 ms per call, mostly starting the ``tesseract`` process and loading the rus+eng models
each time; tesserocr keeps one initialised API and costs ~13 ms per plain pass (~60 ms per
top-hat pass). Its wheels bundle libtesseract, so only the language data must be installed.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from dataclasses import replace

import numpy as np
from PIL import Image

from craft_dag.curation.metrics import to_greyscale
from craft_dag.curation.ocr_languages import (  # re-exported from their first home here
    TESSERACT_LANGUAGES as TESSERACT_LANGUAGES,
)
from craft_dag.curation.ocr_languages import tesseract_languages as tesseract_languages
from craft_dag.curation.tessdata import find_tessdata
from craft_dag.curation.text_findings import (
    NO_TEXT,
    WORD_CHARACTERS,
    TextFindings,
)
from craft_dag.curation.text_findings import (  # re-exported: their first home was here
    WATERMARK_VOCABULARY as WATERMARK_VOCABULARY,
)
from craft_dag.curation.text_findings import TextDetector as TextDetector
from craft_dag.curation.text_findings import (
    TextDetectorUnavailable as TextDetectorUnavailable,
)
from craft_dag.curation.text_findings import watermark_suspected as watermark_suspected
from craft_dag.imaging.decode import ImageRejected

_MAX_TEXT = 200


class TesseractTextDetector:
    """Text detection with Tesseract through ``tesserocr``; see the module docstring.

    ``min_confidence`` (0-100) and a minimum of two letters or digits per word keep OCR noise
    out: on photos Tesseract reads textures as single symbols ("©", "@", "«") with confidences
    up to ~80. ``max_side`` bounds the working resolution (and so the cost). ``fallback_angles``
    are the deskew angles tried, on the top-hat image, only when the plain pass finds nothing;
    an empty tuple turns the fallback off. ``band_min_characters`` is the stricter word length
    of the band passes: upscaled three ways, a band of plain photo gives Tesseract three chances
    to read a texture as a two-letter word ("sx", "ve", "27" at confidence 70-95 on clean
    skimage photos), and one such word is a ``text`` reject. ``corner_lines`` turns on the
    layout check of the bands (``_unread_corner_line``). One detector holds one Tesseract
    instance: calls are serialised by a lock, so use one detector per worker thread or process
    for parallelism.
    """

    def __init__(
        self,
        languages: Sequence[str] = ("rus", "eng"),
        min_confidence: float = 60.0,
        max_side: int = 1024,
        *,
        fallback_angles: Sequence[float] = (-30.0, 30.0),
        tophat_size: int = 9,
        bands: bool = True,
        band_share: float = 1 / 6,
        band_scale: int = 2,
        band_words: int = 3,
        band_min_characters: int = 3,
        corner_lines: bool = True,
        tessdata: str | os.PathLike[str] | None = None,
    ) -> None:
        if isinstance(languages, str) or not languages:
            raise ValueError("languages must be a non-empty sequence of Tesseract names")
        if max_side < 32:
            raise ValueError(f"max_side must be at least 32 pixels, not {max_side}")
        try:
            import tesserocr
        except ImportError as error:
            raise TextDetectorUnavailable(
                "the tesserocr package is not installed: pip install tesserocr "
                "(its wheels bundle Tesseract; the language data is installed separately)"
            ) from error
        self.languages = tuple(languages)
        self.min_confidence = float(min_confidence)
        self.max_side = max_side
        self.fallback_angles = tuple(float(angle) for angle in fallback_angles)
        self.tophat_size = tophat_size
        if not 0 < band_share <= 0.5:
            raise ValueError(f"band_share must be in (0, 0.5], not {band_share}")
        self.bands = bands
        self.band_share = float(band_share)
        self.band_scale = max(1, int(band_scale))
        self.band_words = band_words
        self.band_min_characters = max(2, int(band_min_characters))
        self.corner_lines = corner_lines
        self.tessdata = find_tessdata(self.languages, tessdata)
        self._tesserocr = tesserocr
        try:
            # The default page segmentation (PSM.AUTO): PSM.SPARSE_TEXT, meant for scattered
            # words, measured 4x slower on photos and reads many textures as short words.
            self._api = tesserocr.PyTessBaseAPI(
                path=f"{self.tessdata}/", lang="+".join(self.languages)
            )
        except RuntimeError as error:
            raise TextDetectorUnavailable(
                f"Tesseract could not load {'+'.join(self.languages)} from {self.tessdata}: {error}"
            ) from error
        self._lock = threading.Lock()

    def close(self) -> None:
        """Free the Tesseract instance; the detector cannot be used afterwards."""
        with self._lock:
            self._api.End()

    def __enter__(self) -> TesseractTextDetector:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def detect(self, image: Image.Image) -> TextFindings:
        """What text ``image`` shows; raise ImageRejected("decode_error") if it cannot be read."""
        grey = self._working_image(image)
        area = grey.width * grey.height
        with self._lock:
            boxes: list[tuple[int, int, int, int]] = []
            found = self._read(grey, area, 0.0, boxes)
            if found.words and self._in_corner_band(boxes, grey.size):
                # A mark the whole-image pass reads (it often does, a line of clear text on a
                # box) is still a mark: without this, "PhotoAgency 2019" read here was a
                # `text` reject, while the same words read in the band were a `watermark`.
                found = replace(found, corner=True)
            if self.bands and found.words <= self.band_words:
                banded = self._read_bands(grey, area)
                # The band's reading wins ties: it also knows where in the frame the words are.
                if banded.words and banded.words >= found.words:
                    found = banded
                elif banded.corner_line and found.words <= 1:
                    found = replace(found, corner_line=True)
            if found.words or found.corner_line:
                return found
            if not self.fallback_angles:
                return found
            enhanced = white_tophat(grey, self.tophat_size)
            for angle in self.fallback_angles:
                rotated = enhanced.rotate(
                    angle, resample=Image.Resampling.BILINEAR, expand=True, fillcolor=255
                )
                # Rotation keeps areas, so box areas in the rotated frame compare with `area`.
                found = self._read(rotated, area, angle)
                if found.words:
                    return found
        return found

    def _working_image(self, image: Image.Image) -> Image.Image:
        try:
            grey = to_greyscale(image)
            if max(grey.size) > self.max_side:
                grey = grey.copy()
                grey.thumbnail((self.max_side, self.max_side), Image.Resampling.BILINEAR)
            grey.load()
        except (OSError, SyntaxError, ValueError, EOFError) as exc:
            raise ImageRejected("decode_error", f"{image.format or image.mode}: {exc}") from exc
        if min(grey.size) < 1:
            raise ImageRejected("decode_error", f"empty image {grey.size}")
        return grey

    def _band_height(self, height: int) -> int:
        """The height of the top and bottom bands of an image ``height`` px tall."""
        return max(16, round(height * self.band_share))

    def _in_corner_band(
        self, boxes: Sequence[tuple[int, int, int, int]], size: tuple[int, int]
    ) -> bool:
        """Whether every word box lies in the top band or every one in the bottom band, and
        together they sit in one corner of it (``_in_corner``)."""
        width, height = size
        band = self._band_height(height)
        in_top = all(bottom <= band for _, _, _, bottom in boxes)
        in_bottom = all(top >= height - band for _, top, _, _ in boxes)
        if not boxes or not (in_top or in_bottom):
            return False
        return _in_corner(min(b[0] for b in boxes), max(b[2] for b in boxes), width)

    def _read_bands(self, grey: Image.Image, area: int) -> TextFindings:
        """Words read in the top and bottom bands alone; ``corner`` if all sit to one side."""
        width, height = grey.size
        band = self._band_height(height)
        scale = self.band_scale
        found: list[TextFindings] = []
        spans: list[tuple[int, int, int]] = []  # (left, right, band width) of each band's words
        crops: list[Image.Image] = []
        for top in (height - band, 0) if height > 2 * band else (0,):
            crop = grey.crop((0, top, width, min(height, top + band)))
            crop = crop.resize((crop.width * scale, crop.height * scale), Image.Resampling.BICUBIC)
            # Every variant, keeping the one that reads most: the first to read a word often
            # reads only part of a caption, and a part to one side looks like a corner mark.
            reads = [
                self._words(crop, min_characters=self.band_min_characters),
                # One block: the thresholded caption is one line of text on a blank page, and
                # the automatic layout analysis splits it (measured by the second W session:
                # 18/18 captions, 0/72 clean photos with a word, seed 0).
                self._words(_near_white(crop), block=True, min_characters=self.band_min_characters),
                self._words(white_tophat(crop, 15), min_characters=self.band_min_characters),
            ]
            words, boxes = max(reads, key=lambda read: read[0].words)
            crops.append(crop)
            if words.words:
                # Boxes are in the upscaled crop: scale their area back to the image's.
                found.append(replace(words, text_area=words.text_area / (scale * scale)))
                spans.append((min(b[0] for b in boxes), max(b[2] for b in boxes), crop.width))
        words = sum(f.words for f in found)
        # At most one word read: the band may still hold a mark Tesseract lays out as a line
        # but cannot read (light text on a translucent box over a busy photo).
        unread = (
            self.corner_lines
            and words <= 1
            and any(self._unread_corner_line(crop, width, height) for crop in crops)
        )
        if not found:
            return replace(NO_TEXT, corner_line=True) if unread else NO_TEXT
        return TextFindings(
            words=words,
            text_area=min(1.0, sum(f.text_area for f in found) * width * height / area),
            mean_confidence=sum(f.mean_confidence * f.words for f in found) / words,
            text=" ".join(f.text for f in found)[:_MAX_TEXT],
            corner=len(spans) == 1 and _in_corner(*spans[0]),
            corner_line=unread,
        )

    def _unread_corner_line(self, crop: Image.Image, width: int, height: int) -> bool:
        """Whether Tesseract's layout analysis (its text detector, run without reading) finds
        a line of text in one corner of the upscaled band ``crop`` of a ``width x height``
        image: at least 3x as wide as tall, 6 px to 12 % of the height tall.

        OCR reads no word of 3 of 18 corner marks of the calibration corpus (seed 0), the
        layout still finds two of them as a line; on 108 clean photos per seed it finds no
        such line (lines across the frame, or taller, are the photo's: a shelf, a horizon).
        Cost: one layout pass per band, about as much as one reading (~15 ms at 2x).
        """
        tesserocr = self._tesserocr
        self._api.SetImage(crop)
        scale = self.band_scale
        for _, box, _, _ in self._api.GetComponentImages(tesserocr.RIL.TEXTLINE, True):
            left, line_w, line_h = box["x"] / scale, box["w"] / scale, box["h"] / scale
            if (
                line_w >= 3 * line_h
                and 6 <= line_h <= 0.12 * height
                and _in_corner(left, left + line_w, width)
            ):
                return True
        return False

    def _words(
        self, grey: Image.Image, *, block: bool = False, min_characters: int = 2
    ) -> tuple[TextFindings, list[tuple[int, int, int, int]]]:
        """The accepted words of one pass (text_area of ``grey``'s own area) and their boxes."""
        boxes: list[tuple[int, int, int, int]] = []
        psm = self._tesserocr.PSM
        if block:
            self._api.SetPageSegMode(psm.SINGLE_BLOCK)
        try:
            found = self._read(grey, grey.width * grey.height, 0.0, boxes, min_characters)
        finally:
            if block:
                self._api.SetPageSegMode(psm.AUTO)
        return found, boxes

    def _read(
        self,
        grey: Image.Image,
        area: int,
        angle: float,
        boxes: list[tuple[int, int, int, int]] | None = None,
        min_characters: int = 2,
    ) -> TextFindings:
        tesserocr = self._tesserocr
        api = self._api
        api.SetImage(grey)
        api.Recognize()
        level = tesserocr.RIL.WORD
        words: list[str] = []
        confidences: list[float] = []
        covered = 0
        iterator = api.GetIterator()
        for word in tesserocr.iterate_level(iterator, level):
            try:
                text = word.GetUTF8Text(level)
            except RuntimeError:
                continue  # tesserocr raises for a word box with no text; nothing to count
            confidence = word.Confidence(level)
            text = text.strip()
            characters = len(WORD_CHARACTERS.findall(text))
            if confidence < self.min_confidence or characters < min_characters:
                continue
            box = word.BoundingBox(level)
            if box is None:
                continue
            left, top, right, bottom = box
            if boxes is not None:
                boxes.append(box)
            words.append(text)
            confidences.append(confidence)
            covered += max(0, right - left) * max(0, bottom - top)
        if not words:
            return NO_TEXT if angle == 0.0 else TextFindings(0, 0.0, 0.0, "", angle)
        return TextFindings(
            words=len(words),
            text_area=min(1.0, covered / area),
            mean_confidence=float(np.mean(confidences)),
            text=" ".join(words)[:_MAX_TEXT],
            angle=angle,
        )


def _in_corner(left: int, right: int, width: int) -> bool:
    """Whether words spanning ``left..right`` of a band sit in one of its corners.

    A mark is short and set against one edge (or, read in part, within one half); a caption is
    a line centred across the middle of the frame.
    """
    one_side = left >= 0.5 * width or right <= 0.5 * width
    # 15 %: a mark's first glyph ("©", a logo) is often not read, and the mark sits in from the
    # edge by its margin and padding; at 10 % three of 18 corner marks read in full missed.
    at_edge = left <= 0.15 * width or right >= 0.85 * width
    return right - left <= 0.6 * width and (one_side or at_edge)


def _near_white(grey: Image.Image, level: int = 215) -> Image.Image:
    """Pixels at least ``level`` as black on white: the fill of white caption lettering."""
    return grey.point(lambda v: 0 if v >= level else 255)


def white_tophat(grey: Image.Image, size: int = 9) -> Image.Image:
    """Thin bright strokes of ``grey`` as dark-on-white, the photo underneath removed.

    The white top-hat (image minus its grey opening with a ``size`` square) keeps what is
    brighter than its surroundings and narrower than ``size`` pixels: the strokes of light
    text. Stretched so the brightest 0.5 % are full strength, then inverted, because Tesseract
    reads dark text on a light page best.
    """
    from scipy import ndimage

    pixels = np.asarray(grey, dtype=np.uint8)
    tophat = ndimage.white_tophat(pixels, size=(size, size)).astype(np.float32)
    high = float(np.percentile(tophat, 99.5)) or 1.0
    stretched = np.clip(tophat * (255.0 / high), 0, 255).astype(np.uint8)
    return Image.fromarray(255 - stretched, "L")
