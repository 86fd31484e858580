"""The painters of the calibration corpus: watermarks, captions, documents and screenshots.

Split out of ``calibration.py``, which decides what to plant where; these functions only draw.
The overlay painters (``tiled_watermark``, ``corner_logo``, ``caption``) write the font and
text they actually used back into ``params``, so the labels name what is in the file.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, ImageFont

# Debian's fonts-dejavu-core; where a file is missing the builder falls back to Pillow's own
# FreeType font (Aileron, Pillow >= 10.1) and the labels name the font actually used.
_DEJAVU = Path("/usr/share/fonts/truetype/dejavu")
FONTS: dict[str, Path | None] = {
    "aileron": None,
    "dejavu_sans_bold": _DEJAVU / "DejaVuSans-Bold.ttf",
    "dejavu_serif": _DEJAVU / "DejaVuSerif.ttf",
    "dejavu_mono": _DEJAVU / "DejaVuSansMono.ttf",
    "dejavu_sans_condensed_oblique": _DEJAVU / "DejaVuSansCondensed-Oblique.ttf",
}


def _cyrillic(text: str) -> bool:
    return any("\u0400" <= ch <= "\u04ff" for ch in text)


def drawable(text: str, font_name: str, latin: str) -> str:
    """``text``, or ``latin`` where the font has no Cyrillic (Aileron: boxes, not letters)."""
    return latin if font_name == "aileron" and _cyrillic(text) else text


def load_font(name: str, size: int) -> tuple[ImageFont.FreeTypeFont, str]:
    """The font of ``FONTS`` named ``name`` at ``size`` px, and the name of the one used."""
    path = FONTS[name]
    if path is not None and path.is_file():
        return ImageFont.truetype(str(path), size), name
    return ImageFont.load_default(size=size), "aileron"  # type: ignore[return-value]


# What the overlays say; the builder cycles through each list so every text is planted.
WATERMARK_TEXTS: tuple[str, ...] = (
    "© STOCKPHOTO",
    "SAMPLE",
    "photobank.example",
    "PREVIEW ONLY",
    "© Фотобанк",
    "watermark",
)
CORNER_TEXTS: tuple[str, ...] = ("© PhotoAgency 2019", "fotostock.example", "© ИТАР-ФОТО")
CAPTIONS: tuple[str, ...] = (
    "When you finally get the weekend off",
    "Moscow, 1987. Photo from the family archive",
    "Самовар на даче у бабушки, лето",
    "BREAKING: local cat refuses to move",
)
# The prose of the documents and screenshots, and its Latin-only stand-in for fonts without
# Cyrillic.
_DOCUMENT_TEXT = (
    "The committee met on the third of March to consider the annual report. After a short "
    "discussion of the budget, the members agreed to postpone the vote until the next session. "
    "Председатель напомнил, что отчёт должен быть готов к концу месяца, и попросил всех "
    "участников прислать замечания заранее. The meeting closed at half past six."
)
_DOCUMENT_TEXT_LATIN = _DOCUMENT_TEXT.split(" Председатель")[0] + (
    " The chairman reminded everyone that the report is due at the end of the month and asked "
    "for comments in advance. The meeting closed at half past six."
)


def _text_layer(
    size: tuple[int, int], text: str, font: ImageFont.FreeTypeFont, *, stroke: int = 0
) -> tuple[Image.Image, tuple[int, int, int, int]]:
    """A mask ("L") of ``text`` drawn at the origin of a transparent canvas, and its box."""
    mask = Image.new("L", size, 0)
    draw = ImageDraw.Draw(mask)
    box = draw.textbbox((0, 0), text, font=font, stroke_width=stroke)
    return mask, (int(box[0]), int(box[1]), int(box[2]), int(box[3]))


def tiled_watermark(image: Image.Image, params: dict[str, Any]) -> Image.Image:
    """Semi-transparent text repeated over the whole image, rotated by ``angle``."""
    w, h = image.size
    font, params["font"] = load_font(
        params["font"], max(12, round(params["size"] * min(w, h) * 1.5))
    )
    params["text"] = drawable(params["text"], params["font"], WATERMARK_TEXTS[0])
    side = math.ceil(math.hypot(w, h))
    mask, (left, top, right, bottom) = _text_layer((side, side), params["text"], font)
    draw = ImageDraw.Draw(mask)
    step_x, step_y = (right - left) + max(20, w // 12), (bottom - top) * 3
    for row, y in enumerate(range(-top, side, step_y)):
        for x in range(-(row % 2) * step_x // 2, side, step_x):
            draw.text((x, y), params["text"], font=font, fill=255)
    mask = mask.rotate(params["angle"], resample=Image.Resampling.BILINEAR)
    offset_x, offset_y = (side - w) // 2, (side - h) // 2
    mask = mask.crop((offset_x, offset_y, offset_x + w, offset_y + h))
    alpha = mask.point(lambda v: round(v * params["opacity"]))
    white = Image.new("RGB", (w, h), (255, 255, 255))
    return Image.composite(white, image, alpha)


def corner_logo(image: Image.Image, params: dict[str, Any]) -> Image.Image:
    """A rounded box with agency text in one corner, blended at ``opacity``."""
    w, h = image.size
    font, params["font"] = load_font(params["font"], max(12, round(min(w, h) * 0.05)))
    params["text"] = drawable(params["text"], params["font"], CORNER_TEXTS[0])
    _, (left, top, right, bottom) = _text_layer((1, 1), params["text"], font)
    pad = max(6, (bottom - top) // 2)
    box_w, box_h = right - left + 2 * pad, bottom - top + 2 * pad
    margin = max(8, min(w, h) // 40)
    x = margin if params["corner"] in ("bl", "tl") else w - box_w - margin
    y = margin if params["corner"] in ("tl", "tr") else h - box_h - margin
    overlay = image.convert("RGBA")
    layer = Image.new("RGBA", (w, h), (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    alpha = round(255 * params["opacity"])
    draw.rounded_rectangle((x, y, x + box_w, y + box_h), radius=pad, fill=(20, 20, 20, alpha // 2))
    draw.text(
        (x + pad - left, y + pad - top), params["text"], font=font, fill=(255, 255, 255, alpha)
    )
    return Image.alpha_composite(overlay, layer).convert("RGB")


def caption(image: Image.Image, params: dict[str, Any]) -> Image.Image:
    """A meme-style caption: white text with a black outline across the bottom."""
    w, h = image.size
    size = max(12, round(params["size"] * min(w, h)))
    font, params["font"] = load_font(params["font"], size)
    text = params["text"] = drawable(params["text"], params["font"], CAPTIONS[0])
    draw = ImageDraw.Draw(image := image.copy())
    stroke = max(1, size // 12)
    while size > 12:
        left, top, right, bottom = draw.textbbox((0, 0), text, font=font, stroke_width=stroke)
        if right - left <= w * 0.94:
            break
        size = round(size * 0.9)
        font, params["font"] = load_font(params["font"], size)
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font, stroke_width=stroke)
    x = (w - (right - left)) // 2 - left
    y = h - (bottom - top) - max(6, h // 25) - top
    draw.text((x, y), text, font=font, fill="white", stroke_width=stroke, stroke_fill="black")
    params["size_px"] = size
    return image


def _wrap(text: str, font: ImageFont.FreeTypeFont, width: int) -> list[str]:
    lines, line = [], ""
    for word in text.split():
        trial = f"{line} {word}".strip()
        if font.getlength(trial) <= width or not line:
            line = trial
        else:
            lines.append(line)
            line = word
    return [*lines, line] if line else lines


def document(spec: dict[str, Any]) -> Image.Image:
    """A scanned page: off-white paper (a scan is rarely pure white), a title, paragraphs."""
    w, h = spec["size_px"]
    image = Image.new("RGB", (w, h), (236, 232, 220))
    draw = ImageDraw.Draw(image)
    font, spec["font"] = load_font(spec["font"], spec["size"])
    title, _ = load_font(spec["font"], round(spec["size"] * 1.5))
    margin = w // 10
    y = margin
    draw.text((margin, y), "Minutes of the meeting", font=title, fill=(30, 30, 30))
    y += round(spec["size"] * 2.6)
    line_height = round(spec["size"] * 1.45)
    text = drawable(_DOCUMENT_TEXT, spec["font"], _DOCUMENT_TEXT_LATIN)
    while y < h - margin - line_height:
        for line in _wrap(text, font, w - 2 * margin):
            if y >= h - margin - line_height:
                break
            draw.text((margin, y), line, font=font, fill=(35, 35, 40))
            y += line_height
        y += line_height
    return image


def screenshot(spec: dict[str, Any]) -> Image.Image:
    """An application window: title bar, menu, sidebar of items and a body of text."""
    w, h = spec["size_px"]
    dark = spec["theme"] == "dark"
    bg, fg, panel = (
        ((30, 32, 36), (220, 220, 220), (45, 48, 54))
        if dark
        else (
            (250, 250, 250),
            (30, 30, 30),
            (228, 230, 235),
        )
    )
    image = Image.new("RGB", (w, h), bg)
    draw = ImageDraw.Draw(image)
    font, spec["font"] = load_font(spec["font"], spec["size"])
    size = spec["size"]
    draw.rectangle((0, 0, w, size * 2), fill=(60, 90, 150))
    draw.text((size, size // 2), "Inbox - Mail - Settings", font=font, fill=(255, 255, 255))
    menu = "File   Edit   View   History   Bookmarks   Tools   Help"
    draw.text((size, round(size * 2.4)), menu, font=font, fill=fg)
    sidebar = w // 4
    draw.rectangle((0, size * 4, sidebar, h), fill=panel)
    items = ("Inbox (12)", "Drafts", "Sent", "Archive", "Spam", "Trash", "Projects", "Travel")
    y = size * 5
    for item in items * 3:
        if y > h - size * 2:
            break
        draw.text((size, y), item, font=font, fill=fg)
        y += round(size * 1.8)
    y = size * 5
    text = drawable(_DOCUMENT_TEXT, spec["font"], _DOCUMENT_TEXT_LATIN)
    while y < h - size * 2:
        for line in _wrap(text, font, w - sidebar - 3 * size):
            if y >= h - size * 2:
                break
            draw.text((sidebar + size, y), line, font=font, fill=fg)
            y += round(size * 1.5)
        y += size
    return image
