"""Rendering a side-by-side report: stacked-bar PNGs, markdown, and the JSON beside them."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from craft_dag.evaluation.sbs_stats import Report, Tally, format_kappa
from craft_dag.evaluation.sbs_votes import ALL, QUESTIONS

_GREEN, _GREY, _RED = (46, 125, 50), (158, 158, 158), (198, 40, 40)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_") or "model"


def _font(size: int) -> Any:
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError):  # Pillow without FreeType: the fixed bitmap font
        return ImageFont.load_default()


def plot_tallies(rows: Sequence[Tally], title: str, path: Path) -> Path:
    """Stacked horizontal bars (model_b wins / tie / model_a wins) per category, as a PNG.

    The black whisker under each bar is the bootstrap interval of model_b's win rate.
    """
    from PIL import Image, ImageDraw

    label_w, bar_w, row_h, top, pad = 260, 620, 38, 50, 16
    height = top + row_h * len(rows) + 60
    image = Image.new("RGB", (label_w + bar_w + 2 * pad, height), "white")
    draw = ImageDraw.Draw(image)
    font, small = _font(15), _font(12)
    draw.text((pad, 14), title, fill="black", font=font)
    for i, row in enumerate(rows):
        y = top + i * row_h
        label = f"{row.category} (n={row.n})"
        draw.text((pad, y + 7), label, fill="black", font=small)
        x = label_w + pad
        for share, colour in ((row.win_rate, _GREEN), (row.tie_rate, _GREY), (row.loss_rate, _RED)):
            w = round(share * bar_w)
            if w > 0:
                draw.rectangle([x, y + 3, x + w - 1, y + 24], fill=colour)
                if w >= 38:
                    draw.text((x + 4, y + 7), f"{100 * share:.0f}%", fill="white", font=small)
            x += w
        lo, hi = label_w + pad + row.ci_low * bar_w, label_w + pad + row.ci_high * bar_w
        mid = y + 31  # the interval sits under its bar
        draw.line([lo, mid, hi, mid], fill="black", width=2)
        draw.line([lo, mid - 3, lo, mid + 3], fill="black", width=2)
        draw.line([hi, mid - 3, hi, mid + 3], fill="black", width=2)
    y = height - 34
    x = label_w + pad
    names = (f"{rows[0].model_b} wins", "tie", f"{rows[0].model_a} wins") if rows else ()
    for name, colour in zip(names, (_GREEN, _GREY, _RED), strict=False):
        draw.rectangle([x, y, x + 14, y + 14], fill=colour)
        draw.text((x + 20, y), name, fill="black", font=small)
        x += 30 + int(draw.textlength(name, font=small))
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, format="PNG")
    return path


def _md_escape(text: str) -> str:
    return text.replace("|", "\\|")


def render_markdown(rep: Report, plots: dict[tuple[str, str, str], str] | None = None) -> str:
    """The report as markdown; ``plots`` maps (model_a, model_b, question) to an image path."""
    plots = plots or {}
    out = [
        "# Side-by-side evaluation",
        "",
        f"{rep.votes} votes by {len(rep.assessors)} assessor(s) ({', '.join(rep.assessors)}) "
        f"on {rep.pairs} pairs of {rep.prompts} prompts. Win rate: the share of votes for "
        f"model B; 95% intervals from {rep.bootstrap} bootstrap resamples of prompts "
        f"(seed {rep.seed}).",
        "",
    ]
    for model_a, model_b in rep.model_pairs:
        out += [f"## {_md_escape(model_b)} (B) vs {_md_escape(model_a)} (A)", ""]
        for question in (*QUESTIONS, ALL):
            rows = [
                r
                for r in rep.tallies
                if (r.model_a, r.model_b, r.question) == (model_a, model_b, question)
            ]
            if not rows:
                continue
            name = {"alignment": "Text alignment", "quality": "Visual quality"}.get(
                question, "Both questions"
            )
            out += [
                f"### {name}",
                "",
                "| category | votes | prompts | B wins | tie | A wins | B win rate [95% CI] |",
                "| --- | ---: | ---: | ---: | ---: | ---: | --- |",
            ]
            for r in rows:
                out.append(
                    f"| {_md_escape(r.category)} | {r.n} | {r.prompts} | {r.wins_b} | {r.ties} "
                    f"| {r.wins_a} | {100 * r.win_rate:.1f}% "
                    f"[{100 * r.ci_low:.1f}%, {100 * r.ci_high:.1f}%] |"
                )
            out.append("")
            if (model_a, model_b, question) in plots:
                out += [f"![{name}]({plots[(model_a, model_b, question)]})", ""]
    out += [
        "## Inter-rater agreement",
        "",
        "Fleiss' kappa over the pairs rated by two or more assessors (categories: A, B, tie).",
        "",
        "| question | pairs | ratings | kappa |",
        "| --- | ---: | ---: | ---: |",
    ]
    for agr in rep.agreement:
        out.append(f"| {agr.question} | {agr.items} | {agr.ratings} | {format_kappa(agr.kappa)} |")
    return "\n".join(out) + "\n"


def write_report(rep: Report, out_dir: Path | str) -> tuple[Path, list[Path]]:
    """Write ``report.md``, ``report.json`` and one PNG per model pair and question."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    plots: dict[tuple[str, str, str], str] = {}
    pngs = []
    for model_a, model_b in rep.model_pairs:
        for question in (*QUESTIONS, ALL):
            rows = [
                r
                for r in rep.tallies
                if (r.model_a, r.model_b, r.question) == (model_a, model_b, question)
            ]
            if not rows:
                continue
            name = f"sbs_{_slug(model_b)}_vs_{_slug(model_a)}_{question}.png"
            pngs.append(plot_tallies(rows, f"{model_b} vs {model_a}: {question}", out / name))
            plots[(model_a, model_b, question)] = name
    md = out / "report.md"
    md.write_text(render_markdown(rep, plots), encoding="utf-8")
    (out / "report.json").write_text(
        json.dumps(
            {
                **{k: v for k, v in asdict(rep).items() if k not in ("tallies", "agreement")},
                "tallies": [asdict(t) for t in rep.tallies],
                "agreement": [asdict(a) for a in rep.agreement],
            },
            indent=2,
            ensure_ascii=False,
        ),
        encoding="utf-8",
    )
    return md, pngs
