"""The DeepSpeed config of a run: the shipped (or named) ZeRO JSON with its ``auto`` filled.

Batch sizes, accumulation, clipping and autocast come from the trainer; a JSON that states a
different number is an error, not a silent override.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from craft_dag.training.dist_context import DistributedSettings

CONFIG_DIR = Path(__file__).parent / "configs"


def _shipped_config(zero_stage: int) -> Path:
    path = CONFIG_DIR / f"zero{zero_stage}.json"
    if not path.exists():
        raise ValueError(f"no shipped DeepSpeed config for ZeRO stage {zero_stage}: use 2 or 3")
    return path


def _fill(node: dict[str, Any], key: str, value: Any, where: str) -> None:
    """Set ``node[key]`` to ``value`` when it is ``auto`` or absent; refuse a different value."""
    current = node.get(key, "auto")
    if current == "auto":
        node[key] = value
    elif current != value:
        raise ValueError(
            f"the DeepSpeed config says {where}{key}={current!r} but the trainer runs with "
            f'{value!r}; remove it (or write "auto") so that it is filled from the trainer'
        )


def deepspeed_config(
    cfg: DistributedSettings,
    *,
    world_size: int,
    micro_batch_size: int,
    gradient_accumulation_steps: int,
    gradient_clipping: float,
    mixed_precision: str,
) -> dict[str, Any]:
    """The DeepSpeed config dict for this run: the JSON of ``cfg`` with its ``auto`` filled.

    ``cfg.deepspeed_config`` names a JSON file (empty: the shipped ``zero2.json`` or
    ``zero3.json`` by ``cfg.zero_stage``; a file's own ``zero_optimization.stage`` must agree
    with ``zero_stage``, which fills it where it is "auto" or absent). Batch sizes, accumulation, clipping and autocast come from
    the arguments; any ``auto`` left unfilled is an error.
    """
    path = Path(cfg.deepspeed_config) if cfg.deepspeed_config else _shipped_config(cfg.zero_stage)
    if not path.is_absolute() and not path.exists() and (CONFIG_DIR / path.name).exists():
        path = CONFIG_DIR / path.name
    config: dict[str, Any] = json.loads(path.read_text())
    _fill(config, "train_micro_batch_size_per_gpu", micro_batch_size, "")
    _fill(config, "gradient_accumulation_steps", gradient_accumulation_steps, "")
    _fill(
        config, "train_batch_size", micro_batch_size * gradient_accumulation_steps * world_size, ""
    )
    _fill(config, "gradient_clipping", float(gradient_clipping), "")
    zero = config.setdefault("zero_optimization", {})
    _fill(zero, "stage", cfg.zero_stage, "zero_optimization.")
    if mixed_precision not in ("fp32", "no", "bf16"):
        raise ValueError(f"mixed_precision is fp32 or bf16, not {mixed_precision!r}")
    autocast = config.setdefault("torch_autocast", {})
    bf16 = mixed_precision == "bf16"
    _fill(autocast, "enabled", bf16, "torch_autocast.")
    _fill(autocast, "dtype", "bfloat16", "torch_autocast.")
    for section in ("bf16", "fp16"):
        sub = config.get(section, {})
        if sub.get("enabled") == "auto":
            sub["enabled"] = False
    leftover = [k for k, v in _walk(config) if v == "auto"]
    if leftover:
        raise ValueError(f'{path}: no value for the "auto" settings {leftover}')
    return config


def _walk(node: dict[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    for key, value in node.items():
        if isinstance(value, dict):
            yield from _walk(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", value
