"""The engines a training loop runs through: the plain one (one process or DDP), DeepSpeed's.

Both keep the contracts of :mod:`craft_dag.training.distributed` (accumulation, the forward
through the engine, mixed precision, checkpoints on every rank); its ``wrap`` picks one.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any, Protocol

import torch
from safetensors.torch import load_file, save_file

from craft_dag.training.dist_context import DistContext

DEEPSPEED_TAG = "state"
"""The one tag of a DeepSpeed checkpoint folder: each ``save`` gets its own folder, so the
step number belongs in the folder's name (the caller's), not in a tag inside it."""
WEIGHTS_FILE = "model.safetensors"


class Engine(Protocol):
    """What the training loop sees of every backend (see :mod:`craft_dag.training.distributed`)."""

    module: torch.nn.Module
    is_deepspeed: bool

    def __call__(self, *args: Any, **kwargs: Any) -> Any: ...
    def backward(self, loss: torch.Tensor) -> None: ...
    def step(self) -> None: ...
    @property
    def sync_gradients(self) -> bool: ...
    @property
    def global_step(self) -> int: ...
    def save(self, folder: Path, client_state: dict[str, Any]) -> None: ...
    def load(self, folder: Path) -> dict[str, Any]: ...
    def consolidated_state_dict(self) -> dict[str, torch.Tensor]: ...


def _cpu_state(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Detached fp32 (floating) CPU copies, unshared, as safetensors wants them."""
    out = {}
    for key, value in state.items():
        value = value.detach()
        if value.is_floating_point():
            value = value.float()
        out[key] = value.to("cpu", copy=True).contiguous()
    return out


class PlainEngine:
    """The ``none`` and ``ddp`` backends: the caller's optimizer and scheduler, stepped here."""

    is_deepspeed = False

    def __init__(
        self,
        model: torch.nn.Module,
        optimizer: torch.optim.Optimizer,
        lr_scheduler: Any,
        ctx: DistContext,
        *,
        gradient_accumulation_steps: int,
        gradient_clipping: float,
        mixed_precision: str,
        ddp: bool,
    ) -> None:
        self.ctx = ctx
        self.module = model
        self.optimizer = optimizer
        self.lr_scheduler = lr_scheduler
        self.gradient_accumulation_steps = gradient_accumulation_steps
        self.gradient_clipping = gradient_clipping
        self.autocast_dtype = torch.bfloat16 if mixed_precision == "bf16" else None
        self.micro_steps = 0
        self._global_step = 0
        self._sync = False
        self._ddp: torch.nn.parallel.DistributedDataParallel | None = None
        if ddp and ctx.distributed:
            device_ids = [ctx.device.index] if ctx.device.type == "cuda" else None
            # DDP broadcasts rank 0's parameters and buffers here, so every rank starts equal.
            self._ddp = torch.nn.parallel.DistributedDataParallel(model, device_ids=device_ids)
            self._set_ddp_sync()

    def _set_ddp_sync(self) -> None:
        # DDP decides in forward whether the coming backward all-reduces (what no_sync() sets);
        # set it for the next micro-batch so only the accumulation boundary communicates.
        if self._ddp is not None:
            boundary = (self.micro_steps + 1) % self.gradient_accumulation_steps == 0
            self._ddp.require_backward_grad_sync = boundary

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """The training forward pass (through DDP, under autocast when bf16)."""
        model = self._ddp if self._ddp is not None else self.module
        if self.autocast_dtype is None:
            return model(*args, **kwargs)
        with torch.autocast(self.ctx.device.type, dtype=self.autocast_dtype):
            return model(*args, **kwargs)

    def backward(self, loss: torch.Tensor) -> None:
        """Accumulate this micro-batch's gradient (the loss scaled by 1/accumulation)."""
        (loss / self.gradient_accumulation_steps).backward()

    def step(self) -> None:
        """Count the micro-batch; at a boundary clip, step optimizer and scheduler, zero grads."""
        self.micro_steps += 1
        self._sync = self.micro_steps % self.gradient_accumulation_steps == 0
        if self._sync:
            if self.gradient_clipping > 0:
                torch.nn.utils.clip_grad_norm_(self.module.parameters(), self.gradient_clipping)
            self.optimizer.step()
            if self.lr_scheduler is not None:
                self.lr_scheduler.step()
            self.optimizer.zero_grad(set_to_none=True)
            self._global_step += 1
        self._set_ddp_sync()

    @property
    def sync_gradients(self) -> bool:
        """Whether the last ``step`` updated the weights (an accumulation boundary)."""
        return self._sync

    @property
    def global_step(self) -> int:
        """Optimizer steps taken (restored by ``load``)."""
        return self._global_step

    def save(self, folder: Path, client_state: dict[str, Any]) -> None:
        """Rank 0 writes weights (safetensors), optimizer, scheduler and ``client_state``."""
        folder = Path(folder)
        if self.ctx.is_main:
            folder.mkdir(parents=True, exist_ok=True)
            save_file(_cpu_state(self.module.state_dict()), str(folder / WEIGHTS_FILE))
            torch.save(self.optimizer.state_dict(), folder / "optimizer.pt")
            if self.lr_scheduler is not None:
                torch.save(self.lr_scheduler.state_dict(), folder / "scheduler.pt")
            engine = {"micro_steps": self.micro_steps, "global_step": self._global_step}
            torch.save({"client_state": client_state, "engine": engine}, folder / "state.pt")
        self.ctx.barrier()

    def load(self, folder: Path) -> dict[str, Any]:
        """Restore what ``save`` wrote (on every rank) and return its ``client_state``."""
        folder = Path(folder)
        if not (folder / WEIGHTS_FILE).exists():
            raise FileNotFoundError(f"no {WEIGHTS_FILE} in {folder}")
        self.module.load_state_dict(
            load_file(str(folder / WEIGHTS_FILE), device=str(self.ctx.device))
        )
        # A checkpoint is this trainer's own output (trusted): its client state may hold
        # arbitrary Python values, so it is unpickled in full.
        self.optimizer.load_state_dict(
            torch.load(folder / "optimizer.pt", map_location=self.ctx.device, weights_only=False)
        )
        if self.lr_scheduler is not None and (folder / "scheduler.pt").exists():
            self.lr_scheduler.load_state_dict(
                torch.load(folder / "scheduler.pt", weights_only=False)
            )
        state = torch.load(folder / "state.pt", map_location="cpu", weights_only=False)
        self.micro_steps = state["engine"]["micro_steps"]
        self._global_step = state["engine"]["global_step"]
        self._set_ddp_sync()
        return state["client_state"]

    def consolidated_state_dict(self) -> dict[str, torch.Tensor]:
        """The full fp32 weights on rank 0 (an empty dict elsewhere)."""
        return _cpu_state(self.module.state_dict()) if self.ctx.is_main else {}


