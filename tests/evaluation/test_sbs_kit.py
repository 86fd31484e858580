"""The side-by-side kit page: self-contained, randomised per assessor, model names hidden."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from craft_dag.evaluation.sbs_kit import (
    build_kit,
    data_uri,
    image_mime,
    kit_filename,
    kit_id,
    layout,
    write_kits,
)

COLOURS = ["#c62828", "#1565c0", "#2e7d32", "#f9a825", "#6a1b9a", "#00838f", "#4e342e", "#ad1457"]


def png(colour: str, size: int = 64, mark: int = 0) -> bytes:
    """A small real PNG of one colour (``mark`` draws a distinct white square in a corner)."""
    image = Image.new("RGB", (size, size), colour)
    start = (mark * 4) % (size - 4)
    for x in range(start, start + 4):
        for y in range(4):
            image.putpixel((x, y), (255, 255, 255))
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


def make_pairs(n: int = 5, *, model_a: str = "base-k31", model_b: str = "craft-tuned") -> list:
    """``n`` pairs over two categories and ``ceil(n/2)`` prompts, with distinct real PNGs."""
    return [
        {
            "pair_id": f"pair-{i:03d}",
            "prompt_id": f"prompt-{i // 2}",
            "category": ("folk_crafts", "cuisine")[i % 2],
            "language": "ru" if i % 3 else "en",
            "text": f"Пример запроса {i}: матрёшка & <b>чай</b>",
            "seed": 1000 + i,
            "model_a": model_a,
            "model_b": model_b,
            "image_a": png(COLOURS[(2 * i) % len(COLOURS)], mark=i),
            "image_b": png(COLOURS[(2 * i + 1) % len(COLOURS)], mark=i),
        }
        for i in range(n)
    ]


def kit_data(page: str) -> dict[str, Any]:
    """The JSON the page embeds."""
    match = re.search(r'<script type="application/json" id="craft-kit">(.*?)</script>', page, re.S)
    assert match, "no embedded kit data"
    return json.loads(match.group(1))


def visible_markup(page: str) -> str:
    """The page without its embedded data and script: what a person can read."""
    return re.sub(r"<script.*?</script>", "", page, flags=re.S)


def test_kit_is_self_contained_and_hides_the_models() -> None:
    pairs = make_pairs(5)
    page = build_kit(pairs, assessor="anna", seed=7, title="CRAFT SbS")
    data = kit_data(page)
    assert data["assessor"] == "anna"
    assert data["kit_id"] == kit_id(pairs, 7)
    assert [p["pair_id"] for p in data["pairs"]] == [p["pair_id"] for p in pairs]
    # Nothing is fetched: no external URLs, scripts or styles.
    assert not re.search(r'(src|href)="(https?:)?//', page)
    assert "<link" not in page
    visible = visible_markup(page)
    for name in ("base-k31", "craft-tuned", "model_a", "model_b"):
        assert name not in visible
    for item, pair in zip(data["pairs"], pairs, strict=True):
        left, right = (
            (pair["image_a"], pair["image_b"])
            if item["shown_left"] == "a"
            else (pair["image_b"], pair["image_a"])
        )
        assert item["left"] == data_uri(left)
        assert item["right"] == data_uri(right)
        assert item["left"].startswith("data:image/png;base64,")
        assert item["text"] == pair["text"]


def test_layout_is_seeded_per_assessor_and_balanced() -> None:
    pairs = make_pairs(60)
    one = layout(pairs, "anna", 0)
    assert one == layout(list(reversed(pairs)), "anna", 0)
    assert one != layout(pairs, "boris", 0)
    assert one != layout(pairs, "anna", 1)
    lefts = sum(side == "a" for side in one.values())
    assert 15 < lefts < 45


def test_embedded_text_cannot_break_out_of_the_script() -> None:
    pairs = make_pairs(2)
    pairs[0]["text"] = "</script><script>alert(1)</script> __CRAFT_TITLE__ __CRAFT_KIT_DATA__"
    page = build_kit(pairs, assessor="a", seed=0, title="T </title> __CRAFT_KIT_DATA__")
    assert page.count("<script") == 2
    assert kit_data(page)["pairs"][0]["text"] == pairs[0]["text"]
    assert "<title>T &lt;/title&gt; __CRAFT_KIT_DATA__</title>" in page


def test_image_types() -> None:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), "red").save(buf, format="JPEG")
    assert image_mime(buf.getvalue()) == "image/jpeg"
    assert image_mime(png("#000000")) == "image/png"
    with pytest.raises(ValueError, match="not PNG"):
        image_mime(b"hello")


def test_bad_pairs_are_refused() -> None:
    pairs = make_pairs(2)
    with pytest.raises(ValueError, match="at least one pair"):
        build_kit([], assessor="a", seed=0, title="t")
    with pytest.raises(ValueError, match="repeats"):
        build_kit([pairs[0], dict(pairs[0])], assessor="a", seed=0, title="t")
    broken = dict(pairs[0])
    del broken["image_b"]
    with pytest.raises(ValueError, match="lacks image_b"):
        build_kit([broken], assessor="a", seed=0, title="t")


def test_write_kits(tmp_path: Path) -> None:
    pairs = make_pairs(3)
    paths = write_kits(pairs, ["anna", "boris k."], tmp_path / "kits", seed=3, title="t")
    assert [p.name for p in paths] == ["kit_anna.html", "kit_boris_k..html"]
    assert kit_filename("boris k.") == "kit_boris_k..html"
    datas = [kit_data(p.read_text("utf-8")) for p in paths]
    assert {d["kit_id"] for d in datas} == {kit_id(pairs, 3)}
    assert [d["assessor"] for d in datas] == ["anna", "boris k."]
    with pytest.raises(ValueError, match="collide"):
        write_kits(pairs, ["a b", "a_b"], tmp_path / "x")
