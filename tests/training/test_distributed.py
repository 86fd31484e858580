"""The distributed side of the trainer on CPU over gloo: DDP, DeepSpeed ZeRO-2/3, two nodes.

Every run is ``tests/training/dist_worker.py`` (a tiny Kandinsky3UNet loop over
``craft_dag.training.distributed``) in a subprocess: one plain process, or torchrun with two
processes, or two torchrun launchers meeting through a c10d rendezvous as two "nodes" on
127.0.0.1. Each run is launched once per module and shared by the tests that read it.
"""

from __future__ import annotations

import json
import math
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

pytest.importorskip("deepspeed")

from craft_dag.training.distributed import (
    DistContext,
    PlainEngine,
    convert_zero_checkpoint,
    deepspeed_config,
    setup_distributed,
    wrap,
)
from tests.training.dist_worker import CLIP, LR, MOMENTUM

pytestmark = [pytest.mark.slow, pytest.mark.distributed]

REPO = Path(__file__).resolve().parents[2]
WORKER = Path(__file__).with_name("dist_worker.py")
TIMEOUT_S = 240
STEPS = 4
# Why some comparisons are exact, and how far apart the others may be.
#
# A batch of two through one forward and backward sums each weight's gradient over samples and
# positions in the order its kernel chooses, and that order depends on the CPU's code paths
# (oneDNN's and ATen's per-ISA kernels): two ranks of one sample each, averaged, agree with it
# only to float32 rounding. AdamW then divides every update by the gradient's own scale, so an
# element whose gradient nearly cancels turns a rounding difference into an update difference
# of a sizeable part of lr, and the runs drift apart chaotically: 1.2e-5 on one machine, 1.7e-4
# on another after 4 steps (reproduced here with ATEN_CPU_CAPABILITY=default: 1.2e-4, and
# ONEDNN_MAX_CPU_ISA=AVX: 1.65e-4). Even with the batch split alike, torch's clip_grad_norm_
# and DeepSpeed's clipping compute the norm and the coefficient differently, which differ in the
# last bit on some kernels (3.5e-5 after 4 AdamW steps under ATEN_CPU_CAPABILITY=default).
#
# So (1) every reference run splits its batch as the runs it is compared with (one sample per
# micro-batch, accumulated: the same kernels on the same shapes, and (a + b) / 2 == a / 2 +
# b / 2 in binary floating point), and (2) the worker trains with SGD and momentum, which passes
# a gradient difference on linearly. Runs of the same engine and configuration (two nodes
# against one, ranks against each other, a resumed run) are then equal bit for bit; runs whose
# float rounding differs (the clipping norm of another engine or ZeRO stage, DDP's sum order)
# stay within rounding_bound, the float error of this training derived below.
N_TERMS = 4 * 8 * 8
"""The most products summed into one weight's gradient: 4 samples x 8 x 8 latent positions."""


def rounding_bound(eps: float, reference: dict[str, torch.Tensor]) -> float:
    """How far two runs of the worker may drift apart when only their float rounding differs.

    Per optimizer step, each weight is rounded once by each run (``w - lr * v``): at most
    ``eps * |w|`` apart. Each gradient element is a sum of at most ``N_TERMS`` products whose
    rounding depends on the order: about ``sqrt(N_TERMS) * eps`` times its scale, and clipping
    bounds every element by ``CLIP``; the clipping coefficient itself, computed by another
    engine, is a few ``eps`` off relatively, inside the same term. SGD with momentum carries a
    gradient difference into the weights at most ``lr / (1 - momentum)`` times. Over STEPS steps:
    ``STEPS * eps * (max|w| + LR / (1 - MOMENTUM) * sqrt(N_TERMS) * CLIP)``, 4.3e-6 in float32,
    8e-15 in float64. Left out: the feedback of a weight difference into the next gradients
    (lr times the loss's curvature, small at this lr); measured differences are a few ulps
    (float32: 6e-8 to 9e-8 over the kernel variants above).
    """
    max_weight = max(v.abs().max().item() for v in reference.values() if v.is_floating_point())
    return STEPS * eps * (max_weight + LR / (1 - MOMENTUM) * math.sqrt(N_TERMS) * CLIP)


