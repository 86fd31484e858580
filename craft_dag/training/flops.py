"""FLOPs of one training sample of the UNet, for the achieved FLOP/s the loop logs.

nanoGPT's ``estimate_mfu`` counts a transformer's FLOPs from a closed formula; a UNet's
convolutions, attention at several resolutions and cross-attention on a variable-length
caption have none, so the forward pass is *counted* instead: ``torch.utils.flop_counter``
runs it on the ``meta`` device (shapes only, no memory, no arithmetic: the real 3B UNet at
1024x1024 costs a few seconds of CPU) and sums each op's FLOPs from its shapes. A training
step is forward plus backward, and backward costs about twice the forward (a gradient for the
inputs and one for the weights of every matmul and convolution), so a sample is 3x its
forward. LoRA's frozen base still runs backward for the input gradients, which this counts as
full; it slightly overstates the work of a LoRA run (its weight gradients are skipped).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import torch

BACKWARD_FACTOR = 3.0
"""Forward + backward as a multiple of the forward."""


def unet_forward_flops(
    unet_config: dict[str, Any], width: int, height: int, text_tokens: int
) -> int:
    """FLOPs of one ``Kandinsky3UNet`` forward on one ``width x height`` image (pixels)."""
    items = tuple(sorted((k, _freeze(v)) for k, v in unet_config.items() if not k.startswith("_")))
    return _counted(items, width, height, text_tokens)


def training_flops_per_sample(
    unet_config: dict[str, Any], width: int, height: int, text_tokens: int
) -> float:
    """FLOPs of a forward and backward pass of one sample (``BACKWARD_FACTOR`` x forward)."""
    return BACKWARD_FACTOR * unet_forward_flops(unet_config, width, height, text_tokens)


def _freeze(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


@lru_cache(maxsize=64)
def _counted(items: tuple, width: int, height: int, text_tokens: int) -> int:
    from diffusers import Kandinsky3UNet
    from torch.utils.flop_counter import FlopCounterMode

    config = dict(items)
    with torch.device("meta"):
        unet = Kandinsky3UNet.from_config(config)
        latents = torch.empty(1, unet.config.in_channels, height // 8, width // 8)
        context = torch.empty(1, text_tokens, unet.config.encoder_hid_dim)
        mask = torch.ones(1, text_tokens)
        timestep = torch.zeros(1, dtype=torch.long)
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        unet(latents, timestep, encoder_hidden_states=context, encoder_attention_mask=mask)
    return int(counter.get_total_flops())
