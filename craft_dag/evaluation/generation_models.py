"""The pipelines an evaluation runs: the base model's, and the base with a checkpoint's UNet.

The model components come from the training package (``craft_dag.training.models``), imported
inside each function as before the split: diffusers is only loaded when a pipeline is built.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def sampler_name(pipeline: Any) -> str:
    """The scheduler class and its config hash-free summary, recorded with each generation."""
    scheduler = pipeline.scheduler
    prediction = scheduler.config.get("prediction_type", "")
    return f"{type(scheduler).__name__}({prediction})" if prediction else type(scheduler).__name__


def base_pipeline(model_id: str, *, device: str = "cpu", dtype: str = "fp32") -> tuple[Any, Any]:
    """The base model's ``Kandinsky3Pipeline`` and its ``Components`` (``tiny``: the tiny one)."""
    from craft_dag.training.models import load_components, make_pipeline

    components = load_components(model_id, frozen_dtype=dtype, device=device)
    components.unet.requires_grad_(False)
    components.unet.eval()
    if dtype != "fp32":
        from craft_dag.training.models import DTYPES

        components.unet.to(DTYPES[dtype])
    return make_pipeline(components, components.unet), components


def load_checkpoint_unet(folder: str | Path, *, device: str = "cpu", dtype: str = "fp32") -> Any:
    """The fine-tuned ``Kandinsky3UNet`` of a local checkpoint folder (its ``unet/``)."""
    from diffusers import Kandinsky3UNet

    from craft_dag.training.models import DTYPES

    unet_dir = Path(folder) / "unet"
    if not (unet_dir / "config.json").is_file():
        raise FileNotFoundError(
            f"{folder} has no unet/ (a LoRA-only checkpoint needs export_merged to be evaluated)"
        )
    unet = Kandinsky3UNet.from_pretrained(unet_dir, torch_dtype=DTYPES[dtype])
    unet.requires_grad_(False)
    return unet.eval().to(device)


def with_unet(components: Any, unet: Any) -> Any:
    """A pipeline of the base model's frozen parts and ``unet``: same sampler, new weights."""
    from craft_dag.training.models import make_pipeline

    return make_pipeline(components, unet)