EPS32 = torch.finfo(torch.float32).eps
EPS64 = torch.finfo(torch.float64).eps
LOSS_RTOL = STEPS * math.sqrt(N_TERMS) * EPS32
"""A step's loss is a float32 mean over at most N_TERMS * 4 channels of squared errors (its
rounding is about sqrt(n) * eps relative) of weights within rounding_bound: at most one such
rounding per step, 7.6e-6 over STEPS steps."""


@dataclass
class Dist:
    backend: str
    zero_stage: int = 2
    deepspeed_config: str = ""
    dist_backend: str = "auto"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _env(tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    env.update(
        OMP_NUM_THREADS="1",
        # A build of any DeepSpeed op would land here, never in the user's cache.
        TORCH_EXTENSIONS_DIR=str(tmp / "torch_extensions"),
        PYTHONPATH=str(REPO),
        NO_PROXY="127.0.0.1,localhost",
    )
    return env


def launch(commands: list[list[str]], env: dict[str, str], log: Path) -> None:
    """Run ``commands`` at once, each in its own process group; kill them all on failure."""
    procs = []
    for i, cmd in enumerate(commands):
        out = open(log.with_suffix(f".{i}.log"), "w")  # noqa: SIM115 - closed below
        procs.append(
            (
                subprocess.Popen(
                    cmd,
                    cwd=REPO,
                    env=env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                ),
                out,
            )
        )
    deadline = time.monotonic() + TIMEOUT_S
    failed = False
    try:
        for proc, _ in procs:
            remaining = max(1.0, deadline - time.monotonic())
            try:
                failed |= proc.wait(timeout=remaining) != 0
            except subprocess.TimeoutExpired:
                failed = True
                break
    finally:
        for proc, out in procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)  # torchrun and its workers share the group
                proc.wait()
            out.close()
    if failed:
        tails = "\n".join(
            log.with_suffix(f".{i}.log").read_text()[-3000:] for i in range(len(commands))
        )
        pytest.fail(f"distributed run failed or timed out ({log.name}):\n{tails}")


def torchrun(nproc: int, port: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc-per-node",
        str(nproc),
        "--master-addr",
        "127.0.0.1",
        "--master-port",
        str(port),
    ]


@dataclass
class Run:
    out: Path
    result: dict

    def weights(self, name: str = "final") -> dict[str, torch.Tensor]:
        return load_file(str(self.out / f"{name}.safetensors"))


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Run]:
    """``runs(name)``: the named worker run, launched on first use and cached."""
    base = tmp_path_factory.mktemp("dist")
    env = _env(base)
    worker = [str(WORKER), "--steps", str(STEPS)]
    z2 = ["--backend", "deepspeed", "--zero-stage", "2"]
    plain = ["--backend", "none", "--micro-batch", "1"]
    f64 = ["--dtype", "float64"]
    specs: dict[str, Callable[[Path], list[list[str]]]] = {
        # One process, global batch 2 as two micro-batches of one: the ZeRO runs' reference.
        "plain": lambda o: [[sys.executable, *worker, *plain, "--accum", "2", "--out", str(o)]],
        # One process, global batch 4 as four micro-batches, float64: DDP's reference.
        "plain4": lambda o: [
            [sys.executable, *worker, *plain, "--accum", "4", *f64, "--out", str(o)]
        ],
        "ddp": lambda o: [
            [
                *torchrun(2, free_port()),
                *worker,
                "--backend",
                "ddp",
                "--accum",
                "2",
                *f64,
                "--out",
                str(o),
            ]
        ],
        "zero2": lambda o: [
            [
                *torchrun(2, free_port()),
                *worker,
                *z2,
                "--save-at",
                "2",
                "4",
                "--convert",
                "--out",
                str(o),
            ]
        ],
        "zero3": lambda o: [
            [
                *torchrun(2, free_port()),
                *worker,
                "--backend",
                "deepspeed",
                "--zero-stage",
                "3",
                "--save-at",
                str(STEPS),
                "--convert",
                "--out",
                str(o),
            ]
        ],
        "resume": lambda o: [
            [
                *torchrun(2, free_port()),
                *worker,
                *z2,
                "--resume",
                str(base / "zero2" / "ckpt" / "step-2"),
                "--out",
                str(o),
            ]
        ],
        "two_nodes": lambda o: two_nodes(o, worker, z2),
        # A new optimizer and engine over the same model halfway, as the trainer's next stage.
        "plain_rewrap": lambda o: [
            [sys.executable, *worker, *plain, "--accum", "2", "--rewrap-at", "2", "--out", str(o)]
        ],
        "zero2_rewrap": lambda o: [
            [*torchrun(2, free_port()), *worker, *z2, "--rewrap-at", "2", "--out", str(o)]
        ],
    }
    cache: dict[str, Run] = {}

    def get(name: str) -> Run:
        if name not in cache:
            if name == "resume":
                get("zero2")
            out = base / name
            out.mkdir()
            launch(specs[name](out), env, base / f"{name}.log")
            cache[name] = Run(out, json.loads((out / "result.json").read_text()))
        return cache[name]

    return get


