"""What OCR found in an image, and whether it reads as a watermark rather than scene text.

Split out of ``text_detection.py`` (the Tesseract detector that produces ``TextFindings``),
which re-exports these names. ``watermark_suspected`` tells the curation's two reasons apart:
``text`` (legible text in the image) and ``watermark`` (text tiled over the image, a mark in a
corner, or stock agency vocabulary).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass
from typing import Protocol

from PIL import Image


@dataclass(frozen=True)
class TextFindings:
    """What OCR found in one image."""

    words: int  # accepted words (confidence >= min_confidence, two letters or digits at least)
    text_area: float  # share of the image area covered by the accepted words' boxes, 0..1
    mean_confidence: float  # of the accepted words, 0..100; 0.0 when there are none
    text: str  # the accepted words, space-separated, first 200 characters
    angle: float = 0.0  # the deskew angle (degrees) the words were read at; 0.0: upright
    corner: bool = False  # every word lies in one corner band (a photographer's or agency mark)
    corner_line: bool = False  # layout finds a line of text in a corner band that OCR cannot read


NO_TEXT = TextFindings(words=0, text_area=0.0, mean_confidence=0.0, text="")


class TextDetector(Protocol):
    """Finds text in an image."""

    def detect(self, image: Image.Image) -> TextFindings:
        """What text ``image`` shows; raise ImageRejected if it cannot be read."""
        ...


class TextDetectorUnavailable(RuntimeError):
    """The OCR engine or a language's data is missing; the message says how to install it."""


# A letter or digit: words with fewer than two (or a pass's minimum) are OCR noise.
WORD_CHARACTERS = re.compile(r"\w", re.UNICODE)


# Stock agencies and marks whose name in an image is a watermark, not scene text. Matched
# after folding Cyrillic look-alikes to Latin: with rus+eng loaded, Tesseract often reads
# "STOCKPHOTO" as "ЅТОСКРНОТО" or "ЗТОСКРНОТО".
WATERMARK_VOCABULARY: tuple[str, ...] = (
    "©",
    "stock",
    "shutterstock",
    "depositphotos",
    "alamy",
    "getty",
    "dreamstime",
    "123rf",
    "istock",
    "fotolia",
    "bigstock",
    "watermark",
)
_HOMOGLYPHS = str.maketrans(
    "АВЕЅЗКМНОРСТХУаеорсхукмтнвз",
    "ABES3KMHOPCTXYaeopcxykmthb3",
)
_FOLDED_VOCABULARY = tuple(word.translate(_HOMOGLYPHS) for word in WATERMARK_VOCABULARY)


def watermark_suspected(
    findings: TextFindings, *, min_repeats: int = 3, min_share: float = 1 / 3
) -> bool:
    """Whether the text found looks like a watermark rather than text in the scene.

    A watermark is either stock vocabulary (``WATERMARK_VOCABULARY``: "©", "shutterstock",
    "alamy", ...) or short text repeated over the image: some four-letter sequence occurs in
    at least ``min_repeats`` of the words and in at least ``min_share`` of them (OCR rarely
    reads a tiled word the same way twice, but its pieces repeat). The share keeps ordinary
    text out: in a page of prose "tion" or "ного" recurs, but in few of its many words.
    """
    if findings.corner_line:
        return True  # a line of text in a corner that OCR could not read: a mark, not a scene
    if not findings.words or not findings.text:
        return False
    if findings.corner and len(WORD_CHARACTERS.findall(findings.text)) >= 4:
        # Text alone in a corner band: an agency's or owner's mark. Four letters or digits at
        # least ("2019", "АГЕНТ"): the top-hat pass reads the odd two-letter word in a texture.
        return True
    folded = findings.text.translate(_HOMOGLYPHS).casefold()
    if any(word in folded for word in _FOLDED_VOCABULARY if word != "©") or "©" in findings.text:
        return True
    words = [re.sub(r"\W", "", word) for word in folded.split()]
    words = [word for word in words if len(word) >= 4]
    if len(words) < min_repeats:
        return False
    grams: Counter[str] = Counter()
    for word in words:
        grams.update({word[i : i + 4] for i in range(len(word) - 3)})
    _, count = grams.most_common(1)[0]
    return count >= min_repeats and count >= math.ceil(min_share * len(words))
