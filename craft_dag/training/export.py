"""The run's deliverable: ``final/``, the trained weights in the layout diffusers loads.

A full fine-tune writes the UNet (``final/unet/``, safetensors); a LoRA run writes the adapter
(``final/lora/``) and, with ``lora.export_merged``, the UNet with the adapter folded in. Both
get ``base_model.json``. The folder is written beside and renamed into place, so a reader sees
the whole export or none.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import torch

from craft_dag.training.config import TrainConfig
from craft_dag.training.lora import lora_state_dict, merged_unet, save_adapter
from craft_dag.training.models import Components

FINAL = "final"
"""The folder of the exported weights, under the run's output."""


def export_final(
    output: Path,
    components: Components,
    unet: torch.nn.Module,
    state: dict[str, torch.Tensor],
    lora_config: Any | None,
    cfg: TrainConfig,
) -> Path:
    """Write ``final/`` atomically: the UNet in diffusers layout, or the adapter and merged UNet."""
    from diffusers import Kandinsky3UNet

    tmp = output / f".{FINAL}-tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    unet.load_state_dict(state, strict=True)
    if lora_config is not None:
        save_adapter(tmp / "lora", lora_config, lora_state_dict(unet), cfg.model.model_id)
        if cfg.lora.export_merged:
            merged_unet(unet).save_pretrained(tmp / "unet", safe_serialization=True)
    else:
        plain = Kandinsky3UNet.from_config(unet.config)
        plain.load_state_dict(state, strict=True)
        plain.save_pretrained(tmp / "unet", safe_serialization=True)
    (tmp / "base_model.json").write_text(
        json.dumps({"base_model": cfg.model.model_id, "lora": lora_config is not None}, indent=2)
    )
    final = output / FINAL
    shutil.rmtree(final, ignore_errors=True)
    tmp.rename(final)
    return final