def two_nodes(out: Path, worker: list[str], z2: list[str]) -> list[list[str]]:
    """Two torchrun launchers, one process each, meeting through c10d on 127.0.0.1."""
    port = free_port()
    return [
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--nnodes",
            "2",
            "--nproc-per-node",
            "1",
            "--node-rank",
            str(node),
            "--rdzv-backend",
            "c10d",
            "--rdzv-endpoint",
            f"127.0.0.1:{port}",
            "--rdzv-id",
            "craft-two-nodes",
            "--local-addr",
            "127.0.0.1",
            *worker,
            *z2,
            "--save-at",
            str(STEPS),
            "--out",
            str(out),
        ]
        for node in (0, 1)
    ]


def max_diff(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> float:
    assert a.keys() == b.keys(), sorted(set(a) ^ set(b))
    return max((a[k].double() - b[k].double()).abs().max().item() for k in a)


def test_zero2_two_processes_match_each_other_and_one_process(runs) -> None:
    zero2, plain = runs("zero2"), runs("plain")
    assert zero2.result["world_size"] == 2 and zero2.result["global_step"] == STEPS
    assert not zero2.result["shm_op_built"], "DeepSpeed compiled its CPU shm op"
    assert max_diff(zero2.weights("rank0"), zero2.weights("rank1")) == 0.0
    assert max_diff(zero2.weights("final"), zero2.weights("rank0")) == 0.0
    # Another engine's clipping: equal up to rounding (exactly equal with clipping off).
    assert max_diff(zero2.weights(), plain.weights()) <= rounding_bound(EPS32, plain.weights())
    assert zero2.result["losses"][0] == plain.result["losses"][0]  # same weights, same sums
    assert zero2.result["losses"] == pytest.approx(plain.result["losses"], rel=LOSS_RTOL)
    untrained = {k: v.float() for k, v in _tiny_unet().state_dict().items()}
    assert max_diff(zero2.weights(), untrained) > 1e-4


def test_ddp_with_accumulation_matches_one_process(runs) -> None:
    ddp, plain4 = runs("ddp"), runs("plain4")
    assert {v.dtype for v in ddp.weights("rank0").values() if v.is_floating_point()} == {
        torch.float64
    }
    assert max_diff(ddp.weights("rank0"), ddp.weights("rank1")) == 0.0
    # DDP sums four per-sample gradients as (g0 + g2) + (g1 + g3), one process as
    # ((g0 + g1) + g2) + g3: no order is shared, so these two run in float64.
    bound = rounding_bound(EPS64, plain4.weights("rank0"))
    assert max_diff(ddp.weights("rank0"), plain4.weights("rank0")) <= bound


def test_zero3_consolidates_to_the_zero2_weights(runs) -> None:
    zero3, zero2 = runs("zero3"), runs("zero2")
    assert zero3.result["global_step"] == STEPS
    # ZeRO-3 partitions parameters and their clipping-norm sums otherwise than ZeRO-2.
    assert max_diff(zero3.weights(), zero2.weights()) <= rounding_bound(EPS32, zero2.weights())
    converted = load_file(str(zero3.out / "converted" / "model.safetensors"))
    assert max_diff(converted, zero3.weights()) == 0.0


def test_two_nodes_on_one_host_train_and_checkpoint_like_one_node(runs) -> None:
    nodes, zero2 = runs("two_nodes"), runs("zero2")
    assert nodes.result["world_size"] == 2
    assert max_diff(nodes.weights("rank0"), nodes.weights("rank1")) == 0.0
    assert max_diff(nodes.weights(), zero2.weights()) == 0.0
    shards = sorted(p.name for p in (nodes.out / "ckpt" / f"step-{STEPS}" / "state").iterdir())
    assert shards == sorted(
        p.name for p in (zero2.out / "ckpt" / f"step-{STEPS}" / "state").iterdir()
    )


def test_save_on_every_rank_then_resume_reaches_the_same_step_and_weights(runs) -> None:
    zero2, resumed = runs("zero2"), runs("resume")
    state = zero2.out / "ckpt" / "step-2" / "state"
    assert {p.name for p in state.glob("zero_pp_rank_*_optim_states.pt")} == {
        "zero_pp_rank_0_mp_rank_00_optim_states.pt",
        "zero_pp_rank_1_mp_rank_00_optim_states.pt",
    }
    assert resumed.result["global_step"] == STEPS
    assert resumed.result["losses"] == zero2.result["losses"]
    assert max_diff(resumed.weights(), zero2.weights()) == 0.0


def test_converted_zero_checkpoint_loads_into_the_model(runs) -> None:
    zero2 = runs("zero2")
    converted = zero2.out / "converted" / "model.safetensors"
    model = _tiny_unet()
    missing, unexpected = model.load_state_dict(load_file(str(converted)), strict=True)
    assert not missing and not unexpected
    assert max_diff({k: v.float() for k, v in model.state_dict().items()}, zero2.weights()) == 0.0


def test_wrapping_the_model_again_detaches_the_previous_deepspeed_engine(runs) -> None:
    rewrapped, plain = runs("zero2_rewrap"), runs("plain_rewrap")
    assert max_diff(rewrapped.weights("rank0"), rewrapped.weights("rank1")) == 0.0
    bound = rounding_bound(EPS32, plain.weights())
    assert max_diff(rewrapped.weights(), plain.weights()) <= bound
    assert rewrapped.result["losses"][0] == plain.result["losses"][0]
    assert rewrapped.result["losses"] == pytest.approx(plain.result["losses"], rel=LOSS_RTOL)


def test_the_trainer_entry_point_under_torchrun_with_deepspeed(tmp_path: Path) -> None:
    """``craft_dag.training.train`` itself: 2 processes, ZeRO-2, both tiny stages, a few steps."""
    from tests.training.conftest import write_dataset

    data = write_dataset(tmp_path / "data")
    run = tmp_path / "run"
    steps = {"stage1_64": 4, "stage2_mixed": 2}
    cmd = [
        *torchrun(2, free_port()),
        "-m",
        "craft_dag.training.train",
        "--config",
        str(REPO / "craft_dag" / "training" / "configs" / "tiny.yaml"),
        "--dataset",
        str(data.table),
        "--storage",
        data.storage,
        "--output",
        str(run),
        "--set",
        "distributed.backend=deepspeed",
        *[f"--set=stages.{name}.max_steps={n}" for name, n in steps.items()],
        "--set=checkpoint_every=2",
        "--set=log_every=2",
        "--set=validation.every=0",
        "--set=ema.enabled=false",  # the exported weights are then the engine's own
    ]
    launch([cmd], _env(tmp_path), tmp_path / "train.log")

    report = json.loads((run / "report.json").read_text())
    assert report["world_size"] == 2 and report["steps"] == sum(steps.values())
    assert [s["steps"] for s in report["stages"]] == list(steps.values())
    metrics = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [m["step"] for m in metrics] == [2, 4, 6]
    assert all(m["loss"] > 0 and m["samples_per_s"] > 0 and m["flops_per_s"] > 0 for m in metrics)
    last = run / "checkpoints" / f"step-{report['steps']}"
    assert sorted(p.name for p in (last / "state").glob("zero_pp_rank_*_optim_states.pt")) == [
        "zero_pp_rank_0_mp_rank_00_optim_states.pt",
        "zero_pp_rank_1_mp_rank_00_optim_states.pt",
    ]
    exported = load_file(str(run / "final" / "unet" / "diffusion_pytorch_model.safetensors"))
    converted = load_file(str(convert_zero_checkpoint(last, tmp_path / "converted")))
    assert max_diff(converted, exported) == 0.0


def _tiny_unet() -> torch.nn.Module:
    from tests.training.dist_worker import tiny_unet

    return tiny_unet()


# --- in-process checks of the parts that need no second process --------------------------------


def test_deepspeed_config_is_filled_from_the_arguments() -> None:
    cfg = Dist("deepspeed", zero_stage=3)
    config = deepspeed_config(
        cfg,
        world_size=4,
        micro_batch_size=2,
        gradient_accumulation_steps=3,
        gradient_clipping=1.0,
        mixed_precision="bf16",
    )
    assert config["train_micro_batch_size_per_gpu"] == 2
    assert config["gradient_accumulation_steps"] == 3
    assert config["train_batch_size"] == 24
    assert config["zero_optimization"]["stage"] == 3
    assert config["zero_optimization"]["stage3_gather_16bit_weights_on_model_save"] is True
    assert config["torch_autocast"] == {"enabled": True, "dtype": "bfloat16"}
    assert "optimizer" not in config  # the loop's own optimizer stands


def test_deepspeed_config_refuses_a_number_that_disagrees(tmp_path: Path) -> None:
    path = tmp_path / "ds.json"
    path.write_text(
        json.dumps({"gradient_accumulation_steps": 4, "zero_optimization": {"stage": 2}})
    )
    with pytest.raises(ValueError, match="gradient_accumulation_steps=4"):
        deepspeed_config(
            Dist("deepspeed", deepspeed_config=str(path)),
            world_size=1,
            micro_batch_size=1,
            gradient_accumulation_steps=2,
            gradient_clipping=0.0,
            mixed_precision="fp32",
        )


def test_none_backend_steps_only_at_accumulation_boundaries(tmp_path: Path) -> None:
    ctx = setup_distributed(Dist("none"))
    assert (ctx.world_size, ctx.rank, ctx.is_main) == (1, 0, True)
    model = torch.nn.Linear(3, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    engine = wrap(model, opt, None, Dist("none"), ctx, gradient_accumulation_steps=2)
    assert isinstance(engine, PlainEngine) and not engine.is_deepspeed
    before = model.weight.detach().clone()
    engine.backward(engine(torch.ones(1, 3)).sum())
    engine.step()
    assert not engine.sync_gradients and torch.equal(model.weight, before)
    engine.backward(engine(torch.ones(1, 3)).sum())
    engine.step()
    assert engine.sync_gradients and engine.global_step == 1
    # Two micro-batches of gradient 1 each, averaged: the weight moves by lr * 1.
    assert torch.allclose(model.weight, before - 0.1)
    engine.save(tmp_path / "ck", {"step": 1})
    assert engine.load(tmp_path / "ck") == {"step": 1}
    assert ctx.all_reduce_mean(torch.tensor([2.0])).item() == 2.0


def test_none_backend_refuses_a_multi_process_launch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORLD_SIZE", "2")
    with pytest.raises(ValueError, match="'none'"):
        setup_distributed(Dist("none"))


def test_dist_context_without_a_group_is_a_no_op() -> None:
    ctx = DistContext(rank=0, world_size=1, local_rank=0, device=torch.device("cpu"), is_main=True)
    ctx.barrier()
    t = torch.tensor([1.0, 3.0])
    assert torch.equal(ctx.all_reduce_mean(t), t)
