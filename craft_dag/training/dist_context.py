"""Where a training process stands: its ranks, its device and the process group it joined.

:func:`setup_distributed` joins the run that launched this process (torchrun's environment) or
runs alone, and :func:`teardown` destroys the group it made. On a CPU host it keeps DeepSpeed from
JIT-compiling its shared-memory all-reduce op (``skip_cpu_shm_op``; see
:mod:`craft_dag.training.distributed`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol

import torch

BACKENDS = ("none", "ddp", "deepspeed")
_TIMEOUT = timedelta(minutes=int(os.environ.get("CRAFT_DIST_TIMEOUT_MIN", "30")))


class DistributedSettings(Protocol):
    """What this module reads of the trainer's ``DistributedSection`` (any such object)."""

    backend: str
    zero_stage: int
    deepspeed_config: str
    dist_backend: str


@dataclass
class DistContext:
    """Where this process stands: its ranks, its device, and the process group it joined."""

    rank: int
    world_size: int
    local_rank: int
    device: torch.device
    is_main: bool
    backend: str = "none"
    """The trainer's backend (``none``, ``ddp``, ``deepspeed``)."""
    dist_backend: str = ""
    """The torch.distributed backend in use (``gloo``, ``nccl``), empty without a group."""
    owns_group: bool = False
    """Whether ``setup_distributed`` created the process group (``teardown`` then destroys it)."""

    @property
    def distributed(self) -> bool:
        """Whether a process group is initialised (also true for a one-process DeepSpeed run)."""
        return torch.distributed.is_available() and torch.distributed.is_initialized()

    def barrier(self) -> None:
        """Wait for every rank; nothing to wait for in a single process."""
        if self.distributed:
            torch.distributed.barrier()

    def all_reduce_mean(self, tensor: torch.Tensor) -> torch.Tensor:
        """The mean of ``tensor`` over all ranks, as a new tensor (the input is left alone)."""
        if not self.distributed or self.world_size == 1:
            return tensor.detach().clone()
        # gloo reduces CPU tensors and nccl device ones: move to the group's device and back.
        out = tensor.detach().to(self.device, copy=True)
        torch.distributed.all_reduce(out, op=torch.distributed.ReduceOp.SUM)
        return (out / self.world_size).to(tensor.device)


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "")
    return int(value) if value.strip() else default


def resolve_dist_backend(dist_backend: str) -> str:
    """``auto`` is nccl where CUDA is available, gloo otherwise; anything else is kept."""
    if dist_backend == "auto":
        return "nccl" if torch.cuda.is_available() else "gloo"
    return dist_backend


def skip_cpu_shm_op() -> None:
    """Keep DeepSpeed from JIT-compiling its CPU shared-memory all-reduce op.

    ``deepspeed.comm.torch.TorchBackend`` builds ``deepspeed_shm_comm`` whenever its probe of
    compatible ops says it can (always on Linux x86 with a compiler), also when the torch process
    group exists already, and no setting or environment variable turns it off. The op only
    serves ``inference_all_reduce`` (AutoTP inference); training all-reduces through the torch
    process group. ``deepspeed.ops.__compatible_ops__`` is the dict that probe is cached in
    (its module says edits to it persist), so marking the op incompatible there skips the build.
    Only meant for the CPU accelerator: on GPUs DeepSpeed's accelerator has no such op.
    """
    import deepspeed.ops

    deepspeed.ops.__compatible_ops__["deepspeed_shm_comm"] = False


def setup_distributed(cfg: DistributedSettings) -> DistContext:
    """Join the run that launched this process (torchrun's environment) or run alone.

    Under torchrun (``RANK``/``WORLD_SIZE``/``LOCAL_RANK``/``MASTER_ADDR``/``MASTER_PORT``), the
    ``ddp`` and ``deepspeed`` backends initialise the default process group (``env://``, gloo on
    CPU and nccl on CUDA for ``dist_backend: auto``); CUDA ranks bind to ``cuda:LOCAL_RANK``.
    Launched plainly, ``none`` and ``ddp`` run as one process without a group, and ``deepspeed``
    gets a one-process group over an in-memory store, since its engine needs one.
    """
    backend = cfg.backend
    if backend not in BACKENDS:
        raise ValueError(f"distributed.backend is one of {BACKENDS}, not {backend!r}")
    world_size = _env_int("WORLD_SIZE", 1)
    rank = _env_int("RANK", 0)
    local_rank = _env_int("LOCAL_RANK", 0)
    launched = "RANK" in os.environ and "MASTER_ADDR" in os.environ
    if backend == "none" and world_size > 1:
        raise ValueError(
            f"{world_size} processes were launched but distributed.backend is 'none': each "
            "would train alone; use 'ddp' or 'deepspeed'"
        )
    dist_backend = resolve_dist_backend(cfg.dist_backend)
    if dist_backend == "nccl":
        torch.cuda.set_device(local_rank)
        device = torch.device("cuda", local_rank)
    elif torch.cuda.is_available() and dist_backend != "gloo":
        device = torch.device("cuda", local_rank)
    else:
        device = torch.device("cpu")

    owns_group = False
    if backend != "none" and not torch.distributed.is_initialized():
        if launched:
            torch.distributed.init_process_group(
                dist_backend, init_method="env://", timeout=_TIMEOUT
            )
            owns_group = True
        elif backend == "deepspeed":
            # DeepSpeed reads these from the environment (its engine and ZeRO-3's partitioner).
            for name, value in (("RANK", "0"), ("WORLD_SIZE", "1"), ("LOCAL_RANK", "0")):
                os.environ.setdefault(name, value)
            torch.distributed.init_process_group(
                dist_backend,
                store=torch.distributed.HashStore(),
                rank=0,
                world_size=1,
                timeout=_TIMEOUT,
            )
            owns_group = True
    if backend == "deepspeed":
        import deepspeed

        if device.type == "cpu":
            skip_cpu_shm_op()
        # Adopts the group made above (no second rendezvous) and creates DeepSpeed's own
        # communication backend over it.
        deepspeed.comm.init_distributed(dist_backend=dist_backend, timeout=_TIMEOUT)
    if torch.distributed.is_initialized():
        rank = torch.distributed.get_rank()
        world_size = torch.distributed.get_world_size()
    return DistContext(
        rank=rank,
        world_size=world_size,
        local_rank=local_rank,
        device=device,
        is_main=rank == 0,
        backend=backend,
        dist_backend=dist_backend if torch.distributed.is_initialized() else "",
        owns_group=owns_group,
    )


def teardown(ctx: DistContext) -> None:
    """Destroy the process group ``setup_distributed`` created (a group made by the caller
    before it stays)."""
    if ctx.owns_group and torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()
        ctx.owns_group = False
