"""Decode untrusted image bytes safely.

The format is decided by magic bytes, never by a server's Content-Type. Decoding runs under a
pixel limit checked from the header before any pixel is decoded, so a small file that claims
20000x20000 pixels is rejected without allocating them; Pillow's own global limit is left
alone (other code in the process may rely on it).
"""

import io
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

# Formats accepted for training images. TIFF, SVG, PDF and friends are not photos from the web.
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\xff\xd8\xff", "JPEG"),
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
    (b"BM", "BMP"),
)
DEFAULT_MAX_PIXELS = 64_000_000  # ~8000x8000: more than any training bucket needs
_ORIENTATION_TAG = 0x0112


class ImageRejected(ValueError):
    """Bytes that are not an acceptable image; ``reason`` is a fetch-failure reason."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class DecodedImage:
    """An accepted image: the bytes to store (orientation applied) and what was found."""

    data: bytes
    format: str
    width: int
    height: int
    mode: str
    frames: int
    reoriented: bool


def sniff_format(data: bytes) -> str | None:
    """The image format named by the leading bytes, or None."""
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    for magic, name in _MAGIC:
        if data.startswith(magic):
            return name
    return None


def _encode_like(image: Image.Image, fmt: str, source: Image.Image) -> bytes:
    out = io.BytesIO()
    params: dict[str, object] = {}
    if icc := source.info.get("icc_profile"):
        params["icc_profile"] = icc
    if fmt == "JPEG":
        params.update(quality=95, subsampling=0)
    image.save(out, format=fmt, **params)
    return out.getvalue()


def open_untrusted(data: bytes, max_pixels: int = DEFAULT_MAX_PIXELS) -> tuple[Image.Image, str]:
    """Identify ``data`` by its magic bytes and open it, reading the header only.

    Raises ImageRejected if it is no accepted format, or if the header declares more than
    ``max_pixels`` pixels: nothing has been decoded yet, so a bomb costs nothing.
    """
    fmt = sniff_format(data)
    if fmt is None:
        raise ImageRejected("not_an_image", f"no image signature (first bytes {data[:16]!r})")
    with rejecting(fmt), warnings.catch_warnings():
        # Our own pixel limit applies below; Pillow's warning would only be noise.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        image = Image.open(io.BytesIO(data), formats=[fmt])
    width, height = image.size
    if width * height > max_pixels:
        raise ImageRejected(
            "decompression_bomb", f"{width}x{height} exceeds the {max_pixels} pixel limit"
        )
    return image, fmt


@contextmanager
def rejecting(fmt: str) -> Iterator[None]:
    """Turn any decoder error inside the block into ImageRejected (decode_error or bomb)."""
    try:
        yield
    except ImageRejected:
        raise
    except Image.DecompressionBombError as exc:
        raise ImageRejected("decompression_bomb", str(exc)) from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ImageRejected("decode_error", f"{fmt}: {exc}") from exc
    except Exception as exc:
        # Malformed files can trip other errors deep in a decoder (struct.error, IndexError,
        # ...). One hostile file must become a recorded rejection, never a failed partition.
        raise ImageRejected("decode_error", f"{fmt}: {type(exc).__name__}: {exc}") from exc


def decode_image(data: bytes, max_pixels: int = DEFAULT_MAX_PIXELS) -> DecodedImage:
    """Check, decode and orient ``data``; raise ImageRejected with a reason if it is no good.

    When the EXIF orientation says the pixels are stored rotated or mirrored, the image is
    transposed and re-encoded in its own format, so every later stage sees it upright.
    """
    image, fmt = open_untrusted(data, max_pixels)
    width, height = image.size
    with rejecting(fmt):
        image.load()
        frames = getattr(image, "n_frames", 1)

    orientation = image.getexif().get(_ORIENTATION_TAG, 1) if fmt in ("JPEG", "PNG", "WEBP") else 1
    if orientation not in (None, 1) and frames == 1:
        upright = ImageOps.exif_transpose(image)
        stored = _encode_like(upright, fmt, image)
        return DecodedImage(
            stored, fmt, upright.width, upright.height, upright.mode, frames, reoriented=True
        )
    return DecodedImage(data, fmt, width, height, image.mode, frames, reoriented=False)


def open_image(data: bytes) -> Image.Image:
    """Open stored image bytes (already checked) for processing; the first frame, loaded."""
    image = Image.open(io.BytesIO(data))
    image.load()
    return image
