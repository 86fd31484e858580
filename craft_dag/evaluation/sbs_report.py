"""Side-by-side votes to a report: win/tie/loss per model pair, bootstrap intervals, agreement.

Reads the JSON files the kit pages export (schema in :mod:`craft_dag.evaluation.sbs_kit`).
For each model pair (``model_a`` against ``model_b``, oriented as first seen; a pair seen the
other way round is flipped onto it) it counts, per question and overall, per category and
overall, how often ``model_b`` won, tied and lost. The win rate is ``model_b``'s share of wins;
its 95% interval is a percentile bootstrap that resamples *prompts* (all the votes on a prompt
travel together, so several assessors and seeds of one prompt do not pass for independent
evidence). Inter-rater agreement is Fleiss' kappa per question over the pairs that several
assessors rated, with the categories model a / model b / tie.
"""

from __future__ import annotations

import json
import math
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

QUESTIONS: tuple[str, ...] = ("alignment", "quality")
CHOICES: tuple[str, ...] = ("a", "b", "tie")
ALL = "all"
"""The category (or question) name of a row that pools every category (or both questions)."""

_VOTE_FIELDS = (
    "pair_id",
    "prompt_id",
    "category",
    "language",
    "question",
    "choice",
    "model_a",
    "model_b",
)


class VoteFileError(ValueError):
    """A votes file that cannot be read or does not follow the kit's export schema."""


@dataclass(frozen=True)
class Vote:
    """One person's answer to one question about one pair, on the model side (a/b/tie)."""

    kit_id: str
    assessor: str
    pair_id: str
    prompt_id: str
    category: str
    language: str
    question: str
    choice: str
    model_a: str
    model_b: str
    shown_left: str = ""
    voted_at: str = ""
    source: str = ""

    def flipped(self) -> Vote:
        """The same vote with the two models swapped (``a`` <-> ``b``)."""
        swap = {"a": "b", "b": "a", "tie": "tie", "": ""}
        return Vote(
            **{
                **asdict(self),
                "model_a": self.model_b,
                "model_b": self.model_a,
                "choice": swap[self.choice],
                "shown_left": swap.get(self.shown_left, self.shown_left),
            }
        )


def _parse_votes(data: Any, source: str) -> list[Vote]:
    if not isinstance(data, dict) or not isinstance(data.get("votes"), list):
        raise VoteFileError(f"{source}: not a votes export (an object with a 'votes' list)")
    assessor = data.get("assessor")
    if not isinstance(assessor, str) or not assessor:
        raise VoteFileError(f"{source}: no 'assessor'")
    kit = str(data.get("kit_id", ""))
    out = []
    for i, row in enumerate(data["votes"]):
        if not isinstance(row, dict):
            raise VoteFileError(f"{source}: vote #{i} is not an object")
        missing = [f for f in _VOTE_FIELDS if f not in row]
        if missing:
            raise VoteFileError(f"{source}: vote #{i} lacks {', '.join(missing)}")
        if row["question"] not in QUESTIONS:
            raise VoteFileError(f"{source}: vote #{i}: unknown question {row['question']!r}")
        if row["choice"] not in CHOICES:
            raise VoteFileError(f"{source}: vote #{i}: choice {row['choice']!r} not a/b/tie")
        out.append(
            Vote(
                kit_id=kit,
                assessor=assessor,
                pair_id=str(row["pair_id"]),
                prompt_id=str(row["prompt_id"]),
                category=str(row["category"]),
                language=str(row["language"]),
                question=row["question"],
                choice=row["choice"],
                model_a=str(row["model_a"]),
                model_b=str(row["model_b"]),
                shown_left=str(row.get("shown_left", "")),
                voted_at=str(row.get("voted_at", "")),
                source=source,
            )
        )
    return out


def votes_from_export(data: Any, source: str = "<export>") -> list[Vote]:
    """The votes of one parsed export (the JSON object a kit page saves)."""
    return _parse_votes(data, source)


def load_votes(paths: Iterable[Path | str]) -> list[Vote]:
    """Read kit exports; raise :class:`VoteFileError` naming the file for anything unreadable."""
    out: list[Vote] = []
    for path in paths:
        source = str(path)
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise VoteFileError(f"{source}: cannot read: {exc}") from exc
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise VoteFileError(f"{source}: bad JSON: {exc}") from exc
        out.extend(_parse_votes(data, source))
    return out


