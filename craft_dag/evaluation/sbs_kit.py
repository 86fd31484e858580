"""The side-by-side human evaluation kit: one self-contained static HTML page per assessor.

The CRAFT paper (section 5) had people choose, side by side, the better of two images for the
same prompt, once for text alignment and once for visual quality. A kit is a single HTML file
with everything inline (images as data URIs, the script and the styles), so it opens from disk
with no server. Per assessor, each pair's left/right order is shuffled with a seed and recorded
inside the page (hidden from the person, as are the model names); votes are kept in the
browser's ``localStorage`` under the kit id and the assessor, so a reload loses nothing, and an
export button saves them as JSON with the choice given as the *model* side (``a`` = ``model_a``);
``window.craftExportVotes()`` returns the same JSON text (for tests and scripted collection).
Keys: 1 / 2 / 3 answer the alignment question (left / right / tie), Q / W / E the quality one,
Enter or the right arrow go to the next pair, the left arrow to the previous one.

Vote JSON (what the page exports and :mod:`craft_dag.evaluation.sbs_report` reads)::

    {"kit_id": str, "assessor": str, "exported_at": ISO-8601 str,
     "votes": [{"pair_id", "prompt_id", "category", "language",
                "question": "alignment" | "quality", "choice": "a" | "b" | "tie",
                "model_a", "model_b", "shown_left": "a" | "b", "voted_at": ISO-8601 str}]}
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import random
import re
from collections.abc import Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

QUESTIONS: tuple[str, ...] = ("alignment", "quality")
"""The paper's two questions, in the order the page asks them."""

PAIR_FIELDS: tuple[str, ...] = (
    "pair_id",
    "prompt_id",
    "category",
    "language",
    "text",
    "seed",
    "model_a",
    "model_b",
)
"""Fields every pair carries besides its two images (``image_a``, ``image_b``: bytes)."""

_DATA_PLACEHOLDER = "__CRAFT_KIT_DATA__"
_TITLE_PLACEHOLDER = "__CRAFT_TITLE__"


def kit_id(pairs: Sequence[Mapping[str, Any]], seed: int) -> str:
    """A short id for a set of pairs and a layout seed: the same for every assessor of a kit."""
    ids = sorted(str(p["pair_id"]) for p in pairs)
    digest = hashlib.sha256(json.dumps([seed, ids]).encode("utf-8")).hexdigest()
    return digest[:12]


def layout(pairs: Sequence[Mapping[str, Any]], assessor: str, seed: int) -> dict[str, str]:
    """Which model each pair shows on the left for one assessor: ``{pair_id: "a" | "b"}``.

    Deterministic for (seed, assessor, pair_id), independent of the order of ``pairs``.
    """
    out: dict[str, str] = {}
    for pair in pairs:
        pid = str(pair["pair_id"])
        rng = random.Random(f"{seed}\x1f{assessor}\x1f{pid}")
        out[pid] = "a" if rng.random() < 0.5 else "b"
    return out


def image_mime(data: bytes) -> str:
    """The MIME type of PNG, JPEG, WebP or GIF bytes (from their magic numbers)."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    raise ValueError("image bytes are not PNG, JPEG, WebP or GIF")


def data_uri(data: bytes) -> str:
    """Image bytes as a ``data:`` URI."""
    return f"data:{image_mime(data)};base64,{base64.b64encode(data).decode('ascii')}"


def _check_pairs(pairs: Sequence[Mapping[str, Any]]) -> None:
    if not pairs:
        raise ValueError("a kit needs at least one pair")
    seen: set[str] = set()
    for i, pair in enumerate(pairs):
        missing = [f for f in (*PAIR_FIELDS, "image_a", "image_b") if f not in pair]
        if missing:
            raise ValueError(f"pair #{i} lacks {', '.join(missing)}")
        pid = str(pair["pair_id"])
        if pid in seen:
            raise ValueError(f"pair_id {pid!r} repeats")
        seen.add(pid)


def _script_json(value: Any) -> str:
    """JSON safe inside ``<script type="application/json">`` (no ``</script>`` break-out)."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def build_kit(
    pairs: Sequence[Mapping[str, Any]],
    *,
    assessor: str,
    seed: int,
    title: str,
) -> str:
    """The HTML of one assessor's kit page: self-contained, no server needed.

    ``pairs``: dicts with ``pair_id``, ``prompt_id``, ``category``, ``language``, ``text``,
    ``seed``, ``model_a``, ``model_b`` and the images' bytes ``image_a``, ``image_b`` (PNG or
    JPEG). The page shows the pairs in the given order, each with the left/right order drawn by
    :func:`layout`.
    """
    _check_pairs(pairs)
    if not assessor:
        raise ValueError("assessor must not be empty")
    sides = layout(pairs, assessor, seed)
    items = []
    for pair in pairs:
        pid = str(pair["pair_id"])
        left, right = ("image_a", "image_b") if sides[pid] == "a" else ("image_b", "image_a")
        items.append(
            {
                "pair_id": pid,
                "prompt_id": str(pair["prompt_id"]),
                "category": str(pair["category"]),
                "language": str(pair["language"]),
                "text": str(pair["text"]),
                "seed": pair["seed"],
                "model_a": str(pair["model_a"]),
                "model_b": str(pair["model_b"]),
                "shown_left": sides[pid],
                "left": data_uri(bytes(pair[left])),
                "right": data_uri(bytes(pair[right])),
            }
        )
    data = {
        "kit_id": kit_id(pairs, seed),
        "assessor": assessor,
        "title": title,
        "questions": list(QUESTIONS),
        "pairs": items,
    }
    template = resources.files(__package__).joinpath("kit_template.html").read_text("utf-8")
    values = {_TITLE_PLACEHOLDER: html.escape(title), _DATA_PLACEHOLDER: _script_json(data)}
    # One pass, so a placeholder's text inside a prompt or the title is never substituted.
    return re.sub(
        f"{_TITLE_PLACEHOLDER}|{_DATA_PLACEHOLDER}", lambda m: values[m.group(0)], template
    )


def kit_filename(assessor: str) -> str:
    """The file name of an assessor's kit (characters outside ``[A-Za-z0-9_.-]`` become ``_``)."""
    return f"kit_{re.sub(r'[^A-Za-z0-9_.-]', '_', assessor)}.html"


def write_kits(
    pairs: Sequence[Mapping[str, Any]],
    assessors: Sequence[str],
    out_dir: Path | str,
    *,
    seed: int = 0,
    title: str = "Side-by-side evaluation",
) -> list[Path]:
    """Write one kit per assessor into ``out_dir`` (``kit_<assessor>.html``); return the paths."""
    if not assessors:
        raise ValueError("at least one assessor is needed")
    names = [kit_filename(a) for a in assessors]
    if len(set(names)) != len(names):
        raise ValueError(f"assessor names collide as file names: {list(assessors)}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for assessor, name in zip(assessors, names, strict=True):
        path = out / name
        path.write_text(build_kit(pairs, assessor=assessor, seed=seed, title=title), "utf-8")
        paths.append(path)
    return paths
