"""A horizontal grouped bar chart drawn with Pillow, for the dataset card's plots."""

import io
from collections.abc import Mapping, Sequence

from PIL import Image, ImageDraw, ImageFont

from craft_dag import markdown

_COLOURS = ("#4c72b0", "#dd8452", "#55a868", "#c44e52")


def bar_chart_png(
    title: str, labels: Sequence[str], series: Mapping[str, Sequence[float]], *, width: int = 640
) -> bytes:
    """A horizontal grouped bar chart as PNG: one group per label, one bar per series.

    Drawn with Pillow, already a dependency, so the card needs no plotting library.
    """
    font = ImageFont.load_default(size=12)
    bar_h, gap, label_w, top = 10, 6, 170, 40
    group_h = bar_h * len(series) + gap
    height = top + group_h * len(labels) + 10
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    draw.text((8, 6), title, fill="black", font=font)
    for i, name in enumerate(series):  # legend
        x = 8 + i * 110
        draw.rectangle([x, 24, x + 10, 34], fill=_COLOURS[i % len(_COLOURS)])
        draw.text((x + 14, 22), name, fill="black", font=font)
    peak = max((v for values in series.values() for v in values), default=0) or 1
    span = width - label_w - 60
    for j, label in enumerate(labels):
        y = top + j * group_h
        draw.text((8, y), markdown.cell(label, 26), fill="black", font=font)
        for i, values in enumerate(series.values()):
            value = values[j] if j < len(values) else 0
            x1 = label_w + round(span * value / peak)
            yb = y + i * bar_h
            draw.rectangle([label_w, yb, max(x1, label_w + 1), yb + bar_h - 2], fill=_COLOURS[i])
            text = f"{value:.1f}" if isinstance(value, float) else str(value)
            draw.text((x1 + 4, yb - 2), text, fill="black", font=font)
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()
