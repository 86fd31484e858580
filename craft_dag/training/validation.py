"""Validation images during training: the prompts rendered with the current (EMA) weights.

``validate`` swaps the EMA weights in (and back out), runs ``Kandinsky3Pipeline`` over the
prompts with a fixed seed, and saves one grid per call as ``validation/step-<N>.png`` beside a
JSON list of its prompts.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from craft_dag.training.config import TrainConfig
from craft_dag.training.models import Components, make_pipeline

VALIDATION = "validation"
"""The folder of the run's validation grids."""


def image_grid(images: Sequence[Any], columns: int | None = None) -> Any:
    """PIL images (all one size) side by side, ``columns`` per row."""
    from PIL import Image

    columns = columns or len(images)
    rows = math.ceil(len(images) / columns)
    width, height = images[0].size
    grid = Image.new("RGB", (columns * width, rows * height), "white")
    for index, image in enumerate(images):
        grid.paste(image, ((index % columns) * width, (index // columns) * height))
    return grid


def validation_path(output: Path, step: int) -> Path:
    """Where the grid of global step ``step`` goes."""
    return output / VALIDATION / f"step-{step}.png"


def validate(
    components: Components,
    unet: torch.nn.Module,
    prompts: Sequence[str],
    cfg: TrainConfig,
    path: Path,
    ema: Any | None,
    params: list[torch.nn.Parameter],
) -> Path:
    """Generate the prompts' images with the current (EMA) weights; save them as a grid."""
    if ema is not None:
        ema.store(params)
        ema.copy_to(params)
    was_training = unet.training
    unet.eval()
    try:
        pipeline = make_pipeline(components, unet)
        device = next(unet.parameters()).device
        generator = torch.Generator(device).manual_seed(cfg.validation.seed)
        with torch.autocast(device.type, torch.bfloat16, enabled=cfg.mixed_precision == "bf16"):
            images = pipeline(
                list(prompts),
                num_inference_steps=cfg.validation.steps,
                guidance_scale=cfg.validation.guidance_scale,
                height=cfg.validation.height,
                width=cfg.validation.width,
                generator=generator,
            ).images
    finally:
        unet.train(was_training)
        if ema is not None:
            ema.restore(params)
    path.parent.mkdir(parents=True, exist_ok=True)
    image_grid(images).save(path)
    path.with_suffix(".json").write_text(json.dumps(list(prompts), ensure_ascii=False, indent=2))
    return path
