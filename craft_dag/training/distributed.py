"""One training loop, three ways to run it: one process, DDP, or DeepSpeed ZeRO-2/3.

The loop is written once against :class:`Engine` and launched unchanged as one plain process,
as N processes on a host (``torchrun --nproc-per-node N``), or across nodes (``torchrun
--nnodes M --rdzv-backend c10d`` or the DeepSpeed launcher with a hostfile; see
``deploy/training/README.md``)::

    ctx = setup_distributed(cfg.distributed)
    engine = wrap(unet, optimizer, scheduler, cfg.distributed, ctx,
                  micro_batch_size=4, gradient_accumulation_steps=2,
                  gradient_clipping=1.0, mixed_precision="bf16")
    for batch in loader:                      # this rank's micro-batches
        pred = engine(noisy, timesteps, encoder_hidden_states=emb).sample
        engine.backward(mse(pred.float(), noise))
        engine.step()                         # updates only at accumulation boundaries
        if engine.sync_gradients and engine.global_step % every == 0:
            engine.save(folder, {"step": engine.global_step})   # on EVERY rank
    weights = engine.consolidated_state_dict()                 # on every rank; rank 0 gets them
    teardown(ctx)

Contracts every backend keeps:

- **Gradient accumulation** is an argument of :func:`wrap` (``gradient_accumulation_steps``;
  absent, ``cfg.gradient_accumulation_steps`` if the config has one, else 1). The loop calls
  ``backward`` and ``step`` once per micro-batch and never divides the loss itself:
  ``backward`` scales by ``1 / gradient_accumulation_steps`` (DeepSpeed does so inside its
  engine), and ``step`` applies the optimizer, the scheduler and ``zero_grad`` only on every
  ``gradient_accumulation_steps``-th call (``sync_gradients`` says whether the last call did).
  DDP all-reduces gradients only on that boundary micro-batch. The DeepSpeed JSON's
  ``train_micro_batch_size_per_gpu``, ``gradient_accumulation_steps``, ``train_batch_size`` and
  ``gradient_clipping`` are filled from these arguments; a JSON that states a different number
  is an error, not a silent override.
- **Forward passes go through the engine** (``engine(...)``): DDP's gradient hooks, DeepSpeed's
  ZeRO-3 parameter gathering and the autocast of ``mixed_precision="bf16"`` live there.
  ``engine.module`` is the unwrapped model for evaluation and saving (under ZeRO-3 its
  parameters are partitioned placeholders outside a gather: use ``consolidated_state_dict``).
- **Mixed precision** ``bf16`` autocasts the forward with fp32 weights (the trainer's config):
  ``torch.autocast`` for the plain backends, DeepSpeed's ``torch_autocast`` section (gradients
  of Linear/Conv layers then travel in bf16) for DeepSpeed. Do not autocast again outside.
- **Checkpoints**: ``save`` and ``load`` are called on every rank with the same folder (for
  DeepSpeed, on a filesystem every node sees: each rank writes its own optimizer partition).
  The plain backends write on rank 0 and wait at a barrier.

On a CPU host DeepSpeed would JIT-compile its shared-memory all-reduce op (tens of seconds, up
to a minute, per fresh build cache) the first time it creates its communication backend, even
when the torch process group already exists. That op only serves DeepSpeed's *inference*
all-reduce (AutoTP), never training, so :func:`setup_distributed` marks it unavailable before
DeepSpeed's communication backend starts (``skip_cpu_shm_op``).
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import shutil
import weakref
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, Protocol

import torch
from safetensors.torch import load_file, save_file

CONFIG_DIR = Path(__file__).parent / "configs"
BACKENDS = ("none", "ddp", "deepspeed")
DEEPSPEED_TAG = "state"
"""The one tag of a DeepSpeed checkpoint folder: each ``save`` gets its own folder, so the
step number belongs in the folder's name (the caller's), not in a tag inside it."""
WEIGHTS_FILE = "model.safetensors"
_LIVE_ENGINES: weakref.WeakKeyDictionary[torch.nn.Module, DeepSpeedEngine] = (
    weakref.WeakKeyDictionary()
)
"""The DeepSpeed engine over each model, so a second ``wrap`` of it detaches the first."""
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


# ---------------------------------------------------------------------------------------------
# DeepSpeed configuration


def _shipped_config(zero_stage: int) -> Path:
    path = CONFIG_DIR / f"zero{zero_stage}.json"
    if not path.exists():
        raise ValueError(f"no shipped DeepSpeed config for ZeRO stage {zero_stage}: use 2 or 3")
    return path


def _fill(node: dict[str, Any], key: str, value: Any, where: str) -> None:
    """Set ``node[key]`` to ``value`` when it is ``auto`` or absent; refuse a different value."""
    current = node.get(key, "auto")
    if current == "auto":
        node[key] = value
    elif current != value:
        raise ValueError(
            f"the DeepSpeed config says {where}{key}={current!r} but the trainer runs with "
            f'{value!r}; remove it (or write "auto") so that it is filled from the trainer'
        )


def deepspeed_config(
    cfg: DistributedSettings,
    *,
    world_size: int,
    micro_batch_size: int,
    gradient_accumulation_steps: int,
    gradient_clipping: float,
    mixed_precision: str,
) -> dict[str, Any]:
    """The DeepSpeed config dict for this run: the JSON of ``cfg`` with its ``auto`` filled.

    ``cfg.deepspeed_config`` names a JSON file (empty: the shipped ``zero2.json`` or
    ``zero3.json`` by ``cfg.zero_stage``; a file's own ``zero_optimization.stage`` must agree
    with ``zero_stage``, which fills it where it is "auto" or absent). Batch sizes, accumulation, clipping and autocast come from
    the arguments; any ``auto`` left unfilled is an error.
    """
    path = Path(cfg.deepspeed_config) if cfg.deepspeed_config else _shipped_config(cfg.zero_stage)
    if not path.is_absolute() and not path.exists() and (CONFIG_DIR / path.name).exists():
        path = CONFIG_DIR / path.name
    config: dict[str, Any] = json.loads(path.read_text())
    _fill(config, "train_micro_batch_size_per_gpu", micro_batch_size, "")
    _fill(config, "gradient_accumulation_steps", gradient_accumulation_steps, "")
    _fill(
        config, "train_batch_size", micro_batch_size * gradient_accumulation_steps * world_size, ""
    )
    _fill(config, "gradient_clipping", float(gradient_clipping), "")
    zero = config.setdefault("zero_optimization", {})
    _fill(zero, "stage", cfg.zero_stage, "zero_optimization.")
    if mixed_precision not in ("fp32", "no", "bf16"):
        raise ValueError(f"mixed_precision is fp32 or bf16, not {mixed_precision!r}")
    autocast = config.setdefault("torch_autocast", {})
    bf16 = mixed_precision == "bf16"
    _fill(autocast, "enabled", bf16, "torch_autocast.")
    _fill(autocast, "dtype", "bfloat16", "torch_autocast.")
    for section in ("bf16", "fp16"):
        sub = config.get(section, {})
        if sub.get("enabled") == "auto":
            sub["enabled"] = False
    leftover = [k for k, v in _walk(config) if v == "auto"]
    if leftover:
        raise ValueError(f'{path}: no value for the "auto" settings {leftover}')
    return config


def _walk(node: dict[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    for key, value in node.items():
        if isinstance(value, dict):
            yield from _walk(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", value


# ---------------------------------------------------------------------------------------------
# Engines


class Engine(Protocol):
    """What the training loop sees of every backend (see the module docstring)."""

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


def wrap(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    lr_scheduler: Any,
    cfg: DistributedSettings,
    ctx: DistContext,
    *,
    micro_batch_size: int | None = None,
    gradient_accumulation_steps: int | None = None,
    gradient_clipping: float | None = None,
    mixed_precision: str | None = None,
) -> Engine:
    """The :class:`Engine` of ``cfg.backend`` over the caller's model, optimizer and scheduler.

    The keyword arguments describe the stage being trained; each absent one is read from
    ``cfg`` when it has an attribute of that name, else defaults to 1, 1, 0 (no clipping) and
    ``fp32``. ``micro_batch_size`` is per process and only matters to DeepSpeed's config.
    The model must be on ``ctx.device`` already.
    """

    def pick(value: Any, name: str, default: Any) -> Any:
        return value if value is not None else getattr(cfg, name, default)

    micro_batch_size = int(pick(micro_batch_size, "micro_batch_size", 1))
    accumulation = int(pick(gradient_accumulation_steps, "gradient_accumulation_steps", 1))
    clipping = float(pick(gradient_clipping, "gradient_clipping", 0.0))
    precision = str(pick(mixed_precision, "mixed_precision", "fp32"))
    if accumulation < 1 or micro_batch_size < 1:
        raise ValueError("micro_batch_size and gradient_accumulation_steps must be >= 1")
    if cfg.backend in ("none", "ddp"):
        return PlainEngine(
            model,
            optimizer,
            lr_scheduler,
            ctx,
            gradient_accumulation_steps=accumulation,
            gradient_clipping=clipping,
            mixed_precision=precision,
            ddp=cfg.backend == "ddp",
        )
    if cfg.backend != "deepspeed":
        raise ValueError(f"distributed.backend is one of {BACKENDS}, not {cfg.backend!r}")
    import deepspeed

    config = deepspeed_config(
        cfg,
        world_size=ctx.world_size,
        micro_batch_size=micro_batch_size,
        gradient_accumulation_steps=accumulation,
        gradient_clipping=clipping,
        mixed_precision=precision,
    )
    if int(config["zero_optimization"].get("stage", 0)) == 3 and ctx.world_size > 1:
        # ZeRO-3 keeps each rank's own slice of a model built outside zero.Init without first
        # broadcasting it (stages 0-2 do broadcast): make rank 0's weights everyone's.
        with torch.no_grad():
            for tensor in [*model.parameters(), *model.buffers()]:
                torch.distributed.broadcast(tensor.data, src=0)
    previous = _LIVE_ENGINES.pop(model, None)
    if previous is not None:
        previous.close()
    engine, _, _, _ = deepspeed.initialize(
        model=model,
        optimizer=optimizer,
        lr_scheduler=lr_scheduler,
        config=copy.deepcopy(config),
    )
    wrapped = DeepSpeedEngine(engine, ctx, config)
    _LIVE_ENGINES[model] = wrapped
    return wrapped


def convert_zero_checkpoint(folder: Path, out: Path) -> Path:
    """A checkpoint folder written by ``Engine.save`` as one plain safetensors state dict.

    A DeepSpeed folder is consolidated with ``zero_to_fp32`` (every rank's fp32 partitions
    merged, in this one process, no process group needed); a plain backend's folder already
    holds the file and is copied. ``out`` is the file (``*.safetensors``) or a folder to write
    ``model.safetensors`` into. Returns the file written.
    """
    folder, out = Path(folder), Path(out)
    target = out if out.suffix == ".safetensors" else out / WEIGHTS_FILE
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    if (folder / "latest").exists() or (folder / DEEPSPEED_TAG).is_dir():
        from deepspeed.utils.zero_to_fp32 import get_fp32_state_dict_from_zero_checkpoint

        tag = None if (folder / "latest").exists() else DEEPSPEED_TAG
        state = get_fp32_state_dict_from_zero_checkpoint(str(folder), tag=tag)
        save_file(_cpu_state(state), str(partial))
    elif (folder / WEIGHTS_FILE).exists():
        shutil.copyfile(folder / WEIGHTS_FILE, partial)
    else:
        raise FileNotFoundError(f"{folder} holds neither a DeepSpeed checkpoint nor {WEIGHTS_FILE}")
    partial.replace(target)  # whole or absent: a reader never sees half a file
    return target
