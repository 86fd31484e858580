"""The trainer's whole configuration: one YAML file, one dataclass tree, ``--set`` overrides.

The file has a section per concern (``model``, ``optim``, ``lora``, ``ema``, ``validation``,
``distributed``) and a ``stages`` mapping, one section per training stage, run in file order.
The defaults here are the paper's (``configs/kandinsky3.yaml`` spells them out); ``tiny.yaml``
has the same shape at toy sizes. Keys are checked: an unknown or misspelled key is an error,
not a silently ignored setting.

Overrides are dotted paths with YAML values, applied to the file's mapping before it is
checked, e.g. ``--set optim.lr=1e-5 --set stages.stage2_mixed.max_steps=10``.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

CONFIG_DIR = Path(__file__).parent / "configs"
"""Where the shipped configs live: ``kandinsky3.yaml`` (the paper) and ``tiny.yaml``."""


@dataclass
class ModelSection:
    """Which Kandinsky 3 to start from and how to run its frozen parts."""

    model_id: str = "kandinsky-community/kandinsky-3"
    """A hub id or a folder in diffusers' pipeline layout; ``tiny`` builds the tiny model."""
    variant: str = ""
    """Weight file variant to load (``fp16`` on the hub); empty for the default files."""
    text_max_length: int = 128
    """Caption tokens: ``Kandinsky3Pipeline`` pads and truncates prompts to 128."""
    frozen_dtype: str = "fp32"
    """``fp32`` or ``bf16``: the dtype of the frozen text encoder and MoVQ weights."""


@dataclass
class OptimSection:
    """AdamW and the learning-rate schedule (per stage: each stage starts its own schedule)."""

    lr: float = 1e-5
    weight_decay: float = 0.01
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    max_grad_norm: float = 1.0
    lr_scheduler: str = "cosine"
    """A ``diffusers.optimization.get_scheduler`` name: ``constant``, ``cosine``, ``linear``..."""
    warmup_steps: int = 500


@dataclass
class LoraSection:
    """LoRA through peft on the UNet's attention projections (off: full fine-tuning)."""

    enabled: bool = False
    rank: int = 16
    alpha: int = 16
    dropout: float = 0.0
    target_modules: list[str] = field(default_factory=lambda: ["to_q", "to_k", "to_v", "to_out.0"])
    """Module names in diffusers' ``Attention`` (every Kandinsky 3 attention is one)."""
    export_merged: bool = True
    """Also write the merged UNet to ``final/unet/`` beside the adapter in ``final/lora/``."""


@dataclass
class EmaSection:
    """An exponential moving average of the trainable weights, for validation and export."""

    enabled: bool = True
    decay: float = 0.9999
    update_after_step: int = 0


@dataclass
class ValidationSection:
    """Images from the current weights for a few evaluation prompts, as one grid per check."""

    every: int = 5000
    """Steps between grids (0: never; a grid is always made at the end when prompts exist)."""
    prompts: list[str] = field(default_factory=list)
    """English prompts; ``--prompts FILE`` (a JSON list) replaces them."""
    max_prompts: int = 4
    steps: int = 25
    guidance_scale: float = 3.0
    width: int = 1024
    height: int = 1024
    seed: int = 0


@dataclass
class BucketSection:
    """The aspect-ratio bucket grid of a mixed-resolution stage (see ``buckets.BucketSpec``)."""

    min_area: int = 768 * 768
    max_area: int = 1024 * 1024
    multiple: int = 64
    max_aspect: float = 2.0


@dataclass
class StageSection:
    """One training stage: its shapes, batch, length and learning rate."""

    resolution: int = 0
    """A fixed square side (the paper's stage 1: 768); 0 means ``bucket`` decides the shapes."""
    bucket: BucketSection | None = None
    batch_size: int = 4
    grad_accum: int = 1
    max_steps: int = 1000
    """Optimizer steps in this stage."""
    lr: float = 0.0
    """This stage's peak learning rate; 0 takes ``optim.lr``."""

    def __post_init__(self) -> None:
        if bool(self.resolution) == (self.bucket is not None):
            raise ValueError("a stage needs exactly one of `resolution` and `bucket`")
        if self.resolution and self.resolution % 64:
            # MoVQ divides by 8 and the UNet's three downsamplings by 8 more.
            raise ValueError(f"resolution must be a multiple of 64, got {self.resolution}")
        if self.batch_size < 1 or self.grad_accum < 1 or self.max_steps < 0:
            raise ValueError("batch_size and grad_accum must be >= 1 and max_steps >= 0")


