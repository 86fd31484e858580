"""The training loop end to end on the tiny Kandinsky 3: its files and numbers.

Like diffusers' ``examples/*/test_*.py``: run the real entry point for a few steps, then assert
on what it wrote. Kill-and-resume runs the CLI in subprocesses (``slow``).
"""

from __future__ import annotations

import json
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from craft_dag.training.config import load_config
from craft_dag.training.train import train
from tests.training.conftest import TinyDataset

METRIC_KEYS = {
    "step", "stage", "stage_step", "epoch", "loss", "lr", "grad_norm",
    "samples_per_s", "flops_per_s", "time",
}  # fmt: skip


def _metrics(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def test_loss_falls_on_a_tiny_overfit_set(overfit_dataset: TinyDataset, tmp_path: Path) -> None:
    cfg = load_config(
        "tiny",
        [
            "log_every=1",
            "optim.lr=3e-3",
            "caption_dropout=0",
            "ema.enabled=false",
            "checkpoint_every=1000",
            "stages.stage1_64.max_steps=60",
        ],
    )
    train(cfg, dataset=str(overfit_dataset.table), storage=overfit_dataset.storage,
          output=tmp_path, stage="stage1_64")  # fmt: skip
    losses = [m["loss"] for m in _metrics(tmp_path)]
    assert len(losses) == 60
    first, last = statistics.mean(losses[:10]), statistics.mean(losses[-10:])
    assert last < 0.95 * first, (first, last)


def test_two_stages_lora_validation_and_outputs(tiny_dataset: TinyDataset, tmp_path: Path) -> None:
    cfg = load_config(
        "tiny",
        [
            "lora.enabled=true",
            "validation.every=8",
            "checkpoint_every=4",
            "stages.stage1_64.max_steps=8",
            "stages.stage2_mixed.max_steps=4",
        ],
    )
    prompts = json.loads(tiny_dataset.prompts.read_text())
    report = train(cfg, dataset=str(tiny_dataset.table), storage=tiny_dataset.storage,
                   output=tmp_path, prompts=prompts)  # fmt: skip

    assert report["steps"] == 12
    stage1, stage2 = report["stages"]
    assert (stage1["name"], stage1["skipped_too_small"]) == ("stage1_64", 0)
    assert (stage2["name"], stage2["skipped_too_small"]) == ("stage2_mixed", 1)
    assert set(stage2["sizes"]) == {"64x64", "128x64", "64x128"}

    metrics = _metrics(tmp_path)
    assert all(set(m) == METRIC_KEYS for m in metrics)
    assert [m["step"] for m in metrics] == [5, 8, 12]  # every 5 stage steps and at stage ends
    assert [m["stage"] for m in metrics] == ["stage1_64", "stage1_64", "stage2_mixed"]
    assert all(m["flops_per_s"] > 0 and m["samples_per_s"] > 0 for m in metrics)

    steps = sorted(p.name for p in (tmp_path / "checkpoints").iterdir())
    assert steps == ["step-12", "step-8"]  # keep_last 2, no temp folder left
    assert (tmp_path / "validation" / "step-8.png").is_file()
    grid = tmp_path / "validation" / "step-12.png"
    from PIL import Image

    assert Image.open(grid).size == (64 * len(prompts), 64)

    adapter = tmp_path / "final" / "lora"
    assert json.loads((adapter / "adapter_config.json").read_text())["r"] == 4
    weights = load_file(adapter / "adapter_model.safetensors")
    assert weights and all("lora_" in k for k in weights)
    from diffusers import Kandinsky3UNet

    merged = Kandinsky3UNet.from_pretrained(tmp_path / "final" / "unet")
    assert not any("lora" in k for k in merged.state_dict())
    assert json.loads((tmp_path / "report.json").read_text())["steps"] == 12

    # The text-embedding cache: a second run on the same output encodes nothing again.
    again = train(load_config("tiny", ["stages.stage1_64.max_steps=1",
                                       "stages.stage2_mixed.max_steps=0"]),
                  dataset=str(tiny_dataset.table), storage=tiny_dataset.storage,
                  output=tmp_path, resume="never")  # fmt: skip
    assert again["text_embeddings_encoded"] == 0


def _cli(dataset: TinyDataset, output: Path, *extra: str) -> list[str]:
    return [
        sys.executable, "-m", "craft_dag.training.train", "--config", "tiny",
        "--dataset", str(dataset.table), "--storage", dataset.storage, "--output", str(output),
        "--set", "stages.stage1_64.max_steps=12", "--set", "stages.stage2_mixed.max_steps=6",
        "--set", "checkpoint_every=3", "--set", "keep_last=2", *extra,
    ]  # fmt: skip


@pytest.mark.slow
def test_kill_and_resume_reaches_the_same_step_and_weights(
    tiny_dataset: TinyDataset, tmp_path: Path
) -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    whole, broken = tmp_path / "whole", tmp_path / "broken"
    subprocess.run(_cli(tiny_dataset, whole), check=True, env=env, capture_output=True)

    process = subprocess.Popen(_cli(tiny_dataset, broken), env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    deadline = time.monotonic() + 120
    while not (broken / "checkpoints" / "step-6").is_dir():
        assert process.poll() is None, "the run ended before its second checkpoint"
        assert time.monotonic() < deadline
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert not (broken / "report.json").exists()

    resumed = subprocess.run(_cli(tiny_dataset, broken, "--resume", "auto"), check=True,
                             env=env, capture_output=True, text=True)  # fmt: skip
    assert "resuming from" in resumed.stdout
    a = json.loads((whole / "report.json").read_text())
    b = json.loads((broken / "report.json").read_text())
    assert a["steps"] == b["steps"] == 18
    wa = load_file(whole / "final" / "unet" / "diffusion_pytorch_model.safetensors")
    wb = load_file(broken / "final" / "unet" / "diffusion_pytorch_model.safetensors")
    assert wa.keys() == wb.keys()
    for key in wa:
        torch.testing.assert_close(wa[key], wb[key], atol=1e-5, rtol=1e-4)
