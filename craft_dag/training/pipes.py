"""The bridge between Dagster and the trainer: the launch command, the outputs, the reports.

The ``checkpoint`` asset launches ``craft_dag.training.train`` through Dagster Pipes. The trainer
never imports Dagster; it calls ``open_reporter()``, which returns a ``PipesReporter`` when the
process was launched by Pipes (``DAGSTER_PIPES_CONTEXT`` is set) and a ``NullReporter``
otherwise, so the same script runs from a shell, a test or Dagster. The trainer's side::

    with open_reporter() as reporter:          # 1. once, at start-up
        reporter.log("stage 1: 768x768 ...")   # 2. any progress line
        reporter.step(metrics)                 # 3. every log step, the metrics.jsonl record
        ...
        reporter.finish(output_dir)            # 4. once, at the end, after report.json

Under torchrun every rank inherits the Pipes environment, but only rank 0 reports: the messages
go to one file (or one stream) that concurrent writers would interleave, and every rank's numbers
are the same after the all-reduce anyway.

What the trainer writes under ``--output`` (and this module reads)::

    metrics.jsonl            {step, stage, loss, lr, samples_per_s, flops_per_s, grad_norm} per line
    report.json              the run's summary (read here: steps, stages, config.model.model_id,
                             config.lora.enabled; base_model and finetune win when present)
    final/                   the model in diffusers layout (or the LoRA adapter)
    validation/step-N.png    a grid of validation images every N steps
"""

import io
import json
import logging
import os
import re
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from PIL import Image

from craft_dag import markdown
from craft_dag.imaging.contact_sheet import png_markdown

TRAINER_MODULE = "craft_dag.training.train"
METRICS = "metrics.jsonl"
REPORT = "report.json"
FINAL = "final"
VALIDATION = "validation"
PIPES_CONTEXT_ENV = "DAGSTER_PIPES_CONTEXT"
_STEP_PNG = re.compile(r"^step-(\d+)\.png$")

logger = logging.getLogger(__name__)


# -- the launch ---------------------------------------------------------------------------------


def trainer_command(
    *,
    config: str,
    dataset: str,
    storage: str,
    output: str,
    prompts: str,
    nproc_per_node: int = 1,
    extra_args: Sequence[str] = (),
    python: str = sys.executable,
    module: str = TRAINER_MODULE,
) -> list[str]:
    """The command line that runs the trainer: directly for one process, under torchrun else.

    ``--standalone`` gives torchrun a private rendezvous on a free local port, so two runs on
    one host do not meet each other; multi-node launches (a cluster Pipes client) build their own
    rendezvous arguments instead. ``module`` is the trainer's module (tests run a fake one).
    """
    if nproc_per_node < 1:
        raise ValueError(f"nproc_per_node must be at least 1, got {nproc_per_node}")
    args = [
        "--config", config,
        "--dataset", dataset,
        "--storage", storage,
        "--output", output,
        "--prompts", prompts,
        *extra_args,
    ]  # fmt: skip
    if nproc_per_node == 1:
        return [python, "-m", module, *args]
    return [
        python, "-m", "torch.distributed.run", "--standalone",
        "--nproc-per-node", str(nproc_per_node), "-m", module, *args,
    ]  # fmt: skip


# -- reading the outputs (both sides) -----------------------------------------------------------


def read_metrics(output_dir: str | Path) -> list[dict[str, Any]]:
    """Every record of ``metrics.jsonl``; a torn last line (a killed run) is skipped."""
    path = Path(output_dir) / METRICS
    if not path.exists():
        return []
    records = []
    for line in path.read_text().splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            logger.warning("skipping an unreadable line of %s: %r", path, line[:80])
    return records


def read_report(output_dir: str | Path) -> dict[str, Any]:
    path = Path(output_dir) / REPORT
    return json.loads(path.read_text()) if path.exists() else {}


def last_validation_grid(output_dir: str | Path) -> tuple[int, Path] | None:
    """(step, path) of the latest ``validation/step-N.png``, by step number, not name order."""
    folder = Path(output_dir) / VALIDATION
    found = [
        (int(m.group(1)), p)
        for p in (folder.iterdir() if folder.is_dir() else [])
        if (m := _STEP_PNG.match(p.name))
    ]
    return max(found) if found else None


