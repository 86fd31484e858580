"""``craft sbs``: build side-by-side kits and report on the votes people export from them.

``craft sbs report VOTES... [--out DIR]`` prints the summary table and writes ``report.md``,
``report.json`` and the PNG plots (exit 2 if a votes file cannot be read).
``craft sbs kit PAIRS_JSON --assessors a,b --out DIR`` writes one kit page per assessor from a
JSON list of pairs whose ``image_a`` and ``image_b`` are image file paths (relative to the JSON
file's folder).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from craft_dag.evaluation.sbs_kit import write_kits
from craft_dag.evaluation.sbs_report import VoteFileError, load_votes, report, write_report


def _report(args: argparse.Namespace) -> int:
    try:
        votes = load_votes(args.votes)
    except VoteFileError as exc:
        print(f"craft sbs report: {exc}", file=sys.stderr)
        return 2
    if not votes:
        print("craft sbs report: the files hold no votes", file=sys.stderr)
        return 2
    rep = report(votes, bootstrap=args.bootstrap, seed=args.seed)
    print(rep.table())
    md, pngs = write_report(rep, args.out)
    print(f"{md} ({len(pngs)} plots)")
    return 0


def _load_pairs(path: Path) -> list[dict[str, Any]]:
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, list):
        raise ValueError("expected a JSON list of pairs")
    pairs = []
    for i, item in enumerate(data):
        pair = dict(item)
        for side in ("image_a", "image_b"):
            if side not in pair:
                raise ValueError(f"pair #{i} lacks {side}")
            pair[side] = (path.parent / str(pair[side])).read_bytes()
        pairs.append(pair)
    return pairs


def _kit(args: argparse.Namespace) -> int:
    path = Path(args.pairs)
    try:
        pairs = _load_pairs(path)
    except (OSError, ValueError) as exc:
        print(f"craft sbs kit: {path}: {exc}", file=sys.stderr)
        return 2
    assessors = [a.strip() for a in args.assessors.split(",") if a.strip()]
    try:
        paths = write_kits(pairs, assessors, args.out, seed=args.seed, title=args.title)
    except ValueError as exc:
        print(f"craft sbs kit: {exc}", file=sys.stderr)
        return 2
    for out in paths:
        print(f"{out}: {len(pairs)} pairs")
    return 0


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``sbs report`` and ``sbs kit`` to the sub-commands of a parser."""
    sbs = subparsers.add_parser("sbs", help="side-by-side human evaluation: kits and reports")
    commands = sbs.add_subparsers(dest="sbs_command", required=True)
    rep = commands.add_parser(
        "report",
        help="win/tie/loss, bootstrap intervals and Fleiss' kappa from exported votes",
        description="Read the JSON files that kit pages export and report, per model pair, "
        "question and category, model B's wins, ties and losses with bootstrap 95%% intervals "
        "(resampling prompts) and Fleiss' kappa. Exit 2 if a file cannot be read.",
    )
    rep.add_argument("votes", nargs="+", help="votes JSON files exported from the kits")
    rep.add_argument("--out", default="sbs_report", help="folder for report.md and the plots")
    rep.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples")
    rep.add_argument("--seed", type=int, default=0, help="bootstrap seed")
    rep.set_defaults(func=_report)
    kit = commands.add_parser(
        "kit",
        help="write one self-contained HTML kit page per assessor",
        description="PAIRS_JSON: a list of objects with pair_id, prompt_id, category, "
        "language, text, seed, model_a, model_b, and image_a / image_b as image paths relative "
        "to the JSON file.",
    )
    kit.add_argument("pairs", help="JSON list of pairs")
    kit.add_argument("--assessors", required=True, help="comma-separated assessor names")
    kit.add_argument("--out", required=True, help="folder for the kit pages")
    kit.add_argument("--seed", type=int, default=0, help="left/right layout seed")
    kit.add_argument("--title", default="Side-by-side evaluation", help="page title")
    kit.set_defaults(func=_kit)
    return sbs


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``sbs`` as its own program (``python -m craft_dag.evaluation.sbs_cli``)."""
    parser = argparse.ArgumentParser(prog="craft", description=__doc__.splitlines()[0])
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
