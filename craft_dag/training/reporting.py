"""What a training run tells: its metrics lines (``metrics.jsonl``, stdout, Dagster Pipes) and
its ``report.json``.

The loop counts into a ``Window`` (the steps since the last line) and a ``Progress`` (the whole
run); ``metrics_record`` turns a window into the stable schema documented in ``train.py``.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from craft_dag.training import checkpoints as ckpt
from craft_dag.training.run_setup import METRICS, say

REPORT = "report.json"


@dataclass
class Progress:
    """What the run has done so far, across stages."""

    global_step: int = 0
    last_loss: float = float("nan")
    samples: int = 0
    time: float = 0.0
    flops: float = 0.0
    validation_paths: list[str] = field(default_factory=list)
    stages: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Window:
    """The steps since the last metrics line: their loss, samples, FLOPs and start time."""

    loss: float = 0.0
    steps: int = 0
    samples: int = 0
    flops: float = 0.0
    start: float = field(default_factory=time.perf_counter)


def metrics_record(
    ctx: Any,
    window: Window,
    progress: Progress,
    lr_scheduler: Any,
    stage: str,
    stage_step: int,
    epoch: int,
    grad_norm: float | None,
) -> tuple[dict[str, Any], float]:
    """The metrics line of the window ending now (its loss averaged over ranks, which becomes
    ``progress.last_loss``) and the window's seconds."""
    elapsed = time.perf_counter() - window.start
    mean = torch.tensor(window.loss / window.steps, device=ctx.device)
    progress.last_loss = float(ctx.all_reduce_mean(mean))
    record = {
        "step": progress.global_step,
        "stage": stage,
        "stage_step": stage_step,
        "epoch": epoch,
        "loss": progress.last_loss,
        "lr": float(lr_scheduler.get_last_lr()[0]),
        "grad_norm": grad_norm,
        "samples_per_s": window.samples / elapsed,
        "flops_per_s": window.flops / elapsed,
        "time": time.time(),
    }
    return record, elapsed


def write_metrics(metrics_file: Any, reporter: Any, record: dict[str, Any]) -> None:
    """Append the line to ``metrics.jsonl``, hand it to the Pipes reporter, print it."""
    metrics_file.write(json.dumps(record) + "\n")
    metrics_file.flush()
    if reporter is not None:
        reporter.step(record)
    say(
        f"step {record['step']} stage {record['stage']} loss {record['loss']:.4f} "
        f"lr {record['lr']:.2e} samples/s {record['samples_per_s']:.2f} "
        f"flops/s {record['flops_per_s']:.3g}"
    )


def stage_report(name: str, steps: int, batches: Any, samples: int, seconds: float, loss: float):
    """One stage's entry of the report."""
    return {
        "name": name,
        "steps": steps,
        "samples": len(batches.samples) - batches.skipped,
        "skipped_too_small": batches.skipped,
        "sizes": {f"{w}x{h}": n for (w, h), n in sorted(batches.sizes.items())},
        "samples_per_s": samples / seconds if seconds else None,
        "final_loss": loss,
    }


def write_report(
    output: Path,
    progress: Progress,
    *,
    world_size: int,
    resume_dir: Path | None,
    text_embeddings_encoded: int,
    final: Path,
    config: dict[str, Any],
) -> dict[str, Any]:
    """``report.json``: steps, per-stage figures, final loss, samples/s, FLOP/s, paths, config."""
    report = {
        "steps": progress.global_step,
        "stages": progress.stages,
        "final_loss": progress.last_loss,
        "samples_per_s": progress.samples / progress.time if progress.time else None,
        "flops_per_s": progress.flops / progress.time if progress.time else None,
        "world_size": world_size,
        "resumed_from": str(resume_dir) if resume_dir else None,
        "text_embeddings_encoded": text_embeddings_encoded,
        "paths": {
            "final": str(final),
            "checkpoints": str(ckpt.checkpoint_dir(output)),
            "metrics": str(output / METRICS),
            "validation": progress.validation_paths,
        },
        "config": config,
    }
    (output / REPORT).write_text(json.dumps(report, indent=2, default=str))
    return report