def dedupe(votes: Iterable[Vote]) -> list[Vote]:
    """One vote per (assessor, pair, question): the latest ``voted_at`` (then the last read)."""
    best: dict[tuple[str, str, str], Vote] = {}
    for vote in votes:
        key = (vote.assessor, vote.pair_id, vote.question)
        if key not in best or vote.voted_at >= best[key].voted_at:
            best[key] = vote
    return list(best.values())


def orient(votes: Iterable[Vote]) -> list[Vote]:
    """Put every vote of a model pair in one orientation (the first seen), flipping the others."""
    seen: set[tuple[str, str]] = set()
    out = []
    for vote in votes:
        key = (vote.model_a, vote.model_b)
        if key not in seen and (vote.model_b, vote.model_a) in seen:
            vote = vote.flipped()
        else:
            seen.add(key)
        out.append(vote)
    return out


def fleiss_kappa(counts: Sequence[Sequence[int]]) -> float:
    """Fleiss' kappa of an items x categories table of rating counts.

    Items may have different numbers of raters (each at least 2). ``nan`` where chance
    agreement is 1 (every rating in one category), where kappa is undefined.
    """
    table = np.asarray(counts, dtype=float)
    if table.ndim != 2 or table.shape[0] == 0:
        raise ValueError("counts must be a non-empty items x categories table")
    raters = table.sum(axis=1)
    if (raters < 2).any():
        raise ValueError("every item needs at least two ratings")
    agreement = ((table * table).sum(axis=1) - raters) / (raters * (raters - 1))
    p_bar = float(agreement.mean())
    shares = table.sum(axis=0) / table.sum()
    p_e = float((shares * shares).sum())
    if math.isclose(p_e, 1.0):
        return float("nan")
    return (p_bar - p_e) / (1.0 - p_e)


def bootstrap_ci(
    wins: Sequence[float],
    totals: Sequence[float],
    *,
    bootstrap: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> tuple[float, float]:
    """Percentile bootstrap interval of ``sum(wins) / sum(totals)``, resampling the units.

    ``wins[i]`` and ``totals[i]`` are one unit's (prompt's) wins and votes. Deterministic for
    a seed; with one unit, or ``bootstrap`` 0, the interval is the point estimate. (A ratio's
    percentile interval can, in rare skewed cases, miss the point estimate: it is then widened
    to reach it.)
    """
    w = np.asarray(wins, dtype=float)
    t = np.asarray(totals, dtype=float)
    if w.shape != t.shape or w.ndim != 1 or len(w) == 0 or t.sum() <= 0:
        raise ValueError("wins and totals must be equal-length, non-empty, with votes")
    point = float(w.sum() / t.sum())
    if bootstrap <= 0 or len(w) == 1:
        return point, point
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(w), size=(bootstrap, len(w)))
    sums_t = t[idx].sum(axis=1)
    rates = np.where(sums_t > 0, w[idx].sum(axis=1) / np.maximum(sums_t, 1e-12), point)
    alpha = (1.0 - level) / 2.0
    low, high = np.quantile(rates, [alpha, 1.0 - alpha])
    return float(min(low, point)), float(max(high, point))


@dataclass(frozen=True)
class Tally:
    """Win/tie/loss of ``model_b`` against ``model_a`` for one question and category."""

    model_a: str
    model_b: str
    question: str
    category: str
    n: int
    wins_b: int
    ties: int
    wins_a: int
    prompts: int
    win_rate: float
    ci_low: float
    ci_high: float

    @property
    def tie_rate(self) -> float:
        """Share of ties."""
        return self.ties / self.n

    @property
    def loss_rate(self) -> float:
        """Share of ``model_a`` wins."""
        return self.wins_a / self.n


@dataclass(frozen=True)
class Agreement:
    """Fleiss' kappa for one question over the pairs rated by two or more assessors."""

    question: str
    items: int
    ratings: int
    kappa: float | None


