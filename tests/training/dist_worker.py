"""A tiny training loop over ``craft_dag.training.distributed``, launched by the tests.

Not a test module (pytest does not collect it): ``tests/training/test_distributed.py`` runs it
as one plain process or under ``python -m torch.distributed.run`` (torchrun), then reads what
it wrote to ``--out``:

- ``rank<R>.safetensors``: each rank's own view of the weights (not under ZeRO-3, where a rank
  holds only its partition);
- ``final.safetensors`` (rank 0): ``Engine.consolidated_state_dict()``;
- ``result.json`` (rank 0): steps, losses, world size, set-up times, whether DeepSpeed built
  its CPU shared-memory op;
- ``ckpt/step-<N>/``: ``Engine.save`` on every rank after each step in ``--save-at``.

The data make the comparison exact in design: optimizer step ``s`` trains on one global batch
of ``micro_batch * accum * world`` samples drawn from a generator seeded by ``s``, and each
(rank, micro-batch) takes its own slice of it. The loss is a per-micro-batch mean and every
backend averages gradients over ranks and micro-batches, so any split of the same global batch
yields the same update up to the order of float sums.

The optimizer is SGD with momentum, not the trainer's AdamW, and gradients are clipped to a
norm of ``CLIP``. SGD passes a gradient difference on linearly (``lr / (1 - momentum)`` at
most), so two runs that differ only in float32 rounding (a sum's order, the clipping norm
computed by torch in one and by DeepSpeed in another) stay within a bound derived from float32's
resolution (``tests/training/test_distributed.py``). AdamW divides each update by the
gradient's own scale: an element whose gradient nearly cancels turns a rounding difference into
an update of up to ``lr`` itself, and the runs drift apart by an amount that depends on the CPU's
kernels. SGD also sees a wrong gradient scale (a micro-batch counted twice, a missing average,
no clipping), which AdamW normalises away.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from craft_dag.training.distributed import (
    convert_zero_checkpoint,
    setup_distributed,
    teardown,
    wrap,
)

LR = 0.05
"""Peak learning rate (the schedule warms up to it in two steps); a rewrap uses half."""
MOMENTUM = 0.9
CLIP = 1.0
"""Gradient clipping norm: at this model and data every step clips, on every backend."""


@dataclass
class Dist:
    """What the trainer's ``DistributedSection`` holds (the interface reads nothing more)."""

    backend: str
    zero_stage: int = 2
    deepspeed_config: str = ""
    dist_backend: str = "auto"


def tiny_unet() -> torch.nn.Module:
    """A 61k-parameter ``Kandinsky3UNet`` (same seed on every rank)."""
    from diffusers import Kandinsky3UNet

    torch.manual_seed(0)
    return Kandinsky3UNet(
        in_channels=4,
        time_embedding_dim=16,
        groups=2,
        attention_head_dim=4,
        layers_per_block=2,
        block_out_channels=(8, 16),
        cross_attention_dim=8,
        encoder_hid_dim=8,
    )


def global_batch(
    step: int, size: int, dtype: torch.dtype = torch.float32
) -> dict[str, torch.Tensor]:
    """Optimizer step ``step``'s whole global batch: latents, noise, timesteps, text."""
    gen = torch.Generator().manual_seed(1000 + step)
    return {
        "sample": torch.randn(size, 4, 8, 8, generator=gen).to(dtype),
        "target": torch.randn(size, 4, 8, 8, generator=gen).to(dtype),
        "timestep": torch.randint(0, 1000, (size,), generator=gen),
        "text": torch.randn(size, 4, 8, generator=gen).to(dtype),
    }


