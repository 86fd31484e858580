"""LoRA, FLOPs and checkpoints of the trainer, on the tiny Kandinsky 3."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from craft_dag.training import checkpoints as ckpt
from craft_dag.training.flops import training_flops_per_sample, unet_forward_flops
from craft_dag.training.lora import add_lora, merged_unet
from craft_dag.training.models import load_unet


def _inputs(seed: int = 0) -> tuple:
    g = torch.Generator().manual_seed(seed)
    return (
        torch.randn(2, 4, 8, 8, generator=g),
        torch.tensor([10, 500]),
        torch.randn(2, 6, 32, generator=g),
        torch.ones(2, 6, dtype=torch.long),
    )


def test_lora_trains_only_the_adapter_and_merges_to_the_same_outputs() -> None:
    torch.manual_seed(0)
    unet = load_unet("tiny")
    base = {k: v.clone() for k, v in unet.state_dict().items()}
    add_lora(unet, rank=4, alpha=4)
    trainable = [n for n, p in unet.named_parameters() if p.requires_grad]
    assert trainable and all("lora_" in n for n in trainable)
    assert any("to_out.0.lora_A" in n for n in trainable)
    optimizer = torch.optim.AdamW([p for p in unet.parameters() if p.requires_grad], lr=1e-2)
    latents, t, hidden, mask = _inputs()
    for _ in range(3):  # move lora_B off zero so the merge has something to fold in
        out = unet(latents, t, encoder_hidden_states=hidden, encoder_attention_mask=mask).sample
        out.square().mean().backward()
        optimizer.step()
        optimizer.zero_grad()
    for key, value in unet.state_dict().items():
        if "lora_" not in key:
            assert torch.equal(value, base[key.replace(".base_layer.", ".")]), key
    unet.eval()
    merged = merged_unet(unet)
    with torch.no_grad():
        a = unet(latents, t, encoder_hidden_states=hidden, encoder_attention_mask=mask).sample
        b = merged(latents, t, encoder_hidden_states=hidden, encoder_attention_mask=mask).sample
        plain = load_unet("tiny").eval()
        c = plain(latents, t, encoder_hidden_states=hidden, encoder_attention_mask=mask).sample
    assert torch.allclose(a, b, atol=1e-5)
    assert not torch.allclose(a, c, atol=1e-4)  # the adapter did change the model
    assert type(merged).__name__ == "Kandinsky3UNet"


def test_flops_grow_with_the_image_area() -> None:
    config = dict(load_unet("tiny").config)
    small = unet_forward_flops(config, 64, 64, 16)
    assert small > 1e6
    assert unet_forward_flops(config, 128, 64, 16) == pytest.approx(2 * small, rel=0.25)
    assert training_flops_per_sample(config, 64, 64, 16) == 3 * small


class _Engine:
    """Writes one file, or dies half-way like a killed save."""

    def __init__(self, fail: bool = False) -> None:
        self.fail = fail

    def save(self, folder: Path, client_state: dict) -> None:
        (folder / "model.safetensors").write_bytes(b"x")
        if self.fail:
            raise KeyboardInterrupt


_CTX = SimpleNamespace(is_main=True, barrier=lambda: None)


def test_checkpoints_keep_the_last_n_and_are_never_half_written(tmp_path: Path) -> None:
    for step in (10, 20, 30):
        ckpt.save_checkpoint(
            tmp_path, step, engine=_Engine(), ctx=_CTX, client_state={"step": step}, keep_last=2
        )
    assert [s for s, _ in ckpt.list_checkpoints(tmp_path)] == [20, 30]
    with pytest.raises(KeyboardInterrupt):
        ckpt.save_checkpoint(
            tmp_path, 40, engine=_Engine(fail=True), ctx=_CTX, client_state={}, keep_last=2
        )
    assert ckpt.latest_checkpoint(tmp_path).name == "step-30"  # the killed save is not a step
    assert (tmp_path / "checkpoints" / ".tmp-step-40").is_dir()
    assert ckpt.remove_partial(tmp_path) and not list(tmp_path.glob("checkpoints/.tmp-*"))
