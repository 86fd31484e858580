"""Decoding untrusted bytes: the format by magic bytes, a pixel limit, orientation applied."""

import io

import pytest
from PIL import Image

from craft_dag.imaging.decode import ImageRejected, decode_image, sniff_format


def encode(image: Image.Image, fmt: str, **params: object) -> bytes:
    out = io.BytesIO()
    image.save(out, format=fmt, **params)
    return out.getvalue()


def photo(size: tuple[int, int] = (64, 48), mode: str = "RGB") -> Image.Image:
    image = Image.linear_gradient("L").resize(size).convert(mode)
    return image


@pytest.mark.parametrize(
    ("fmt", "mode"),
    [
        ("JPEG", "RGB"),
        ("PNG", "RGB"),
        ("WEBP", "RGB"),
        ("GIF", "P"),
        ("JPEG", "CMYK"),
        ("PNG", "I;16"),
        ("BMP", "RGB"),
    ],
)
def test_valid_formats_and_modes_are_accepted(fmt: str, mode: str) -> None:
    data = encode(photo(mode=mode), fmt)
    decoded = decode_image(data)
    assert decoded.format == fmt
    assert (decoded.width, decoded.height) == (64, 48)
    assert decoded.data == data and not decoded.reoriented
    assert sniff_format(data) == fmt


def test_the_content_is_judged_by_magic_bytes() -> None:
    with pytest.raises(ImageRejected) as excinfo:
        decode_image(b"<!doctype html><html><body>not found</body></html>")
    assert excinfo.value.reason == "not_an_image"
    assert sniff_format(b"") is None


def test_truncated_image_is_a_decode_error() -> None:
    data = encode(photo((256, 256)), "JPEG")
    with pytest.raises(ImageRejected) as excinfo:
        decode_image(data[: len(data) // 2])
    assert excinfo.value.reason == "decode_error"


def test_pixel_limit_is_checked_from_the_header() -> None:
    data = encode(Image.new("1", (4000, 4000)), "PNG")
    with pytest.raises(ImageRejected) as excinfo:
        decode_image(data, max_pixels=1_000_000)
    assert excinfo.value.reason == "decompression_bomb"
    assert "4000x4000" in excinfo.value.detail


def test_exif_orientation_is_applied_and_the_image_re_encoded() -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise for display
    data = encode(photo((64, 48)), "JPEG", exif=exif)
    decoded = decode_image(data)
    assert decoded.reoriented
    assert (decoded.width, decoded.height) == (48, 64)
    upright = Image.open(io.BytesIO(decoded.data))
    assert upright.size == (48, 64)
    assert upright.getexif().get(0x0112, 1) == 1


def test_animated_gif_counts_frames() -> None:
    frames = [photo().rotate(90 * i).convert("P") for i in range(3)]
    out = io.BytesIO()
    frames[0].save(out, format="GIF", save_all=True, append_images=frames[1:])
    assert decode_image(out.getvalue()).frames == 3


def test_an_unexpected_decoder_error_is_a_rejection(monkeypatch: pytest.MonkeyPatch) -> None:
    import struct

    from PIL import ImageFile

    def explode(self: ImageFile.ImageFile) -> None:
        raise struct.error("unpack requires a buffer of 4 bytes")

    monkeypatch.setattr(ImageFile.ImageFile, "load", explode)
    with pytest.raises(ImageRejected) as excinfo:
        decode_image(encode(photo(), "PNG"))
    assert excinfo.value.reason == "decode_error"
    assert excinfo.value.detail == "PNG: error: unpack requires a buffer of 4 bytes"
