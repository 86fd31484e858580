"""The trainer's command line (``python -m craft_dag.training.train``): its flags and checks."""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path

DESCRIPTION = "Fine-tune Kandinsky 3 on a culture's training set: one loop, its config in one file."


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The trainer's arguments (see ``craft_dag.training.train`` for what each does)."""
    parser = argparse.ArgumentParser(
        prog="python -m craft_dag.training.train", description=DESCRIPTION
    )
    parser.add_argument(
        "--config", required=True, help="YAML file, or a shipped name: kandinsky3, tiny"
    )
    parser.add_argument("--dataset", required=True, help="the training table (Parquet path or URI)")
    parser.add_argument("--storage", required=True, help="storage base URI the images live under")
    parser.add_argument("--output", required=True, help="run folder: checkpoints, final, metrics")
    parser.add_argument("--stage", default="all", help="a stage name, or all (default)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--resume", default="auto", choices=("auto", "never"))
    parser.add_argument("--prompts", help="JSON list of English validation prompts")
    return parser.parse_args(argv)


def read_prompts(path: str | None) -> list[str] | None:
    """The ``--prompts`` file's JSON list of strings (None without the flag)."""
    if not path:
        return None
    prompts = json.loads(Path(path).read_text())
    if not (isinstance(prompts, list) and all(isinstance(p, str) for p in prompts)):
        raise SystemExit(f"{path}: expected a JSON list of strings")
    return prompts
