"""What a training run works with: the model, the data and caches, each stage's batches and
optimizer, and the stream of micro-batches a rank reads.

``train.py`` builds these once per run (``build_model``, ``prepare_data``) or once per stage
(``plan_stage_batches``, ``make_optimizer``, ``EpochStream``) and then only steps through them.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from craft_dag.training import checkpoints as ckpt
from craft_dag.training.buckets import BucketSpec
from craft_dag.training.config import StageSection, TrainConfig
from craft_dag.training.data import Batches, iterate, plan_batches, read_table
from craft_dag.training.embeddings import LatentCache, TextEmbeddingCache
from craft_dag.training.lora import add_lora
from craft_dag.training.models import Components, load_components

METRICS = "metrics.jsonl"
"""The run's metrics log, one JSON object per line (``train.py``'s docstring has the keys)."""


def say(*parts: object) -> None:
    """A progress line on stdout, flushed (a launcher's log shows it at once)."""
    print(*parts, flush=True)


@dataclass
class Model:
    """The trained UNet and what trains with it; T5 and MoVQ stay frozen in ``components``."""

    components: Components
    unet: torch.nn.Module
    lora_config: Any | None
    named: list[tuple[str, torch.nn.Parameter]]
    ema: Any | None

    @property
    def params(self) -> list[torch.nn.Parameter]:
        """The trainable parameters, in the optimizer's and the EMA's order."""
        return [p for _, p in self.named]


@dataclass
class Data:
    """The training table, the storage it points into, and the frozen encoders' caches."""

    table: Any
    storage: str
    text_cache: TextEmbeddingCache
    latent_cache: LatentCache | None
    text_tokens: int
    """Mean caption length in tokens (+1), for the FLOP estimate."""


def prepare_output(output: Path, resume: str, ctx: Any) -> None:
    """Rank 0 makes the run folder, drops half-written checkpoints, and forgets the previous
    run on ``--resume never``; every rank waits for it."""
    if ctx.is_main:
        output.mkdir(parents=True, exist_ok=True)
        ckpt.remove_partial(output)
        if resume == "never":
            shutil.rmtree(ckpt.checkpoint_dir(output), ignore_errors=True)
            (output / METRICS).unlink(missing_ok=True)
    ctx.barrier()


def build_model(cfg: TrainConfig, ctx: Any) -> Model:
    """The UNet trains (in full, or its LoRA adapter); T5 and MoVQ are frozen (eval, no grad)."""
    from diffusers.training_utils import EMAModel

    torch.manual_seed(cfg.seed)  # LoRA's initial weights: the same on every rank and run
    components = load_components(
        cfg.model.model_id,
        variant=cfg.model.variant,
        frozen_dtype=cfg.model.frozen_dtype,
        device=ctx.device,
    )
    unet = components.unet
    lora_config = None
    if cfg.lora.enabled:
        lora_config = add_lora(
            unet,
            rank=cfg.lora.rank,
            alpha=cfg.lora.alpha,
            dropout=cfg.lora.dropout,
            target_modules=cfg.lora.target_modules,
        )
    else:
        unet.requires_grad_(True)
    unet.train()
    named = [(n, p) for n, p in unet.named_parameters() if p.requires_grad]
    ema = None
    if cfg.ema.enabled:
        params = [p for _, p in named]
        ema = EMAModel(params, decay=cfg.ema.decay, update_after_step=cfg.ema.update_after_step)
    return Model(components, unet, lora_config, named, ema)


def prepare_data(
    cfg: TrainConfig, dataset: str, storage: str, output: Path, components: Components, ctx: Any
) -> Data:
    """The training table and the caches: every caption encoded once by the frozen T5."""
    table = read_table(dataset)
    text_cache = TextEmbeddingCache(
        output / "cache" / "text",
        components.model_id,
        components.tokenizer,
        components.text_encoder,
        cfg.model.text_max_length,
    )
    captions = table.column("caption_en").to_pylist()
    if ctx.is_main:  # rank 0 encodes; the others then read its files
        text_cache.warm(captions)
    ctx.barrier()
    text_cache.warm(captions)
    latent_cache = (
        LatentCache(output / "cache" / "latents", components.model_id)
        if cfg.cache_latents
        else None
    )
    tokens = max(1, round(sum(text_cache.get(c).shape[0] for c in captions) / len(captions)))
    return Data(table, storage, text_cache, latent_cache, tokens + 1)


def stage_offsets(cfg: TrainConfig) -> dict[str, int]:
    """Each stage's first global step: stages continue the count in file order."""
    offsets, total = {}, 0
    for name, section in cfg.stages.items():
        offsets[name] = total
        total += section.max_steps
    return offsets


def stage_spec(stage: StageSection) -> tuple[int, BucketSpec | None]:
    """(resolution, None) for a fixed-size stage, (0, spec) for a bucketed one."""
    if stage.bucket is None:
        return stage.resolution, None
    b = stage.bucket
    return 0, BucketSpec(b.min_area, b.max_area, b.multiple, b.max_aspect)


def plan_stage_batches(
    cfg: TrainConfig, ctx: Any, data: Data, stage_index: int, name: str, section: StageSection
) -> Batches:
    """The stage's batches of one shape each, in its seeded order (and a line saying so)."""
    resolution, spec = stage_spec(section)
    batches = plan_batches(
        data.table,
        batch_size=section.batch_size,
        seed=cfg.seed + 1000 * stage_index,
        resolution=resolution,
        spec=spec,
    )
    say(
        f"stage {name}: {len(batches.samples) - batches.skipped} samples in "
        f"{len(batches.sizes)} shapes, {batches.skipped} too small, "
        f"batch {section.batch_size} x {section.grad_accum} x {ctx.world_size} ranks"
    )
    return batches


def make_optimizer(
    cfg: TrainConfig, section: StageSection, params: list[torch.nn.Parameter]
) -> tuple[torch.optim.Optimizer, Any]:
    """A new AdamW and learning-rate schedule for the stage (a stage's ``lr`` overrides)."""
    from diffusers.optimization import get_scheduler

    optimizer = torch.optim.AdamW(
        params,
        lr=section.lr or cfg.optim.lr,
        betas=tuple(cfg.optim.betas),
        eps=cfg.optim.eps,
        weight_decay=cfg.optim.weight_decay,
    )
    lr_scheduler = get_scheduler(
        cfg.optim.lr_scheduler,
        optimizer,
        num_warmup_steps=min(cfg.optim.warmup_steps, section.max_steps),
        num_training_steps=max(1, section.max_steps),
    )
    return optimizer, lr_scheduler


class EpochStream:
    """This rank's micro-batches of a stage, epoch after epoch (each epoch a new order).

    ``epoch`` and ``position`` say where the next batch starts: what a checkpoint records.
    """

    def __init__(
        self, batches: Batches, data: Data, cfg: TrainConfig, ctx: Any, epoch: int, position: int
    ) -> None:
        self.batches, self.data, self.cfg, self.ctx = batches, data, cfg, ctx
        self.epoch, self.position = epoch, position
        self._items = self._iterate(start=position)

    def _iterate(self, start: int = 0) -> Iterator[tuple[int, dict[str, Any]]]:
        return iterate(
            self.batches,
            self.data.storage,
            epoch=self.epoch,
            start=start,
            rank=self.ctx.rank,
            world_size=self.ctx.world_size,
            num_workers=self.cfg.num_workers,
            latent_cache=self.data.latent_cache,
        )

    def next(self, stage: str, batch_size: int) -> dict[str, Any]:
        """The next micro-batch (a new epoch when this one is used up)."""
        item = next(self._items, None)
        if item is None:
            self.epoch, self.position = self.epoch + 1, 0
            self._items = self._iterate()
            item = next(self._items, None)
            if item is None:
                raise ValueError(
                    f"stage {stage}: an epoch has no full batch of {batch_size} "
                    f"per rank x {self.ctx.world_size} ranks"
                )
        self.position, batch = item
        return batch
