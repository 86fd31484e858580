"""Contact sheets: a grid of thumbnails as one PNG, small enough for Dagster metadata."""

import base64
import io
from collections.abc import Sequence

from PIL import Image, ImageDraw, ImageFont

from craft_dag.imaging.decode import open_image


def contact_sheet(
    images: Sequence[bytes], labels: Sequence[str] = (), *, columns: int = 6, thumb: int = 128
) -> bytes:
    """A PNG grid of ``images`` (thumbnails ``thumb`` px square), each with an optional label."""
    if not images:
        raise ValueError("a contact sheet needs at least one image")
    rows = (len(images) + columns - 1) // columns
    label_h = 14 if labels else 0
    cell_w, cell_h = thumb + 4, thumb + 4 + label_h
    sheet = Image.new("RGB", (columns * cell_w, rows * cell_h), "white")
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.load_default(size=11)
    for i, data in enumerate(images):
        x, y = (i % columns) * cell_w + 2, (i // columns) * cell_h + 2
        try:
            image = open_image(data).convert("RGB")
            image.thumbnail((thumb, thumb))
            sheet.paste(image, (x + (thumb - image.width) // 2, y + (thumb - image.height) // 2))
        except OSError:
            draw.rectangle([x, y, x + thumb, y + thumb], outline="red")
        if i < len(labels):
            draw.text((x, y + thumb + 1), labels[i][: thumb // 6], fill="black", font=font)
    out = io.BytesIO()
    sheet.save(out, format="PNG", optimize=True)
    return out.getvalue()


def png_markdown(png: bytes, alt: str) -> str:
    """Markdown that shows ``png`` inline (a data URI): renders in Dagster's metadata panel."""
    return f"![{alt}](data:image/png;base64,{base64.b64encode(png).decode('ascii')})"
