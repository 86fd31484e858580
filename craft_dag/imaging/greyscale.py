"""8-bit greyscale from any Pillow image mode: the one conversion curation and models share.

It lives in ``imaging`` (the bottom layer, which imports no other craft_dag subpackage) because
both ``curation`` (the quality metrics, OCR, watermark and near-duplicate passes) and ``models``
(``to_rgb`` for a model's image processor) need it, and ``curation`` sits above ``models``:
a model-based scorer of curation imports ``models``, never the other way round.
"""

import numpy as np
from PIL import Image

_ALPHA_MODES = frozenset({"RGBA", "LA", "PA", "RGBa", "La"})
_WIDE_MODES = frozenset({"I;16", "I;16L", "I;16B", "I;16N", "I", "F"})
_WHITE = 255


def to_greyscale(image: Image.Image) -> Image.Image:
    """``image`` as an 8-bit greyscale ("L") image of the same size.

    Transparent pixels are composited on white first (the way a viewer would show them), so
    the transparent corners of a logo do not read as a black, underexposed frame. 16-bit and
    32-bit images are scaled down to 0-255: Pillow's own ``convert("L")`` clips them, which
    would turn most of a 16-bit photo white.
    """
    mode = image.mode
    if mode in _WIDE_MODES:
        return _wide_to_grey(image)
    transparent = (
        mode in _ALPHA_MODES
        or "transparency" in image.info
        or (mode == "P" and image.palette is not None and "A" in image.palette.mode)
    )
    if mode == "L" and not transparent:
        return image
    if mode == "P" and transparent:
        return _palette_on_white(image)
    if mode == "La":
        # Premultiplied, which Pillow cannot convert: on white, L * A / 255 + 255 - A is
        # exactly the stored (premultiplied) value plus 255 - A.
        pixels = np.asarray(image).astype(np.int16)
        return Image.fromarray((pixels[..., 0] + _WHITE - pixels[..., 1]).astype(np.uint8), "L")
    if transparent:
        rgba = image.convert("RGBA")
        white = Image.new("L", rgba.size, _WHITE)
        return Image.composite(rgba.convert("L"), white, rgba.getchannel("A"))
    if mode == "LAB":
        # Pillow has no LAB -> L conversion; the L channel is the lightness itself.
        return image.getchannel("L")
    try:
        return image.convert("L")
    except ValueError:
        # Modes with no direct conversion to L (rare) go through RGB.
        return image.convert("RGB").convert("L")


def _palette_on_white(image: Image.Image) -> Image.Image:
    """A palette image with transparency, composited on white, through a 256-entry table.

    Converting the whole image to RGBA and compositing costs twice its decode; composing the
    256 palette entries does the same work once per colour. Pillow converts the entries
    itself (a one-row image of every index), so palette modes and the forms transparency
    takes (one index, or a table of alpha values) are read exactly as for the full image.
    """
    ramp = Image.frombytes("P", (256, 1), bytes(range(256)))
    ramp.putpalette(image.getpalette(image.palette.mode) or [], image.palette.mode)
    ramp.info["transparency"] = image.info.get("transparency")
    if ramp.info["transparency"] is None:
        del ramp.info["transparency"]
    entries = np.asarray(ramp.convert("RGBA"), dtype=np.float64)[0]
    luma = entries[:, 0] * 0.299 + entries[:, 1] * 0.587 + entries[:, 2] * 0.114
    alpha = entries[:, 3] / 255
    table = np.rint(luma * alpha + _WHITE * (1 - alpha)).astype(np.uint8)
    return Image.fromarray(table[np.asarray(image)], "L")


def _wide_to_grey(image: Image.Image) -> Image.Image:
    values = np.asarray(image)
    if image.mode.startswith("I;16"):
        # The high byte: exactly v / 257 for a 16-bit image widened from 8 bits (v = 257 * k),
        # within one level otherwise, and a third of the cost of dividing.
        return Image.fromarray((values >> 8).astype(np.uint8), "L")
    # "I" and "F" carry no bit depth: a 16-bit PNG opened by an older Pillow arrives as "I"
    # with values up to 65535, while an 8-bit image converted to "I" stays within 0..255.
    values = np.nan_to_num(values.astype(np.float64), nan=0.0, posinf=65535.0, neginf=0.0)
    if image.mode == "F" and values.size and values.max() <= 1.0:
        values = values * 255  # floats in 0..1
    elif values.size and values.max() > 255:
        values = np.clip(values, 0, 65535) / 257
    return Image.fromarray(np.clip(np.rint(values), 0, 255).astype(np.uint8), "L")
