"""Kandinsky 3's components, loaded the way diffusers lays them out, for training.

One loading path for every profile: ``from_pretrained(model_id, subfolder=...)`` of the
UNet (``Kandinsky3UNet``), the T5-family text encoder (``T5EncoderModel``; Flan-UL2's encoder
in the real model) and its tokenizer, MoVQ (``VQModel``) and the ``DDPMScheduler``. The model
id ``tiny`` is the tiny random Kandinsky 3 that ``craft_dag.models.tiny.tiny_kandinsky3``
builds from configs in code and saves in the same layout, so tests exercise this code.

The text encoder and MoVQ are frozen here (eval mode, no gradients) and never reach the
optimizer; only the UNet trains.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

TINY_MODEL_ID = "tiny"
DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}


@dataclass
class Components:
    """The parts of a Kandinsky 3 pipeline, the UNet trainable and the rest frozen."""

    model_id: str
    """The id the components came from (the resolved folder for ``tiny``)."""
    unet: Any  # Kandinsky3UNet
    text_encoder: Any  # T5EncoderModel
    tokenizer: Any
    movq: Any  # VQModel
    scheduler: Any  # DDPMScheduler


def resolve_model_id(model_id: str) -> str:
    """``model_id`` as ``from_pretrained`` takes it: ``tiny`` becomes the tiny model's folder."""
    if model_id == TINY_MODEL_ID:
        from craft_dag.models.tiny import tiny_kandinsky3

        return str(tiny_kandinsky3())
    return model_id


def _variant(variant: str, model_id: str, subfolder: str) -> dict[str, str]:
    # A local folder (the tiny model, an exported fine-tune) has the plain files only.
    if not variant or Path(model_id).is_dir():
        return {}
    return {"variant": variant}


def load_unet(model_id: str, variant: str = "") -> Any:
    """The trainable ``Kandinsky3UNet`` of ``model_id``, in fp32 (the optimizer's master copy)."""
    from diffusers import Kandinsky3UNet

    model_id = resolve_model_id(model_id)
    return Kandinsky3UNet.from_pretrained(
        model_id, subfolder="unet", torch_dtype=torch.float32, **_variant(variant, model_id, "unet")
    )


def load_components(
    model_id: str,
    *,
    variant: str = "",
    frozen_dtype: str = "fp32",
    device: str | torch.device = "cpu",
) -> Components:
    """All five components; the text encoder and MoVQ frozen in ``frozen_dtype`` on ``device``."""
    from diffusers import DDPMScheduler, VQModel
    from transformers import AutoTokenizer, T5EncoderModel

    model_id = resolve_model_id(model_id)
    dtype = DTYPES[frozen_dtype]
    text_encoder = T5EncoderModel.from_pretrained(
        model_id,
        subfolder="text_encoder",
        dtype=dtype,
        **_variant(variant, model_id, "text_encoder"),
    )
    movq = VQModel.from_pretrained(
        model_id, subfolder="movq", torch_dtype=dtype, **_variant(variant, model_id, "movq")
    )
    for frozen in (text_encoder, movq):
        frozen.requires_grad_(False)
        frozen.eval()
        frozen.to(device)
    return Components(
        model_id=model_id,
        unet=load_unet(model_id, variant).to(device),
        text_encoder=text_encoder,
        tokenizer=AutoTokenizer.from_pretrained(model_id, subfolder="tokenizer"),
        movq=movq,
        scheduler=DDPMScheduler.from_pretrained(model_id, subfolder="scheduler"),
    )


def make_pipeline(components: Components, unet: Any) -> Any:
    """A ``Kandinsky3Pipeline`` of the frozen components and ``unet`` (for validation images).

    The scheduler is a copy of the training one, so sampling never changes its state.
    """
    from diffusers import DDPMScheduler, Kandinsky3Pipeline

    pipeline = Kandinsky3Pipeline(
        tokenizer=components.tokenizer,
        text_encoder=components.text_encoder,
        unet=unet,
        scheduler=DDPMScheduler.from_config(components.scheduler.config),
        movq=components.movq,
    )
    pipeline.set_progress_bar_config(disable=True)
    return pipeline