@dataclass
class DistributedSection:
    """How ``craft_dag.training.distributed`` runs the loop: one process, DDP or DeepSpeed."""

    backend: str = "none"
    """``none``, ``ddp`` or ``deepspeed``."""
    zero_stage: int = 2
    deepspeed_config: str = ""
    """A shipped DeepSpeed JSON (``configs/zero2.json``...); empty: built from ``zero_stage``."""
    dist_backend: str = "auto"
    """The torch.distributed backend: ``auto`` is gloo on CPU, nccl on GPU."""


@dataclass
class TrainConfig:
    """Everything one training run needs, stages included."""

    seed: int = 0
    model: ModelSection = field(default_factory=ModelSection)
    optim: OptimSection = field(default_factory=OptimSection)
    lora: LoraSection = field(default_factory=LoraSection)
    ema: EmaSection = field(default_factory=EmaSection)
    validation: ValidationSection = field(default_factory=ValidationSection)
    distributed: DistributedSection = field(default_factory=DistributedSection)
    mixed_precision: str = "bf16"
    """``fp32`` or ``bf16`` (autocast of the UNet's forward; weights stay fp32)."""
    caption_dropout: float = 0.1
    """Share of captions replaced by the unconditional input, for classifier-free guidance."""
    cache_latents: bool = False
    """Encode each (image, bucket) once with MoVQ and reuse it (no augmentation is lost: the
    crop is deterministic)."""
    num_workers: int = 0
    """Data-loader worker processes decoding images (0: in the training process)."""
    log_every: int = 10
    checkpoint_every: int = 1000
    keep_last: int = 3
    stages: dict[str, StageSection] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.mixed_precision not in ("fp32", "bf16"):
            raise ValueError(f"mixed_precision is fp32 or bf16, not {self.mixed_precision!r}")
        if not 0.0 <= self.caption_dropout < 1.0:
            raise ValueError(f"caption_dropout must be in [0, 1), got {self.caption_dropout}")
        if self.keep_last < 1:
            raise ValueError("keep_last must be at least 1")

    def as_dict(self) -> dict[str, Any]:
        """The resolved configuration, as it is recorded in ``report.json``."""
        return dataclasses.asdict(self)


def _build(cls: type, data: Any, where: str) -> Any:
    """``data`` (parsed YAML) as an instance of the dataclass or type ``cls``, keys checked."""
    origin = typing.get_origin(cls)
    if origin in (typing.Union, types.UnionType):
        options = [arg for arg in typing.get_args(cls) if arg is not type(None)]
        return None if data is None else _build(options[0], data, where)
    if dataclasses.is_dataclass(cls):
        if not isinstance(data, dict):
            raise ValueError(f"{where}: expected a mapping, got {data!r}")
        hints = typing.get_type_hints(cls)
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ValueError(f"{where}: unknown keys {unknown}; known: {sorted(names)}")
        return cls(**{k: _build(hints[k], v, f"{where}.{k}") for k, v in data.items()})
    if origin is dict:
        _, value_type = typing.get_args(cls)
        if not isinstance(data, dict):
            raise ValueError(f"{where}: expected a mapping, got {data!r}")
        return {str(k): _build(value_type, v or {}, f"{where}.{k}") for k, v in data.items()}
    if origin in (list, tuple):
        if not isinstance(data, list | tuple):
            raise ValueError(f"{where}: expected a list, got {data!r}")
        return origin(data)
    if cls is float and isinstance(data, int | float | str) and not isinstance(data, bool):
        # PyYAML reads YAML 1.1, where ``3e-3`` (no dot) is a string, not a float.
        try:
            return float(data)
        except ValueError:
            raise ValueError(f"{where}: expected a number, got {data!r}") from None
    if cls in (int, str, bool) and not isinstance(data, cls):
        raise ValueError(f"{where}: expected {cls.__name__}, got {data!r}")
    return data


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """``data`` with each ``dotted.key=value`` set (the value parsed as YAML)."""
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise ValueError(f"an override is key=value, got {item!r}")
        node = data
        *parents, leaf = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ValueError(f"cannot set {key}: {part} is not a section")
        node[leaf] = yaml.safe_load(raw)
    return data


def load_config(path: str | Path, overrides: list[str] | None = None) -> TrainConfig:
    """The config of a YAML file (a shipped name like ``tiny`` works too), overrides applied."""
    path = Path(path)
    if not path.suffix and not path.exists():
        path = CONFIG_DIR / f"{path}.yaml"
    data = yaml.safe_load(path.read_text()) or {}
    config = _build(TrainConfig, apply_overrides(data, list(overrides or [])), "config")
    if not config.stages:
        raise ValueError(f"{path}: no stages")
    return config
