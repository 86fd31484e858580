"""Cheap quality metrics for one image, from a single decode.

Every collected image is scored before human review: the CRAFT paper drops blurry, over- or
under-exposed and near-empty images first, so reviewers only see plausible ones. The scores
must cost little more than decoding the image, so:

* a large JPEG is decoded at a reduced scale (``Image.draft``: libjpeg scales in the inverse
  DCT, which is far cheaper than decoding every pixel and resizing afterwards), and straight
  to greyscale (only the luma channel is decoded);
* the image becomes one 8-bit greyscale array whose long side is ``normalise_to`` pixels (never
  upscaled), and every metric is computed with numpy on that array. Normalising the size also
  makes the blur score comparable between a 6000 px photo and a 600 px one.

Width, height, mode and frame count are those of the file, read from its header.
"""

import io
import math
import warnings
from dataclasses import dataclass, fields

import numpy as np
from PIL import Image, UnidentifiedImageError

from craft_dag.imaging.decode import DEFAULT_MAX_PIXELS, ImageRejected, sniff_format

DEFAULT_NORMALISE_TO = 512
DARK_LEVEL = 0.05
"""A pixel at or below this grey level (of 1.0) counts as dark."""
BRIGHT_LEVEL = 0.95
"""A pixel at or above this grey level (of 1.0) counts as bright."""

_LEVELS = np.arange(256, dtype=np.float64)
_LEVELS_SQUARED = _LEVELS**2
_DARK = _LEVELS / 255 <= DARK_LEVEL
_BRIGHT = _LEVELS / 255 >= BRIGHT_LEVEL
_ALPHA_MODES = frozenset({"RGBA", "LA", "PA", "RGBa", "La"})
_WIDE_MODES = frozenset({"I;16", "I;16L", "I;16B", "I;16N", "I", "F"})
_WHITE = 255


@dataclass(frozen=True)
class ImageMetrics:
    """Quality metrics of one image; grey-level metrics are of the normalised greyscale image."""

    width: int  # full size, from the header
    height: int
    aspect: float  # long side / short side
    blur: float  # variance of the Laplacian, in grey levels (0-255) squared; higher = sharper
    mean_luminance: float  # 0..1
    dark_fraction: float  # share of pixels <= DARK_LEVEL
    bright_fraction: float  # share of pixels >= BRIGHT_LEVEL
    entropy: float  # Shannon entropy of the 256-bin grey histogram, bits (0..8)
    contrast: float  # standard deviation of the grey levels, 0..1
    frames: int
    mode: str  # the file's own mode ("RGB", "P", "I;16", ...)


METRIC_NAMES: tuple[str, ...] = tuple(
    f.name for f in fields(ImageMetrics) if f.type in (int, float, "int", "float")
)
"""The numeric fields of ImageMetrics, in order: the columns of a metrics table."""


def compute_metrics(data: bytes, *, normalise_to: int = DEFAULT_NORMALISE_TO) -> ImageMetrics:
    """Metrics of the image in ``data`` (its first frame); raise ImageRejected if it won't decode.

    ``data`` is normally bytes already accepted by ``decode_image``; the checks are repeated
    (format by magic bytes, the pixel limit from the header) because a metric must never be
    the thing that allocates a decompression bomb.
    """
    _check_normalise_to(normalise_to)
    fmt = sniff_format(data)
    if fmt is None:
        raise ImageRejected("not_an_image", f"no image signature (first bytes {data[:16]!r})")
    try:
        with warnings.catch_warnings():
            # The pixel limit is ours, checked below; Pillow's warning would only be noise.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=[fmt])
            width, height = image.size
            if width * height > DEFAULT_MAX_PIXELS:
                raise ImageRejected(
                    "decompression_bomb",
                    f"{width}x{height} exceeds the {DEFAULT_MAX_PIXELS} pixel limit",
                )
            mode = image.mode
            # n_frames walks the frame headers without decoding them, then returns to frame 0.
            frames = getattr(image, "n_frames", 1)
            if fmt == "JPEG":
                # Ask libjpeg for the smallest power-of-two scale still at least the normalised
                # size, in greyscale; draft() changes nothing for CMYK or when no scale fits.
                image.draft("L", _normalised_size(width, height, normalise_to))
            image.load()
            grey = _normalise(to_greyscale(image), normalise_to)
    except ImageRejected:
        raise
    except Image.DecompressionBombError as exc:
        raise ImageRejected("decompression_bomb", str(exc)) from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ImageRejected("decode_error", f"{fmt}: {exc}") from exc
    return _measure(grey, width, height, mode, frames)


