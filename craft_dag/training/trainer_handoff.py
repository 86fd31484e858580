"""What the ``checkpoint`` asset hands to the trainer and takes back from it, without Dagster:
the validation prompts file the trainer reads (``--prompts``), and the metrics summary and
model card made from what it wrote under ``--output``.

The trainer itself is ``craft_dag.training.train``; these steps run in the process that
launches it, so they take plain paths and tables.
"""

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from craft_dag.catalog.models import EvalPrompt
from craft_dag.training.manifest import summarise_dataset
from craft_dag.training.pipes import model_card_markdown, read_metrics, read_report, summarise

PROMPTS_FILE = "prompts.json"  # the trainer's --prompts: a JSON list of strings


def validation_prompts(prompts: Iterable[EvalPrompt], limit: int) -> list[str]:
    """One English prompt per category in turn, so a few prompts cover different categories."""
    by_category: dict[str, list[str]] = {}
    for p in prompts:
        by_category.setdefault(p.category, []).append(p.english)
    chosen: list[str] = []
    queues = list(by_category.values())
    while len(chosen) < limit and any(queues):
        for queue in queues:
            if queue and len(chosen) < limit:
                chosen.append(queue.pop(0))
    return chosen


def write_validation_prompts(run_dir: Path, prompts: Iterable[EvalPrompt], limit: int) -> Path:
    """Make the run folder and write the trainer's prompts file in it; returns the file."""
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / PROMPTS_FILE
    path.write_text(json.dumps(validation_prompts(prompts, limit)))
    return path


@dataclass(frozen=True)
class CheckpointCard:
    summary: dict[str, Any]  # the final metrics, read back from the trainer's metrics.jsonl
    card: str  # the model card, markdown


def checkpoint_card(
    output: Path, dataset: pa.Table, *, checkpoint_uri: str, culture: str
) -> CheckpointCard:
    """The metrics summary and model card of a finished run, from its ``output`` folder and
    the ``dataset`` it trained on; ``checkpoint_uri``: where its weights were copied."""
    summary = summarise(read_metrics(output))
    data = summarise_dataset(dataset)
    card = model_card_markdown(
        report=read_report(output),
        summary=summary,
        dataset=data,
        licences=data["licences"],
        categories=data["category_ids"],
        checkpoint_uri=checkpoint_uri,
        culture=culture,
    )
    return CheckpointCard(summary=summary, card=card)
