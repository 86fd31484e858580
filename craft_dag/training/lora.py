"""LoRA on Kandinsky 3's UNet through peft, saved as an adapter and merged for export.

``Kandinsky3UNet`` has none of diffusers' adapter methods (``add_adapter`` is on the UNets with
``PeftAdapterMixin``; this one is not), so peft injects the layers directly
(``inject_adapter_in_model``): the model stays a ``Kandinsky3UNet`` that the pipeline, EMA and
the distributed wrappers take as it is. Every attention of the UNet is a diffusers
``Attention`` whose projections are ``to_q``, ``to_k``, ``to_v`` and ``to_out.0`` (the
self-attention, the cross-attention on T5 and the attention pooling of the time embedding).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file

ADAPTER_WEIGHTS = "adapter_model.safetensors"
ADAPTER_CONFIG = "adapter_config.json"


def add_lora(
    unet: torch.nn.Module,
    *,
    rank: int,
    alpha: int,
    dropout: float = 0.0,
    target_modules: list[str] | None = None,
) -> Any:
    """Inject LoRA into ``unet`` in place; freeze everything else. Returns the peft config."""
    from peft import LoraConfig, inject_adapter_in_model

    config = LoraConfig(
        r=rank,
        lora_alpha=alpha,
        lora_dropout=dropout,
        init_lora_weights="gaussian",
        target_modules=target_modules or ["to_q", "to_k", "to_v", "to_out.0"],
    )
    unet.requires_grad_(False)
    inject_adapter_in_model(config, unet)
    # inject_adapter_in_model leaves the new layers trainable and the base frozen; made explicit
    # so a later requires_grad_ elsewhere cannot silently train the base weights.
    for name, parameter in unet.named_parameters():
        parameter.requires_grad_("lora_" in name)
    return config


def lora_state_dict(unet: torch.nn.Module, state: dict[str, torch.Tensor] | None = None) -> dict:
    """The adapter's weights of ``unet`` (or of a full ``state`` dict of it), peft's key names."""
    from peft import get_peft_model_state_dict

    return get_peft_model_state_dict(unet, state_dict=state)


def save_adapter(folder: Path, config: Any, weights: dict[str, torch.Tensor], base: str) -> Path:
    """Write ``adapter_model.safetensors`` and ``adapter_config.json`` (peft's layout)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    save_file(
        {k: v.detach().float().cpu().contiguous() for k, v in weights.items()},
        folder / ADAPTER_WEIGHTS,
    )
    data = config.to_dict()
    data["base_model_name_or_path"] = base
    data = {k: sorted(v) if isinstance(v, set) else v for k, v in data.items()}
    (folder / ADAPTER_CONFIG).write_text(json.dumps(data, indent=2, sort_keys=True, default=str))
    return folder


def merged_state_dict(unet: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The plain ``Kandinsky3UNet`` weights with every LoRA folded in (``W + B A * scale``).

    Computed from peft's own ``get_delta_weight`` on copies, so ``unet`` keeps its adapter and
    can go on training; the keys are the base model's (``base_layer.`` removed, no ``lora_``).
    """
    from peft.tuners.lora import LoraLayer

    state = {k: v.detach().clone() for k, v in unet.state_dict().items() if "lora_" not in k}
    for name, module in unet.named_modules():
        if not isinstance(module, LoraLayer):
            continue
        for adapter in module.active_adapters:
            if adapter in module.lora_A:
                key = f"{name}.base_layer.weight"
                state[key] = state[key] + module.get_delta_weight(adapter).to(state[key].dtype)
    return {k.replace(".base_layer.", "."): v for k, v in state.items()}


def merged_unet(unet: torch.nn.Module) -> Any:
    """A new ``Kandinsky3UNet`` (no peft layers) holding ``unet``'s merged weights."""
    from diffusers import Kandinsky3UNet

    plain = Kandinsky3UNet.from_config(unet.config)
    plain.load_state_dict(merged_state_dict(unet), strict=True)
    return plain.eval()