class DeepSpeedEngine:
    """The ``deepspeed`` backend: a ``deepspeed.DeepSpeedEngine`` over the caller's optimizer
    and scheduler (client objects, so the loop's choices stand; ZeRO partitions their state)."""

    is_deepspeed = True

    def __init__(self, engine: Any, ctx: DistContext, config: dict[str, Any]) -> None:
        self.engine = engine
        self.ctx = ctx
        self.config = config
        self.zero_stage = int(config.get("zero_optimization", {}).get("stage", 0))
        self._sync = False

    @property
    def module(self) -> torch.nn.Module:
        """The unwrapped model (partitioned placeholders under ZeRO-3 outside a gather)."""
        return self.engine.module

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """The training forward pass (DeepSpeed's hooks and autocast apply)."""
        return self.engine(*args, **kwargs)

    def backward(self, loss: torch.Tensor) -> None:
        """DeepSpeed scales by 1/accumulation itself and reduces at the boundary."""
        self.engine.backward(loss)

    def step(self) -> None:
        """DeepSpeed's step: a no-op but counting between boundaries, else update and zero."""
        self._sync = self.engine.is_gradient_accumulation_boundary()
        self.engine.step()

    @property
    def sync_gradients(self) -> bool:
        """Whether the last ``step`` updated the weights (an accumulation boundary)."""
        return self._sync

    @property
    def global_step(self) -> int:
        """Optimizer steps taken (DeepSpeed's ``global_steps``, restored by ``load``)."""
        return int(self.engine.global_steps)

    def save(self, folder: Path, client_state: dict[str, Any]) -> None:
        """``save_checkpoint`` on every rank: each writes its partition of the optimizer."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        self.engine.save_checkpoint(str(folder), tag=DEEPSPEED_TAG, client_state=client_state)
        self.ctx.barrier()

    def load(self, folder: Path) -> dict[str, Any]:
        """``load_checkpoint`` on every rank (a fresh engine: ZeRO-3 cannot reload in place)."""
        path, client_state = self.engine.load_checkpoint(str(folder), tag=DEEPSPEED_TAG)
        if path is None:
            raise FileNotFoundError(f"no DeepSpeed checkpoint in {folder}")
        return client_state or {}

    def close(self) -> None:
        """Detach DeepSpeed from the model: its gradient hooks and ZeRO buffers are removed.

        ``wrap`` calls it when the same model is wrapped again (a new stage, a new optimizer):
        a live ZeRO optimizer's hooks would otherwise keep taking the gradients.
        """
        if self.engine is not None:
            self.engine.destroy()
            self.engine = None

    def consolidated_state_dict(self) -> dict[str, torch.Tensor]:
        """The full fp32 weights on rank 0 (an empty dict elsewhere); call it on every rank.

        Buffers and frozen parameters come from the module (gathered under ZeRO-3); trainable
        parameters from ZeRO's fp32 master copy (``safe_get_full_fp32_param``, a collective),
        which is the exact value even when the module itself holds bf16 weights.
        """
        import deepspeed
        from deepspeed.utils import safe_get_full_fp32_param

        module = self.engine.module
        params = list(module.parameters())
        gather = (
            deepspeed.zero.GatheredParameters(params, modifier_rank=None)
            if self.zero_stage == 3
            else contextlib.nullcontext()
        )
        with gather:
            state = _cpu_state(module.state_dict()) if self.ctx.is_main else {}
        for name, param in module.named_parameters():
            if not param.requires_grad:
                continue
            full = safe_get_full_fp32_param(param)
            if full is not None and self.ctx.is_main:
                state[name] = full.detach().float().cpu().contiguous().clone()
        return state
