"""Model building blocks shared by the pipeline's model stages.

``tiny`` builds tiny randomly initialised models and tokenizers from configs in code, for the
``tiny`` profile and the tests: no weights are ever downloaded, and each tiny model is saved
and loaded back through the same ``from_pretrained`` code the ``full`` profile's models use.

Layering: ``models`` sits just above ``imaging`` and below every stage (curation, captioning,
translation, training import it); it imports no stage, so what it shares with one (the 8-bit
greyscale conversion) lives in ``imaging``.
"""

from PIL import Image

from craft_dag.imaging.decode import ImageRejected
from craft_dag.imaging.greyscale import to_greyscale

_WIDE_MODES = frozenset({"I;16", "I;16L", "I;16B", "I;16N", "I", "F"})
_WHITE = (255, 255, 255)


def to_rgb(image: Image.Image) -> Image.Image:
    """``image`` as an 8-bit RGB image of the same size, ready for a model's image processor.

    Image processors assume 8-bit RGB: a 16-bit image would be clipped to white, a CMYK one
    read as four channels, transparent pixels shown as whatever colour they happen to store.
    So wide greyscale is scaled to 8 bits, transparency composited on white (as a viewer shows
    it) and every other mode converted. An image that fails to decode (a lazily opened,
    truncated file) raises ``ImageRejected("decode_error", ...)`` for the caller to record.
    """
    try:
        if image.mode in _WIDE_MODES:
            return to_greyscale(image).convert("RGB")
        transparent = (
            image.mode in {"RGBA", "LA", "PA", "RGBa", "La"} or "transparency" in image.info
        )
        if transparent:
            rgba = image.convert("RGBA")
            background = Image.new("RGB", rgba.size, _WHITE)
            background.paste(rgba, mask=rgba.getchannel("A"))
            return background
        if image.mode == "RGB":
            image.load()
            return image
        return image.convert("RGB")
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ImageRejected("decode_error", f"{image.format or image.mode}: {exc}") from exc