def main() -> None:
    """Train ``--steps`` optimizer steps (resuming if asked) and write the results."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--backend", default="deepspeed")
    parser.add_argument("--zero-stage", type=int, default=2)
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--micro-batch", type=int, default=1)
    parser.add_argument("--accum", type=int, default=1)
    parser.add_argument("--mixed-precision", default="fp32")
    parser.add_argument(
        "--dtype", default="float32", choices=["float32", "float64"], help="weights and data"
    )
    parser.add_argument("--save-at", type=int, nargs="*", default=[])
    parser.add_argument("--resume", type=Path)
    parser.add_argument(
        "--rewrap-at", type=int, default=0, help="a new optimizer and engine at this step"
    )
    parser.add_argument("--convert", action="store_true", help="convert the last checkpoint")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    torch.set_num_threads(1)  # two ranks on two cores: more threads only spin

    import deepspeed.ops.op_builder.builder as ds_builder

    t0 = time.perf_counter()
    cfg = Dist(backend=args.backend, zero_stage=args.zero_stage)
    ctx = setup_distributed(cfg)
    t_setup = time.perf_counter() - t0
    dtype = getattr(torch, args.dtype)
    model = tiny_unet().to(ctx.device, dtype)
    optimizer = torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: min(1.0, (s + 1) / 2))
    t1 = time.perf_counter()
    engine = wrap(
        model,
        optimizer,
        scheduler,
        cfg,
        ctx,
        micro_batch_size=args.micro_batch,
        gradient_accumulation_steps=args.accum,
        gradient_clipping=CLIP,
        mixed_precision=args.mixed_precision,
    )
    t_wrap = time.perf_counter() - t1
    losses: list[float] = []
    if args.resume:
        client = engine.load(args.resume)
        losses = list(client["losses"])
        assert client["step"] == engine.global_step, (client, engine.global_step)

    per_step = args.micro_batch * args.accum * ctx.world_size
    t2 = time.perf_counter()
    done = 0  # optimizer steps of engines closed by --rewrap-at
    while done + engine.global_step < args.steps:
        if args.rewrap_at and done + engine.global_step == args.rewrap_at and not done:
            done = engine.global_step  # as the trainer's next stage: a new optimizer, same model
            optimizer = torch.optim.SGD(model.parameters(), lr=LR / 2, momentum=MOMENTUM)
            engine = wrap(
                model,
                optimizer,
                None,
                cfg,
                ctx,
                gradient_clipping=CLIP,
                micro_batch_size=args.micro_batch,
                gradient_accumulation_steps=args.accum,
            )
        batch = global_batch(done + engine.global_step, per_step, dtype)
        step_loss = torch.zeros(())
        for k in range(args.accum):
            start = (k * ctx.world_size + ctx.rank) * args.micro_batch
            part = {n: v[start : start + args.micro_batch].to(ctx.device) for n, v in batch.items()}
            pred = engine(
                part["sample"],
                part["timestep"],
                encoder_hidden_states=part["text"],
                encoder_attention_mask=torch.ones(part["text"].shape[:2], device=ctx.device),
            ).sample
            loss = torch.nn.functional.mse_loss(pred.to(dtype), part["target"])
            engine.backward(loss)
            engine.step()
            step_loss += loss.detach().cpu() / args.accum
        assert engine.sync_gradients
        losses.append(float(ctx.all_reduce_mean(step_loss)))
        if engine.global_step in args.save_at:
            folder = args.out / "ckpt" / f"step-{engine.global_step}"
            engine.save(folder, {"step": engine.global_step, "losses": losses})
    t_train = time.perf_counter() - t2

    if not (engine.is_deepspeed and engine.zero_stage == 3):
        # In the run's own dtype: a float64 run's weights are compared at float64 resolution.
        local = {k: v.detach().cpu().contiguous() for k, v in engine.module.state_dict().items()}
        from safetensors.torch import save_file

        save_file(local, str(args.out / f"rank{ctx.rank}.safetensors"))
    final = engine.consolidated_state_dict()
    if ctx.is_main:
        from safetensors.torch import save_file

        save_file(final, str(args.out / "final.safetensors"))
        if args.convert and args.save_at:
            folder = args.out / "ckpt" / f"step-{max(args.save_at)}"
            convert_zero_checkpoint(folder, args.out / "converted")
        result = {
            "global_step": engine.global_step,
            "losses": losses,
            "world_size": ctx.world_size,
            "is_deepspeed": engine.is_deepspeed,
            "setup_s": t_setup,
            "wrap_s": t_wrap,
            "train_s": t_train,
            "shm_op_built": "deepspeed_shm_comm" in ds_builder.OpBuilder._loaded_ops,
        }
        (args.out / "result.json").write_text(json.dumps(result))
    ctx.barrier()
    teardown(ctx)


if __name__ == "__main__":
    main()
