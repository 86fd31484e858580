"""Caches of what the frozen encoders compute: caption embeddings and image latents.

Flan-UL2's encoder is 8.6B parameters and a caption's embedding never changes while it is
frozen, so each caption is encoded once per (model, caption, max length) and reused across
epochs and stages (the paper's data is the same captions duplicated 50 times). Latents are the
same idea for MoVQ, per (image, bucket), and optional (``cache_latents``).

Both caches live on disk under the output folder, one safetensors file per key (a sha256 of
the model id and the inputs), written atomically, so a resumed run or the next stage finds
them; text embeddings are also kept in memory, where they are small (tokens x width each).

A caption's embedding is stored trimmed to its real tokens (the attention mask's length),
already masked as ``Kandinsky3Pipeline.encode_prompt`` does; ``collate_text`` pads a batch back
to the pipeline's shapes.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file


def cache_key(*parts: object) -> str:
    """A stable hex key of ``parts`` (joined with a separator no caption contains)."""
    return hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).hexdigest()


def _save_atomic(tensors: dict[str, torch.Tensor], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".", suffix=".tmp", dir=path.parent)
    os.close(fd)
    save_file({k: v.contiguous() for k, v in tensors.items()}, tmp)
    os.replace(tmp, path)


class TextEmbeddingCache:
    """Caption -> T5 embedding of its real tokens, computed once and kept on disk and in memory."""

    def __init__(
        self, folder: Path, model_id: str, tokenizer: Any, text_encoder: Any, max_length: int
    ) -> None:
        self.folder = Path(folder)
        self.model_id = model_id
        self.tokenizer = tokenizer
        self.text_encoder = text_encoder
        self.max_length = max_length
        self._memory: dict[str, torch.Tensor] = {}
        self.encoded = 0
        """Captions this process ran through the encoder (cache misses)."""

    def _path(self, caption: str) -> Path:
        key = cache_key(self.model_id, self.max_length, caption)
        return self.folder / key[:2] / f"{key}.safetensors"

    @torch.no_grad()
    def _encode(self, captions: Sequence[str]) -> list[torch.Tensor]:
        device = self.text_encoder.device
        inputs = self.tokenizer(
            list(captions),
            padding="max_length",
            max_length=self.max_length,
            truncation=True,
            return_tensors="pt",
        )
        mask = inputs.attention_mask.to(device)
        hidden = self.text_encoder(inputs.input_ids.to(device), attention_mask=mask)[0]
        hidden = hidden * mask.unsqueeze(-1).to(hidden.dtype)
        lengths = mask.sum(-1).tolist()
        return [h[:n].float().cpu() for h, n in zip(hidden, lengths, strict=True)]

    def warm(self, captions: Iterable[str], batch_size: int = 32) -> int:
        """Make sure every caption is cached; returns how many had to be encoded now."""
        missing: list[str] = []
        for caption in dict.fromkeys(captions):
            if caption in self._memory:
                continue
            path = self._path(caption)
            if path.is_file():
                self._memory[caption] = load_file(path)["embeds"]
            else:
                missing.append(caption)
        for start in range(0, len(missing), batch_size):
            chunk = missing[start : start + batch_size]
            for caption, embeds in zip(chunk, self._encode(chunk), strict=True):
                _save_atomic({"embeds": embeds}, self._path(caption))
                self._memory[caption] = embeds
        self.encoded += len(missing)
        return len(missing)

    def get(self, caption: str) -> torch.Tensor:
        """The embedding (tokens x width, fp32) of ``caption``, encoding it if it is new."""
        if caption not in self._memory:
            self.warm([caption])
        return self._memory[caption]


def collate_text(
    embeds: Sequence[torch.Tensor | None],
) -> tuple[torch.Tensor, torch.Tensor]:
    """A batch of caption embeddings as (hidden states, attention mask), as the pipeline has them.

    Like ``Kandinsky3Pipeline`` (its ``_cut_context``), the batch is cut to its longest caption
    plus one position, padding positions are zero with mask 0. ``None`` is a dropped caption
    (classifier-free guidance): all zeros with an all-zero mask, which is exactly the pipeline's
    unconditional input when no negative prompt is given.
    """
    present = [e for e in embeds if e is not None]
    width = present[0].shape[-1] if present else None
    if width is None:
        raise ValueError("collate_text needs at least one caption embedding to know the width")
    length = max((e.shape[0] for e in present), default=0) + 1
    hidden = torch.zeros(len(embeds), length, width)
    mask = torch.zeros(len(embeds), length, dtype=torch.long)
    for row, e in enumerate(embeds):
        if e is not None:
            hidden[row, : e.shape[0]] = e
            mask[row, : e.shape[0]] = 1
    return hidden, mask


class LatentCache:
    """(image, bucket) -> MoVQ latent, on disk, so an image is decoded and encoded once.

    The data loader asks ``lookup`` before it decodes a batch's images (a hit skips both the
    JPEG decode and MoVQ); the loop ``store``s what it had to encode.
    """

    def __init__(self, folder: Path, model_id: str) -> None:
        self.folder = Path(folder)
        self.model_id = model_id

    def _path(self, image_id: str, size: tuple[int, int]) -> Path:
        key = cache_key(self.model_id, image_id, size[0], size[1])
        return self.folder / key[:2] / f"{key}.safetensors"

    def lookup(self, image_ids: Sequence[str], size: tuple[int, int]) -> torch.Tensor | None:
        """The batch's latents (B x 4 x h x w) when every one is cached, else ``None``."""
        paths = [self._path(i, size) for i in image_ids]
        if not all(p.is_file() for p in paths):
            return None
        return torch.stack([load_file(p)["latent"] for p in paths])

    def store(self, image_ids: Sequence[str], size: tuple[int, int], latents: torch.Tensor) -> None:
        for image_id, latent in zip(image_ids, latents, strict=True):
            _save_atomic({"latent": latent.float().cpu()}, self._path(image_id, size))


@torch.no_grad()
def encode_latents(movq: Any, pixels: torch.Tensor) -> torch.Tensor:
    """MoVQ latents (fp32) of ``pixels`` (B x 3 x H x W in [-1, 1]), their shape checked."""
    return _movq_encode(movq, pixels)


def _movq_encode(movq: Any, pixels: torch.Tensor) -> torch.Tensor:
    # Unscaled, unquantised latents: Kandinsky3Pipeline decodes the UNet's output with
    # ``movq.decode(latents, force_not_quantize=True)`` and never applies a scaling factor.
    latents = movq.encode(pixels.to(movq.dtype)).latents.float()
    expected = (pixels.shape[-2] // 8, pixels.shape[-1] // 8)
    if tuple(latents.shape[-2:]) != expected:
        raise ValueError(
            f"MoVQ gave latents {tuple(latents.shape[-2:])} for images {tuple(pixels.shape[-2:])}: "
            f"expected {expected} (sides must divide by 8 or the output silently shrinks)"
        )
    return latents
