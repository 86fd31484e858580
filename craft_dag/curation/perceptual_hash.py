"""Perceptual hashes: 64-bit values that copies of one photo share up to a few bits.

``dhash`` follows brightness gradients, ``phash`` the low DCT frequencies; resized,
recompressed or lightly cropped copies of a photo hash a few bits apart under both, which is
what ``near_duplicates.group_near_duplicates`` searches for. Split out of
``near_duplicates.py`` (the search), which re-exports these names.
"""

import numpy as np
from PIL import Image
from scipy import fft

from craft_dag.imaging.greyscale import to_greyscale


def hamming(a: int, b: int) -> int:
    """The number of bits in which ``a`` and ``b`` differ."""
    return (a ^ b).bit_count()


def dhash(image: Image.Image, size: int = 8) -> int:
    """Difference hash: ``size * size`` bits, one per horizontal neighbour pair (right > left).

    The greyscale image is shrunk to ``size + 1`` by ``size`` pixels; bit order is row-major,
    the first pair in the most significant bit.
    """
    if size < 2:
        raise ValueError(f"size must be at least 2, not {size}")
    pixels = _shrunk(image, (size + 1, size))
    return _bits_to_int(pixels[:, 1:] > pixels[:, :-1])


def phash(image: Image.Image) -> int:
    """DCT hash: 64 bits, one per low frequency above the median (Zauner's pHash).

    The greyscale image is shrunk to 32x32, transformed (DCT-II), and the top-left 8x8
    coefficients compared with the median of the 63 that are not the DC term. The DC term is
    the mean brightness, not structure: it stays out of the median and its bit (the most
    significant) is always 0.
    """
    pixels = _shrunk(image, (32, 32))
    low = fft.dctn(pixels, type=2, norm="ortho")[:8, :8]
    # The margin: a flat image (all AC terms zero up to rounding) hashes to 0, not to noise.
    bits = low > np.median(low.ravel()[1:]) + 1e-6
    bits[0, 0] = False
    return _bits_to_int(bits)


def _shrunk(image: Image.Image, size: tuple[int, int]) -> np.ndarray:
    grey = to_greyscale(image)
    # reducing_gap: a cheap box reduction first, so a 4000 px photo does not cost a full
    # Lanczos pass over every pixel for 64 output pixels.
    small = grey.resize(size, Image.Resampling.LANCZOS, reducing_gap=2.0)
    return np.asarray(small, dtype=np.float64)


def _bits_to_int(bits: np.ndarray) -> int:
    flat = bits.ravel()
    packed = int.from_bytes(np.packbits(flat).tobytes(), "big")
    return packed >> (-flat.size % 8)  # packbits pads the last byte with zeros on the right
