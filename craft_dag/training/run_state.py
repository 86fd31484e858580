"""What a trainer checkpoint holds besides the engine's own state: EMA weights and RNG states.

The engine (``distributed.py``) saves the weights, optimizer and scheduler; the loop adds its
position (stage, step, epoch, batch), every rank's RNG states and the EMA's shadow weights, so a
resumed run draws the same noise, timesteps and caption dropouts as the uninterrupted one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from craft_dag.training import checkpoints as ckpt


def grad_norm(params: list[torch.nn.Parameter]) -> float:
    """The global L2 norm of ``params``' gradients (0.0 without any)."""
    grads = [p.grad.detach().float().norm() for p in params if p.grad is not None]
    return float(torch.stack(grads).norm()) if grads else 0.0


def ema_tensors(ema: Any, named: list[tuple[str, torch.nn.Parameter]]) -> dict[str, torch.Tensor]:
    """The EMA's shadow weights by parameter name (fp32, CPU)."""
    return {
        n: s.detach().float().cpu().clone()
        for (n, _), s in zip(named, ema.shadow_params, strict=True)
    }


def load_ema(ema: Any, path: Path, named: list[tuple[str, torch.nn.Parameter]], step: int) -> None:
    """Put the shadow weights saved at ``path`` (by ``ema_tensors``) back into ``ema``."""
    from safetensors.torch import load_file

    saved = load_file(path)
    state = ema.state_dict()
    state["shadow_params"] = [saved[n].to(p.device, p.dtype) for n, p in named]
    state["optimization_step"] = step
    ema.load_state_dict(state)


def gather_rng(ctx: Any, generator: torch.Generator) -> dict[str, list[torch.Tensor]]:
    """Every rank's RNG states, for the client state (one process: lists of one)."""
    states = {"generator": generator.get_state(), "torch": torch.get_rng_state()}
    if ctx.world_size == 1:
        return {k: [v] for k, v in states.items()}
    import torch.distributed as tdist

    gathered: list[dict[str, torch.Tensor] | None] = [None] * ctx.world_size
    tdist.all_gather_object(gathered, states)
    return {k: [g[k] for g in gathered] for k in states}  # type: ignore[index]


def save_run(
    output: Path,
    engine: Any,
    ctx: Any,
    generator: torch.Generator,
    *,
    step: int,
    stage: str,
    stage_index: int,
    stage_step: int,
    epoch: int,
    position: int,
    ema: Any | None,
    named: list[tuple[str, torch.nn.Parameter]],
    keep_last: int,
) -> None:
    """Checkpoint ``step``: the engine's state, the loop's position, RNG states, EMA weights."""
    client_state = {
        "step": step,
        "stage": stage,
        "stage_index": stage_index,
        "stage_step": stage_step,
        "epoch": epoch,
        "position": position,
        "ema_step": ema.optimization_step if ema is not None else 0,
        "rng": gather_rng(ctx, generator),
    }
    ckpt.save_checkpoint(
        output,
        step,
        engine=engine,
        ctx=ctx,
        client_state=client_state,
        keep_last=keep_last,
        ema_state=(lambda: ema_tensors(ema, named)) if ema is not None else None,
    )


def restore_run(
    engine: Any,
    folder: Path,
    ctx: Any,
    generator: torch.Generator,
    ema: Any | None,
    named: list[tuple[str, torch.nn.Parameter]],
) -> tuple[int, int, int]:
    """Load ``save_run``'s checkpoint into the engine, the RNGs and the EMA; returns the stage
    step, epoch and position to go on from."""
    client = engine.load(folder)
    generator.set_state(client["rng"]["generator"][ctx.rank])
    torch.set_rng_state(client["rng"]["torch"][ctx.rank])
    if ema is not None:
        load_ema(ema, folder / ckpt.EMA_WEIGHTS, named, client["ema_step"])
    return client["stage_step"], client["epoch"], client["position"]
