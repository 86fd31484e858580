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

import copy
import shutil
import weakref
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file

from craft_dag.training.dist_context import BACKENDS as BACKENDS
from craft_dag.training.dist_context import DistContext as DistContext
from craft_dag.training.dist_context import DistributedSettings as DistributedSettings
from craft_dag.training.dist_context import resolve_dist_backend as resolve_dist_backend
from craft_dag.training.dist_context import setup_distributed as setup_distributed
from craft_dag.training.dist_context import skip_cpu_shm_op as skip_cpu_shm_op
from craft_dag.training.dist_context import teardown as teardown
from craft_dag.training.engines import DEEPSPEED_TAG as DEEPSPEED_TAG
from craft_dag.training.engines import WEIGHTS_FILE as WEIGHTS_FILE
from craft_dag.training.engines import DeepSpeedEngine as DeepSpeedEngine
from craft_dag.training.engines import Engine as Engine
from craft_dag.training.engines import PlainEngine as PlainEngine
from craft_dag.training.engines import _cpu_state
from craft_dag.training.zero_config import CONFIG_DIR as CONFIG_DIR
from craft_dag.training.zero_config import deepspeed_config as deepspeed_config

_LIVE_ENGINES: weakref.WeakKeyDictionary[torch.nn.Module, DeepSpeedEngine] = (
    weakref.WeakKeyDictionary()
)
"""The DeepSpeed engine over each model, so a second ``wrap`` of it detaches the first."""


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
