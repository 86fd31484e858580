"""What one micro-batch teaches: the denoising loss and the captions' embeddings (with dropout).

Both draw from the loop's one generator (timesteps, noise, which captions are dropped), in a
fixed order, so a resumed run repeats the uninterrupted one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F

from craft_dag.training.embeddings import TextEmbeddingCache, collate_text


def diffusion_loss(
    forward: Any,
    scheduler: Any,
    latents: torch.Tensor,
    hidden: torch.Tensor,
    mask: torch.Tensor,
    generator: torch.Generator,
) -> torch.Tensor:
    """The denoising loss of one batch: noise it at random timesteps, predict, MSE.

    ``forward`` is the engine (DDP hooks, ZeRO-3 gathering and bf16 autocast live there). The
    target follows the scheduler's ``prediction_type``: the noise (``epsilon``, Kandinsky 3's),
    the velocity (``v_prediction``, from the clean latents) or the latents (``sample``).
    """
    device = latents.device
    noise = torch.randn(latents.shape, generator=generator).to(device)
    steps = scheduler.config.num_train_timesteps
    timesteps = torch.randint(0, steps, (latents.shape[0],), generator=generator).to(device)
    noisy = scheduler.add_noise(latents, noise, timesteps)
    kind = scheduler.config.prediction_type
    if kind == "epsilon":
        target = noise
    elif kind == "v_prediction":
        target = scheduler.get_velocity(latents, noise, timesteps)
    elif kind == "sample":
        target = latents
    else:
        raise ValueError(f"unknown prediction_type {kind!r}")
    prediction = forward(
        noisy, timesteps, encoder_hidden_states=hidden, encoder_attention_mask=mask
    ).sample
    if prediction.shape != target.shape:
        raise AssertionError(f"UNet output {tuple(prediction.shape)} != {tuple(target.shape)}")
    return F.mse_loss(prediction.float(), target.float())


def text_batch(
    cache: TextEmbeddingCache, captions: Sequence[str], dropout: float, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Hidden states and mask of a batch's captions, each dropped with probability ``dropout``."""
    dropped = (torch.rand(len(captions), generator=generator) < dropout).tolist()
    embeds = [None if drop else cache.get(c) for c, drop in zip(captions, dropped, strict=True)]
    if all(e is None for e in embeds):
        # collate_text takes the width from a kept caption; any cached one gives it.
        width = cache.get(captions[0]).shape[-1]
        return torch.zeros(len(captions), 1, width), torch.zeros(len(captions), 1, dtype=torch.long)
    return collate_text(embeds)