def metrics_from_image(
    image: Image.Image, *, normalise_to: int = DEFAULT_NORMALISE_TO
) -> ImageMetrics:
    """Metrics of an already opened image (its current frame: the first, from ``open_image``).

    Prefer ``compute_metrics`` on the bytes: an opened image can no longer be decoded at a
    reduced scale, so a large JPEG costs a full decode here.
    """
    _check_normalise_to(normalise_to)
    width, height = image.size
    frames = getattr(image, "n_frames", 1)
    try:
        grey = _normalise(to_greyscale(image), normalise_to)
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        # An image opened lazily decodes here, so a broken file fails here too.
        raise ImageRejected("decode_error", f"{image.format or image.mode}: {exc}") from exc
    return _measure(grey, width, height, image.mode, frames)


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
    if mode == "L" and "transparency" not in image.info:
        return image
    if mode in _ALPHA_MODES or "transparency" in image.info:
        # RGBa/La are premultiplied and Pillow converts them back on the way to RGBA.
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


def _wide_to_grey(image: Image.Image) -> Image.Image:
    values = np.asarray(image)
    if image.mode.startswith("I;16"):
        scaled = (values.astype(np.uint32) + 128) // 257  # 0..65535 -> 0..255, rounded
    else:
        # "I" and "F" carry no bit depth: a 16-bit PNG opened by an older Pillow arrives as
        # "I" with values up to 65535, while an 8-bit image converted to "I" stays 0..255.
        values = np.nan_to_num(values.astype(np.float64), nan=0.0, posinf=65535.0, neginf=0.0)
        if image.mode == "F" and values.size and values.max() <= 1.0:
            scaled = np.rint(values * 255)  # floats in 0..1
        elif values.size and values.max() > 255:
            scaled = np.rint(np.clip(values, 0, 65535) / 257)
        else:
            scaled = values
    return Image.fromarray(np.clip(scaled, 0, 255).astype(np.uint8), "L")


def _check_normalise_to(normalise_to: int) -> None:
    if normalise_to < 3:
        raise ValueError(f"normalise_to must be at least 3 pixels, not {normalise_to}")


def _normalised_size(width: int, height: int, normalise_to: int) -> tuple[int, int]:
    """(width, height) scaled so the long side is ``normalise_to``; never larger than given."""
    long_side = max(width, height)
    if long_side <= normalise_to:
        return width, height
    scale = normalise_to / long_side
    return max(1, round(width * scale)), max(1, round(height * scale))


def _normalise(grey: Image.Image, normalise_to: int) -> Image.Image:
    # The target comes from the image in hand, which draft() may already have shrunk.
    size = _normalised_size(grey.width, grey.height, normalise_to)
    if size == grey.size:
        return grey
    # Pillow's bilinear resize widens its kernel when shrinking, so it antialiases: plain
    # subsampling would alias fine texture into fake sharpness.
    return grey.resize(size, Image.Resampling.BILINEAR)


def _measure(grey: Image.Image, width: int, height: int, mode: str, frames: int) -> ImageMetrics:
    pixels = np.asarray(grey)
    # Every grey-level metric comes from the 256-bin histogram: one pass over the pixels.
    histogram = np.asarray(grey.histogram(), dtype=np.float64)
    count = histogram.sum()
    share = histogram / count
    mean = float(share @ _LEVELS)
    variance = max(0.0, float(share @ _LEVELS_SQUARED) - mean * mean)
    nonzero = share[share > 0]
    entropy = float(-(nonzero * np.log2(nonzero)).sum()) + 0.0  # + 0.0: no "-0.0"
    return ImageMetrics(
        width=width,
        height=height,
        aspect=max(width, height) / max(1, min(width, height)),
        blur=_laplacian_variance(pixels),
        mean_luminance=mean / 255,
        dark_fraction=float(share[_DARK].sum()),
        bright_fraction=float(share[_BRIGHT].sum()),
        entropy=entropy,
        contrast=math.sqrt(variance) / 255,
        frames=frames,
        mode=mode,
    )


def _laplacian_variance(pixels: np.ndarray) -> float:
    """Variance of the 4-neighbour Laplacian (as OpenCV's ``Laplacian(...).var()``), borders out."""
    if pixels.shape[0] < 3 or pixels.shape[1] < 3:
        return 0.0
    # int16 holds the Laplacian's range (-1020..1020) at half the memory traffic of float32.
    grey = pixels.astype(np.int16)
    laplacian = grey[:-2, 1:-1] + grey[2:, 1:-1]
    laplacian += grey[1:-1, :-2]
    laplacian += grey[1:-1, 2:]
    laplacian -= 4 * grey[1:-1, 1:-1]
    # float64 for the sums: a BLAS dot product, exact for these integers at any image size.
    flat = laplacian.ravel().astype(np.float64)
    mean = flat.sum() / flat.size
    return max(0.0, float(np.dot(flat, flat)) / flat.size - mean * mean)