@dataclass
class Report:
    """What :func:`report` computes; :func:`write_report` renders it."""

    votes: int
    assessors: list[str]
    pairs: int
    prompts: int
    model_pairs: list[tuple[str, str]]
    tallies: list[Tally]
    agreement: list[Agreement]
    bootstrap: int
    seed: int
    categories: list[str] = field(default_factory=list)

    def tally(self, model_a: str, model_b: str, question: str = ALL, category: str = ALL) -> Tally:
        """The row for a model pair, question and category (``ALL`` pools)."""
        for row in self.tallies:
            if (row.model_a, row.model_b, row.question, row.category) == (
                model_a,
                model_b,
                question,
                category,
            ):
                return row
        raise KeyError((model_a, model_b, question, category))

    def table(self) -> str:
        """A plain-text summary: the overall rows per model pair and question, then kappa."""
        lines = [
            f"{self.votes} votes by {len(self.assessors)} assessor(s) on {self.pairs} pairs "
            f"({self.prompts} prompts)",
            f"{'model_b vs model_a':<40} {'question':<10} {'n':>5} {'win':>6} {'tie':>6} "
            f"{'loss':>6}  win rate [95% CI]",
        ]
        for row in self.tallies:
            if row.category != ALL:
                continue
            name = f"{row.model_b} vs {row.model_a}"
            lines.append(
                f"{name:<40} {row.question:<10} {row.n:>5} {row.wins_b:>6} {row.ties:>6} "
                f"{row.wins_a:>6}  {_pct(row.win_rate)} [{_pct(row.ci_low)}, {_pct(row.ci_high)}]"
            )
        for agr in self.agreement:
            lines.append(
                f"Fleiss' kappa ({agr.question}): {_kappa(agr.kappa)} over {agr.items} pairs"
            )
        return "\n".join(lines)


def _pct(x: float) -> str:
    return f"{100 * x:5.1f}%"


def _kappa(k: float | None) -> str:
    return "n/a" if k is None else f"{k:.3f}"


def _tally(
    votes: Sequence[Vote], model_a: str, model_b: str, question: str, category: str, **kw: Any
) -> Tally:
    per_prompt: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    counts = dict.fromkeys(CHOICES, 0)
    for vote in votes:
        counts[vote.choice] += 1
        per_prompt[vote.prompt_id][0] += vote.choice == "b"
        per_prompt[vote.prompt_id][1] += 1
    keys = sorted(per_prompt)
    low, high = bootstrap_ci(
        [per_prompt[k][0] for k in keys], [per_prompt[k][1] for k in keys], **kw
    )
    n = len(votes)
    return Tally(
        model_a=model_a,
        model_b=model_b,
        question=question,
        category=category,
        n=n,
        wins_b=counts["b"],
        ties=counts["tie"],
        wins_a=counts["a"],
        prompts=len(keys),
        win_rate=counts["b"] / n,
        ci_low=low,
        ci_high=high,
    )


def _agreement(votes: Sequence[Vote], question: str) -> Agreement:
    by_item: dict[str, dict[str, str]] = defaultdict(dict)
    for vote in votes:
        if vote.question == question:
            by_item[vote.pair_id][vote.assessor] = vote.choice
    rows = [
        [sum(1 for c in raters.values() if c == choice) for choice in CHOICES]
        for _, raters in sorted(by_item.items())
        if len(raters) >= 2
    ]
    if not rows:
        return Agreement(question=question, items=0, ratings=0, kappa=None)
    kappa = fleiss_kappa(rows)
    return Agreement(
        question=question,
        items=len(rows),
        ratings=sum(map(sum, rows)),
        kappa=None if math.isnan(kappa) else kappa,
    )


def report(votes: Iterable[Vote], *, bootstrap: int = 1000, seed: int = 0) -> Report:
    """Tally votes per model pair, question (and both) and category (and all), with agreement.

    Duplicate votes (one assessor, pair and question, e.g. two exports) count once: the latest.
    """
    clean = orient(dedupe(votes))
    if not clean:
        raise ValueError("no votes to report on")
    model_pairs = list(dict.fromkeys((v.model_a, v.model_b) for v in clean))
    categories = sorted({v.category for v in clean})
    tallies = []
    for model_a, model_b in model_pairs:
        mine = [v for v in clean if (v.model_a, v.model_b) == (model_a, model_b)]
        for question in (*QUESTIONS, ALL):
            asked = [v for v in mine if question in (ALL, v.question)]
            for category in (ALL, *categories):
                rows = [v for v in asked if category in (ALL, v.category)]
                if rows:
                    tallies.append(
                        _tally(
                            rows,
                            model_a,
                            model_b,
                            question,
                            category,
                            bootstrap=bootstrap,
                            seed=seed,
                        )
                    )
    return Report(
        votes=len(clean),
        assessors=sorted({v.assessor for v in clean}),
        pairs=len({v.pair_id for v in clean}),
        prompts=len({v.prompt_id for v in clean}),
        model_pairs=model_pairs,
        tallies=tallies,
        agreement=[_agreement(clean, q) for q in QUESTIONS],
        bootstrap=bootstrap,
        seed=seed,
        categories=categories,
    )


# ----------------------------------------------------------------------------- rendering

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
        out.append(f"| {agr.question} | {agr.items} | {agr.ratings} | {_kappa(agr.kappa)} |")
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
