"""Checkpoints: atomic folders ``checkpoints/step-<N>/``, the last ``keep_last`` kept.

A checkpoint is written to ``checkpoints/.tmp-step-<N>/`` and renamed into place when every
rank has finished, so ``step-<N>`` is either complete or absent: a run killed mid-save leaves a
temp folder, which the next run removes and never resumes from.

Inside, the distributed engine writes its own files (``engine.save(folder, client_state)``:
weights as safetensors and ``training_state.pt`` with the optimizer and scheduler for one
process or DDP; DeepSpeed's sharded layout under ZeRO) on every rank; rank 0 adds
``ema.safetensors`` (the EMA weights, when enabled) and ``trainer_state.json`` (a readable copy
of ``client_state``: step, stage, data position; the RNG states go through the engine).
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file

CHECKPOINTS = "checkpoints"
TRAINER_STATE = "trainer_state.json"
EMA_WEIGHTS = "ema.safetensors"
_STEP = re.compile(r"^step-(\d+)$")


def checkpoint_dir(output: Path) -> Path:
    return Path(output) / CHECKPOINTS


def list_checkpoints(output: Path) -> list[tuple[int, Path]]:
    """Complete checkpoints under ``output`` as (step, folder), oldest first."""
    folder = checkpoint_dir(output)
    if not folder.is_dir():
        return []
    found = [
        (int(m.group(1)), p) for p in folder.iterdir() if p.is_dir() and (m := _STEP.match(p.name))
    ]
    return sorted(found)


def latest_checkpoint(output: Path) -> Path | None:
    """The newest complete checkpoint, or ``None``."""
    found = list_checkpoints(output)
    return found[-1][1] if found else None


def remove_partial(output: Path) -> list[Path]:
    """Delete the temp folders a killed save left behind (rank 0, before training)."""
    folder = checkpoint_dir(output)
    partial = sorted(folder.glob(".tmp-step-*")) if folder.is_dir() else []
    for path in partial:
        shutil.rmtree(path, ignore_errors=True)
    return partial


def save_checkpoint(
    output: Path,
    step: int,
    *,
    engine: Any,
    ctx: Any,
    client_state: dict[str, Any],
    keep_last: int,
    ema_state: Callable[[], dict[str, torch.Tensor]] | None = None,
) -> Path:
    """Write ``checkpoints/step-<step>`` atomically on every rank; prune to ``keep_last``.

    Every rank calls this (DeepSpeed needs all ranks in ``engine.save``); only rank 0 creates,
    renames and prunes folders, with barriers between, so nobody renames a folder another rank
    is still writing.
    """
    final = checkpoint_dir(output) / f"step-{step}"
    tmp = checkpoint_dir(output) / f".tmp-step-{step}"
    if final.is_dir():
        # A resumed run reaching the step it resumed from: the weights are the same ones, and
        # deleting the folder to rewrite it would leave a window with no checkpoint at all.
        return final
    if ctx.is_main:
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
    ctx.barrier()
    engine.save(tmp, client_state)
    if ctx.is_main:
        if ema_state is not None:
            save_file({k: v.contiguous() for k, v in ema_state().items()}, tmp / EMA_WEIGHTS)
        readable = {k: v for k, v in client_state.items() if k != "rng"}
        (tmp / TRAINER_STATE).write_text(json.dumps(readable, indent=2, sort_keys=True))
    ctx.barrier()
    if ctx.is_main:
        tmp.rename(final)
        for _, old in list_checkpoints(output)[:-keep_last]:
            shutil.rmtree(old, ignore_errors=True)
    ctx.barrier()
    return final
