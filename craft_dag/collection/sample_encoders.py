"""Reading the bundled photos and encoding images: formats, and the watermark overlay."""

from __future__ import annotations

import io
import math
from importlib import resources
from importlib.resources.abc import Traversable

import numpy as np
from PIL import Image, ImageDraw, ImageFont

NOT_AN_IMAGE = b"""<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>403 Forbidden</title></head>
<body>
<h1>Forbidden</h1>
<p>Hotlinking of images is not allowed. Please visit our gallery to view this picture.</p>
<hr><address>nginx</address>
</body>
</html>
"""


def skimage_data(name: str) -> Traversable:
    """A file bundled in scikit-image's wheel (never one it would download)."""
    try:
        folder = resources.files("skimage").joinpath("data")
    except ModuleNotFoundError as error:  # pragma: no cover - depends on the environment
        raise RuntimeError(
            "the sample set is made from the photos bundled with scikit-image: install it"
        ) from error
    path = folder.joinpath(name)
    if not path.is_file():  # pragma: no cover - depends on the installed wheel
        raise FileNotFoundError(f"skimage/data/{name} is not in the installed scikit-image")
    return path


def thumbnail(image: Image.Image) -> np.ndarray:
    small = image.convert("L").resize((64, 64), Image.Resampling.BILINEAR)
    return np.asarray(small, dtype=np.float32)


def encode(image: Image.Image, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def jpeg(image: Image.Image, quality: int) -> bytes:
    if image.mode not in {"RGB", "L", "CMYK"}:
        image = image.convert("RGB")
    return encode(image, "JPEG", quality=quality)


def load_font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)
    except (ImportError, OSError):  # pragma: no cover - Pillow built without FreeType
        return ImageFont.load_default()


def watermark(image: Image.Image) -> Image.Image:
    """Semi-transparent '© STOCKPHOTO' tiled diagonally across ``image``."""
    base = image.convert("RGBA")
    width, height = base.size
    side = math.ceil(math.hypot(width, height))
    layer = Image.new("RGBA", (side, side), (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    font = load_font(max(24, width // 14))
    text = "© STOCKPHOTO"
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
    step_x, step_y = (right - left) + 40, (bottom - top) + 50
    for row, y in enumerate(range(0, side, step_y)):
        for x in range(-(row % 2) * step_x // 2, side, step_x):
            draw.text((x, y), text, font=font, fill=(255, 255, 255, 120))
            draw.text((x + 2, y + 2), text, font=font, fill=(0, 0, 0, 60))
    layer = layer.rotate(30, resample=Image.Resampling.BILINEAR)
    offset_x, offset_y = (side - width) // 2, (side - height) // 2
    layer = layer.crop((offset_x, offset_y, offset_x + width, offset_y + height))
    return Image.alpha_composite(base, layer).convert("RGB")


def palette_with_transparency(image: Image.Image) -> bytes:
    """A mode "P" PNG whose corners (outside an ellipse) are one transparent palette entry."""
    rgb = image.convert("RGB")
    quantized = rgb.quantize(colors=127, method=Image.Quantize.FASTOCTREE)
    indices = np.asarray(quantized).copy()
    height, width = indices.shape
    yy, xx = np.mgrid[0:height, 0:width]
    outside = ((xx - width / 2) / (width / 2)) ** 2 + ((yy - height / 2) / (height / 2)) ** 2 > 1
    transparent = 127
    indices[outside] = transparent
    palette = (quantized.getpalette() or [])[: 3 * transparent]
    palette += [0] * (3 * transparent - len(palette)) + [0, 0, 0]
    result = Image.fromarray(indices.astype(np.uint8), "P")
    result.putpalette(palette)
    return encode(result, "PNG", compress_level=3, transparency=transparent)


# --- files -----------------------------------------------------------------------------------
