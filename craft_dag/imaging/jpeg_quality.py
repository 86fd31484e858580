"""How much a file was compressed: the JPEG quality it was saved at, read from its header.

Copies of one photo on the web differ mostly in size and compression, and the least
compressed copy is the one closest to the original. The quality is read from the luminance
quantisation table, which Pillow parses with the header (no pixel is decoded), so it costs
next to nothing beside a decode.
"""

import numpy as np
from PIL import Image

UNKNOWN_QUALITY = 75.0
"""A lossy file whose compression cannot be read (lossy WebP): taken as a typical web quality."""

# The IJG (libjpeg) luminance table at quality 50: what every encoder built on libjpeg
# (Pillow, ImageMagick, most cameras' firmware) scales for its quality setting.
_IJG_LUMA = np.array(
    [
        16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55,
        14, 13, 16, 24, 40, 57, 69, 56, 14, 17, 22, 29, 51, 87, 80, 62,
        18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
        49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99,
    ],
    dtype=np.float64,
)  # fmt: skip


def _ijg_sums() -> np.ndarray:
    sums = []
    for quality in range(1, 101):
        scale = 5000 / quality if quality < 50 else 200 - 2 * quality
        table = np.clip(np.floor((_IJG_LUMA * scale + 50) / 100), 1, 255)
        sums.append(table.sum())
    return np.array(sums)


_IJG_SUMS = _ijg_sums()
_LOSSLESS = frozenset({"PNG", "BMP", "TIFF", "GIF", "PPM", "TGA", "QOI"})


def estimate_quality(image: Image.Image, data: bytes = b"") -> float | None:
    """The JPEG quality (1-100) an image was saved at, from its luminance quantisation table.

    The table's sum is compared with the IJG table's at every quality: the estimate is exact
    for libjpeg-made files and monotone for any other encoder (smaller quantisers, higher
    quality), which is all a comparison between copies needs. Lossless formats give 100;
    a lossy WebP (its ``VP8 `` chunk, not ``VP8L``) gives ``UNKNOWN_QUALITY``; None when the
    format or its tables are unknown.
    """
    fmt = image.format or ""
    if fmt == "JPEG":
        tables = getattr(image, "quantization", None) or {}
        luma = tables.get(0)
        if not luma:
            return None
        total = float(np.sum(np.asarray(luma, dtype=np.float64)))
        return float(np.argmin(np.abs(_IJG_SUMS - total)) + 1)
    if fmt in _LOSSLESS:
        return 100.0
    if fmt == "WEBP":
        return 100.0 if data[12:16] == b"VP8L" else UNKNOWN_QUALITY
    return None