def grid_markdown(path: Path, step: int, max_side: int = 768) -> str:
    """The validation grid as inline markdown, shrunk so the metadata stays small."""
    image = Image.open(path)
    image.thumbnail((max_side, max_side))
    out = io.BytesIO()
    image.convert("RGB").save(out, format="PNG", optimize=True)
    return f"Validation at step {step}\n\n" + png_markdown(out.getvalue(), f"step {step}")


def summarise(metrics: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Final loss, step and stage; mean samples/s and FLOP/s over the run's log steps."""
    if not metrics:
        return {}
    last = metrics[-1]

    def mean(key: str) -> float:
        values = [float(m[key]) for m in metrics if m.get(key) is not None]
        return sum(values) / len(values) if values else 0.0

    return {
        "final_step": int(last["step"]),
        "final_stage": str(last.get("stage", "")),
        "final_loss": float(last["loss"]),
        "samples_per_s": round(mean("samples_per_s"), 3),
        "flops_per_s": mean("flops_per_s"),
    }


def final_metadata(output_dir: str | Path) -> dict[str, Any]:
    """What the trainer reports at the end, as Pipes metadata (raw values or typed dicts)."""
    output = Path(output_dir)
    metadata: dict[str, Any] = dict(summarise(read_metrics(output)))
    metadata["output_dir"] = {"raw_value": str(output.resolve()), "type": "path"}
    metadata["final_dir"] = {"raw_value": str((output / FINAL).resolve()), "type": "path"}
    report = read_report(output)
    if report:
        metadata["report"] = {"raw_value": report, "type": "json"}
    grid = last_validation_grid(output)
    if grid is not None:
        metadata["validation"] = {"raw_value": grid_markdown(grid[1], grid[0]), "type": "md"}
    return metadata


def format_step(metrics: Mapping[str, Any]) -> str:
    """One progress line for the Dagster log."""
    return (
        f"step {metrics.get('step')} [{metrics.get('stage', '')}] "
        f"loss {float(metrics.get('loss', float('nan'))):.4f} "
        f"lr {float(metrics.get('lr', 0.0)):.2e} "
        f"{float(metrics.get('samples_per_s', 0.0)):.2f} samples/s "
        f"{float(metrics.get('flops_per_s', 0.0)):.3e} FLOP/s"
    )


# -- the reporters ------------------------------------------------------------------------------


class NullReporter:
    """For a trainer not launched by Dagster (or a rank other than 0): logs locally, no more."""

    def __enter__(self) -> "NullReporter":
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def log(self, message: str) -> None:
        logger.info(message)

    def step(self, metrics: Mapping[str, Any]) -> None:
        logger.info(format_step(metrics))

    def finish(self, output_dir: str | Path) -> None:
        """Nothing to report to; the files in ``output_dir`` are the result."""

    def close(self) -> None:
        """Nothing to close."""


class PipesReporter(NullReporter):
    """Streams the trainer's progress and its final result back to Dagster through Pipes."""

    def __init__(self) -> None:
        # Imported here: dagster-pipes is only needed when Dagster launched the process.
        from dagster_pipes import open_dagster_pipes

        self._pipes = open_dagster_pipes()

    def __enter__(self) -> "PipesReporter":
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # Handing the exception to the Pipes context sends Dagster the error and its traceback,
        # not a bare exit code; it closes the channel either way (and only once).
        self._pipes.__exit__(exc_type, exc, tb)

    def log(self, message: str) -> None:
        self._pipes.log.info(message)

    def step(self, metrics: Mapping[str, Any]) -> None:
        self._pipes.log.info(format_step(metrics))

    def finish(self, output_dir: str | Path) -> None:
        self._pipes.report_asset_materialization(metadata=final_metadata(output_dir))

    def close(self) -> None:
        self._pipes.close()


def is_rank_zero(env: Mapping[str, str] = os.environ) -> bool:
    """torchrun and the DeepSpeed launcher set ``RANK``; a plain process has none."""
    return env.get("RANK", "0") == "0"


def open_reporter(env: Mapping[str, str] = os.environ) -> NullReporter:
    """A ``PipesReporter`` on rank 0 of a process Dagster launched, a ``NullReporter`` else."""
    if PIPES_CONTEXT_ENV in env and is_rank_zero(env):
        return PipesReporter()
    return NullReporter()


# -- after the run: the checkpoint in storage and its model card --------------------------------

CHECKPOINTS = "checkpoints"
MODEL_CARD = "model_card.md"

LIMITATIONS = (
    "Entities with few training images are rendered less faithfully: for many (characters of "
    "old films and cartoons) nearly every image on the web is a copy of the same low-quality "
    "frames (CRAFT, section 6). Balancing repeats such entities more, up to a cap, which cannot "
    "add what the images lack.",
    "Captions were machine-translated into English, and a wrong rendering teaches the wrong "
    'concept: the paper\'s "cosmonaut" translated as "astronaut" put American flags on '
    "cosmonauts. The pack's glossary enforces known terms; terms it lacks can still drift.",
    "The model inherits the base model's biases and licence terms, and the licences of its "
    "training images (listed below).",
)


def copy_final(store: Any, final_dir: str | Path, run_id: str) -> tuple[str, list[str]]:
    """Copy ``final/`` into storage under ``checkpoints/<run_id>/``; its URI and the files.

    Files are streamed with fsspec (a full UNet is gigabytes, too much to hold in memory), not
    written atomically one by one: the model card, written last and atomically, marks a
    complete copy.
    """
    final = Path(final_dir)
    if not final.is_dir():
        raise FileNotFoundError(f"the trainer left no {FINAL}/ in {final.parent}")
    copied = []
    for path in sorted(p for p in final.rglob("*") if p.is_file()):
        rel = path.relative_to(final).parts
        if any(part.startswith((".", "_")) for part in rel):
            continue  # editor and cache leftovers are not part of the model
        target = store.file_path(CHECKPOINTS, run_id, *rel)
        store.fs.makedirs(target.rsplit("/", 1)[0], exist_ok=True)
        store.fs.put_file(str(path), target)
        copied.append("/".join(rel))
    return store.file_uri(CHECKPOINTS, run_id), copied


def model_card_markdown(
    *,
    report: Mapping[str, Any],
    summary: Mapping[str, Any],
    dataset: Mapping[str, Any],
    licences: Mapping[str, int],
    categories: Sequence[str],
    checkpoint_uri: str,
    culture: str = "",
) -> str:
    """The model card: base model, data, stages, steps, metrics, intended use, limitations."""
    config = report.get("config") or {}
    base_model = report.get("base_model") or (config.get("model") or {}).get("model_id")
    finetune = report.get("finetune") or (
        ("LoRA" if (config.get("lora") or {}).get("enabled") else "full") if config else None
    )
    stages = report.get("stages") or []
    lines = [
        "# Model card",
        "",
        f"- base model: {base_model or 'unknown'}",
        f"- fine-tuning: {finetune or 'unknown'}",
        f"- weights: {checkpoint_uri}",
        f"- steps: {report.get('steps', summary.get('final_step', 'unknown'))}",
        "",
        "## Data",
        "",
        f"{dataset.get('samples', 0)} image-caption pairs of {dataset.get('entities', 0)} "
        f"entities in {len(categories)} categories ({', '.join(categories)}), each drawn "
        f"{dataset.get('effective_samples', 0)} times in total per pass after entity balancing. "
        "Captions in English, translated from the pack's native captions.",
        "",
        markdown.table(["licence", "images"], sorted(licences.items()), right=["images"]),
        "",
        "## Training stages",
        "",
    ]
    if stages:
        keys = sorted({k for s in stages for k in s})
        lines.append(markdown.table(keys, [[s.get(k, "") for k in keys] for s in stages]))
    else:
        lines.append("Not reported by the trainer.")
    lines += ["", "## Metrics", ""]
    lines.append(
        markdown.table(["metric", "value"], sorted(summary.items()))
        if summary
        else "No metrics were logged."
    )
    lines += [
        "",
        "## Intended use",
        "",
        f"Text-to-image generation that knows the {culture or 'pack'}'s cultural code (its "
        "people, places, dishes, crafts and art), for research and for creative work; the "
        "pack's evaluation prompts measure it against the base model side by side.",
        "",
        "## Limitations",
        "",
        *[f"- {item}" for item in LIMITATIONS],
    ]
    return "\n".join(lines) + "\n"
