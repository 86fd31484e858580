"""Fine-tune Kandinsky 3 on a culture's training set: one loop, its config in one file.

Usage (one process; under ``torchrun`` or the DeepSpeed launcher the same command runs on
every rank, ``distributed.backend`` in the config choosing DDP or DeepSpeed)::

    python -m craft_dag.training.train --config kandinsky3 \\
        --dataset STORAGE/training_dataset/part-00000.parquet --storage STORAGE \\
        --output runs/ru [--stage all|NAME] [--set key=value ...] [--resume auto|never] \\
        [--prompts prompts.json]

``--config`` is a YAML file or a shipped name (``kandinsky3``: the paper's two stages;
``tiny``: the same at toy size). Stages run in file order; ``--stage NAME`` runs one.

The loop, per optimizer step: ``grad_accum`` micro-batches of one shape each; latents from the
frozen MoVQ (or the latent cache), caption embeddings from the text-embedding cache (each
caption encoded once by the frozen T5), the caption replaced by the unconditional input at
``caption_dropout`` rate, noise and a timestep per sample, the MSE between the UNet's output and
the scheduler's ``prediction_type`` target (noise for Kandinsky 3), backward, gradient clipping,
optimizer and learning-rate step, EMA update. Seeds are fixed and every random draw of the loop
comes from one generator whose state is checkpointed, so a resumed run repeats the
uninterrupted one.

Outputs under ``--output``:

- ``checkpoints/step-<N>/``: atomic, the last ``keep_last`` kept (see ``checkpoints.py``).
- ``final/unet/`` (diffusers ``save_pretrained``, safetensors; the EMA weights when enabled) and,
  for LoRA, ``final/lora/`` (``adapter_model.safetensors`` + ``adapter_config.json``), the merged
  UNet in ``final/unet/`` when ``lora.export_merged``.
- ``metrics.jsonl``: one JSON object per ``log_every`` steps, keys (a stable schema, read by
  the Dagster Pipes wrapper)::

      step           int    global optimizer step (stages continue the count)
      stage          str    stage name
      stage_step     int    optimizer step within the stage
      epoch          int    epoch of the stage's data order
      loss           float  mean training loss over the window (all ranks)
      lr             float  learning rate after the step
      grad_norm      float|null  gradient norm before clipping (null when the engine clips)
      samples_per_s  float  training samples per second over the window (all ranks)
      flops_per_s    float  achieved FLOP/s: flops.py's forward+backward estimate per sample
                            at the batch's resolution, times samples, over the window's time
      time           float  Unix time of the line

- ``validation/step-<N>.png``: a grid of the validation prompts' images from the current (EMA)
  weights through ``Kandinsky3Pipeline``, every ``validation.every`` steps and at the end.
- ``report.json``: steps, per-stage figures, final loss, samples/s, FLOP/s, paths, config.
- ``cache/``: the text-embedding cache (and the latent cache), reused across stages and runs.

Progress also goes to stdout as plain ``step N stage S loss L ...`` lines.

Read top to bottom: ``train`` sets up (models, data, where to resume), runs ``train_stage`` per
stage (its optimizer and engine, then per optimizer step: ``micro_step`` per micro-batch, the EMA,
``metrics_record``, validation, ``save``) and ends with ``finish`` (export, report). The pieces
live beside it: ``objective.py`` (the loss and caption dropout), ``validation.py`` (the image
grids), ``export.py`` (``final/``), ``run_state.py`` (what a checkpoint holds beside the engine), ``run_setup.py`` (model, data, optimizer), ``reporting.py`` (metrics and report),
``arguments.py`` (the command line), ``distributed.py`` (the engines) and ``checkpoints.py``.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from craft_dag.training import checkpoints as ckpt
from craft_dag.training.arguments import parse_args, read_prompts
from craft_dag.training.config import StageSection, TrainConfig, load_config
from craft_dag.training.embeddings import encode_latents
from craft_dag.training.export import FINAL, export_final
from craft_dag.training.flops import training_flops_per_sample
from craft_dag.training.objective import diffusion_loss, text_batch
from craft_dag.training.reporting import (
    REPORT,
    Progress,
    Window,
    metrics_record,
    stage_report,
    write_metrics,
    write_report,
)
from craft_dag.training.run_setup import (
    METRICS,
    Data,
    EpochStream,
    Model,
    build_model,
    make_optimizer,
    plan_stage_batches,
    prepare_data,
    prepare_output,
    say,
    stage_offsets,
    stage_spec,
)
from craft_dag.training.run_state import ema_tensors, gather_rng, grad_norm, load_ema
from craft_dag.training.validation import VALIDATION, image_grid, validate, validation_path

# Names this module has always offered; they now live beside it.
__all__ = [
    "FINAL",
    "METRICS",
    "REPORT",
    "VALIDATION",
    "diffusion_loss",
    "export_final",
    "image_grid",
    "main",
    "parse_args",
    "stage_spec",
    "text_batch",
    "train",
    "validate",
]


@dataclass
class Run:
    """Everything one training run shares across its stages."""

    cfg: TrainConfig
    ctx: Any
    output: Path
    model: Model
    data: Data
    prompts: list[str]
    progress: Progress
    metrics_file: Any
    reporter: Any


def train(
    cfg: TrainConfig,
    *,
    dataset: str,
    storage: str,
    output: str | Path,
    stage: str = "all",
    resume: str = "auto",
    prompts: Sequence[str] | None = None,
    reporter: Any = None,
) -> dict[str, Any]:
    """Run the configured stages; returns the report (also written to ``report.json``).

    ``reporter`` (a ``craft_dag.training.pipes`` reporter) hears every metrics record, so a run
    Dagster launched through Pipes shows its progress in the run's logs as it goes.
    """
    from craft_dag.training import distributed as dist

    output = Path(output)
    if stage != "all" and stage not in cfg.stages:
        raise ValueError(f"no stage {stage!r}; the config has {list(cfg.stages)}")
    if resume not in ("auto", "never"):
        raise ValueError(f"--resume is auto or never, not {resume!r}")
    prompts = list(prompts if prompts is not None else cfg.validation.prompts)
    prompts = prompts[: cfg.validation.max_prompts]

    ctx = dist.setup_distributed(cfg.distributed)
    try:
        prepare_output(output, resume, ctx)
        model = build_model(cfg, ctx)
        data = prepare_data(cfg, dataset, storage, output, model.components, ctx)
        resume_dir = ckpt.latest_checkpoint(output) if resume == "auto" else None
        resume_info = (
            json.loads((resume_dir / ckpt.TRAINER_STATE).read_text()) if resume_dir else None
        )
        if resume_info is not None:
            say(f"resuming from {resume_dir} (step {resume_info['step']})")
        metrics_file = (output / METRICS).open("a") if ctx.is_main else None
        run = Run(cfg, ctx, output, model, data, prompts, Progress(), metrics_file, reporter)

        engine: Any = None
        offsets = stage_offsets(cfg)
        for stage_index, (name, section) in enumerate(cfg.stages.items()):
            if stage != "all" and name != stage:
                continue
            if resume_info is not None and resume_info["stage_index"] > stage_index:
                continue  # finished before the restart; its weights come with the checkpoint
            here = resume_info is not None and resume_info["stage_index"] == stage_index
            engine = train_stage(
                run, stage_index, name, section, offsets[name], resume_dir if here else None
            )

        # The final weights: the EMA's when enabled, gathered to rank 0 under ZeRO.
        if engine is None:
            raise ValueError(f"nothing to train: stage {stage!r} finished before the checkpoint")
        state = engine.consolidated_state_dict()
        report = finish(run, state, resume_dir) if ctx.is_main else {}
        if metrics_file is not None:
            metrics_file.close()
        ctx.barrier()
        return report
    finally:
        dist.teardown(ctx)


def train_stage(
    run: Run,
    stage_index: int,
    name: str,
    section: StageSection,
    offset: int,
    resume_dir: Path | None,
) -> Any:
    """One stage: its batches, a new optimizer and engine, then optimizer steps up to
    ``max_steps``, each logged, validated and checkpointed on its schedule. Returns the engine."""
    from craft_dag.training import distributed as dist

    cfg, ctx, model, progress = run.cfg, run.ctx, run.model, run.progress
    batches = plan_stage_batches(cfg, ctx, run.data, stage_index, name, section)
    optimizer, lr_scheduler = make_optimizer(cfg, section, model.params)
    engine = dist.wrap(
        model.unet,
        optimizer,
        lr_scheduler,
        cfg.distributed,
        ctx,
        micro_batch_size=section.batch_size,
        gradient_accumulation_steps=section.grad_accum,
        gradient_clipping=cfg.optim.max_grad_norm,
        mixed_precision=cfg.mixed_precision,
    )
    generator = torch.Generator().manual_seed(cfg.seed * 1_000_003 + 7919 * stage_index + ctx.rank)
    stage_step, epoch, position = 0, 0, 0
    if resume_dir is not None:
        stage_step, epoch, position = restore(run, engine, resume_dir, generator)
    progress.global_step = offset + stage_step
    stream = EpochStream(batches, run.data, cfg, ctx, epoch, position)
    window = Window()
    stage_samples, stage_time = 0, 0.0
    norm: float | None = None

    while stage_step < section.max_steps:
        for micro in range(section.grad_accum):
            batch = stream.next(name, section.batch_size)
            last = micro == section.grad_accum - 1
            measured = micro_step(run, engine, batch, generator, window, section.grad_accum, last)
            norm = measured if measured is not None else norm
        if not engine.sync_gradients:
            raise AssertionError("the engine did not step at the accumulation boundary")
        if model.ema is not None:
            model.ema.step(model.params)
        stage_step += 1
        progress.global_step += 1
        window.steps += 1

        if stage_step % cfg.log_every == 0 or stage_step == section.max_steps:
            record, elapsed = metrics_record(
                ctx, window, progress, lr_scheduler, name, stage_step, stream.epoch, norm
            )
            stage_samples += window.samples
            stage_time += elapsed
            progress.flops += window.flops
            if run.metrics_file is not None:
                write_metrics(run.metrics_file, run.reporter, record)
            window = Window()
        if cfg.validation.every and progress.global_step % cfg.validation.every == 0:
            render_validation(run, ema=model.ema)
        if progress.global_step % cfg.checkpoint_every == 0 or stage_step == section.max_steps:
            save(run, engine, generator, stage_index, name, stage_step, stream)
        if window.steps == 0:
            # Validation and checkpoints are not training time: the window starts now.
            window.start = time.perf_counter()

    progress.samples += stage_samples
    progress.time += stage_time
    progress.stages.append(
        stage_report(name, stage_step, batches, stage_samples, stage_time, progress.last_loss)
    )
    return engine


def restore(
    run: Run, engine: Any, folder: Path, generator: torch.Generator
) -> tuple[int, int, int]:
    """Load a checkpoint into the engine, the RNGs and the EMA: (stage step, epoch, position)."""
    client = engine.load(folder)
    generator.set_state(client["rng"]["generator"][run.ctx.rank])
    torch.set_rng_state(client["rng"]["torch"][run.ctx.rank])
    if run.model.ema is not None:
        load_ema(run.model.ema, folder / ckpt.EMA_WEIGHTS, run.model.named, client["ema_step"])
    return client["stage_step"], client["epoch"], client["position"]


def micro_step(
    run: Run,
    engine: Any,
    batch: dict[str, Any],
    generator: torch.Generator,
    window: Window,
    grad_accum: int,
    last: bool,
) -> float | None:
    """Forward and backward of one micro-batch, then the engine's step (which updates only on
    the ``last`` of the accumulation). Returns the raw gradient norm on the last one of a plain
    backend (DeepSpeed clips inside its step and does not expose it), else None."""
    ctx, model, data = run.ctx, run.model, run.data
    if "latents" in batch:
        latents = batch["latents"].to(ctx.device)
    else:
        latents = encode_latents(model.components.movq, batch["pixels"].to(ctx.device))
        if data.latent_cache is not None:
            data.latent_cache.store(batch["image_ids"], batch["size"], latents)
    width, height = batch["size"]
    if tuple(latents.shape[-2:]) != (height // 8, width // 8):
        raise AssertionError(f"latents {tuple(latents.shape)} for size {batch['size']}")
    hidden, mask = text_batch(
        data.text_cache, batch["captions"], run.cfg.caption_dropout, generator
    )
    loss = diffusion_loss(
        engine,
        model.components.scheduler,
        latents,
        hidden.to(ctx.device),
        mask.to(ctx.device),
        generator,
    )
    engine.backward(loss)  # the engine scales by 1/grad_accum
    norm = None
    if last and not engine.is_deepspeed:
        norm = grad_norm(model.params)  # before the engine clips: the metrics report the raw one
    engine.step()
    window.loss += loss.item() / grad_accum
    samples = latents.shape[0] * ctx.world_size
    window.samples += samples
    window.flops += samples * training_flops_per_sample(
        dict(model.unet.config), width, height, data.text_tokens
    )
    return norm


def render_validation(run: Run, ema: Any | None) -> None:
    """Rank 0 renders the validation prompts at the current step (``ema``: with its weights);
    every rank waits. Nothing without prompts."""
    if not run.prompts:
        return
    if run.ctx.is_main:
        path = validation_path(run.output, run.progress.global_step)
        model = run.model
        validate(model.components, model.unet, run.prompts, run.cfg, path, ema, model.params)
        run.progress.validation_paths.append(str(path))
    run.ctx.barrier()


def save(
    run: Run,
    engine: Any,
    generator: torch.Generator,
    stage_index: int,
    stage: str,
    stage_step: int,
    stream: EpochStream,
) -> None:
    """A checkpoint of the engine, with the loop's position, RNG states and EMA weights."""
    ema, named = run.model.ema, run.model.named
    client_state = {
        "step": run.progress.global_step,
        "stage": stage,
        "stage_index": stage_index,
        "stage_step": stage_step,
        "epoch": stream.epoch,
        "position": stream.position,
        "ema_step": ema.optimization_step if ema is not None else 0,
        "rng": gather_rng(run.ctx, generator),
    }
    ckpt.save_checkpoint(
        run.output,
        run.progress.global_step,
        engine=engine,
        ctx=run.ctx,
        client_state=client_state,
        keep_last=run.cfg.keep_last,
        ema_state=(lambda: ema_tensors(ema, named)) if ema is not None else None,
    )


def finish(run: Run, state: dict[str, torch.Tensor], resume_dir: Path | None) -> dict[str, Any]:
    """On rank 0: export the final (EMA) weights, render the last validation grid if the
    schedule did not, and write ``report.json``."""
    model, progress = run.model, run.progress
    if model.ema is not None:
        shadow = ema_tensors(model.ema, model.named)
        state = {k: shadow.get(k, v) for k, v in state.items()}
    final = export_final(
        run.output, model.components, model.unet, state, model.lora_config, run.cfg
    )
    paths, step = progress.validation_paths, progress.global_step
    if run.prompts and (not paths or not paths[-1].endswith(f"-{step}.png")):
        path = validation_path(run.output, step)
        validate(model.components, model.unet, run.prompts, run.cfg, path, None, model.params)
        paths.append(str(path))
    report = write_report(
        run.output,
        progress,
        world_size=run.ctx.world_size,
        resume_dir=resume_dir,
        text_embeddings_encoded=run.data.text_cache.encoded,
        final=final,
        config=run.cfg.as_dict(),
    )
    say(f"done: {step} steps, final loss {progress.last_loss:.4f}, weights in {final}")
    return report


# -- the command line ----------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m craft_dag.training.train``: parse, load the config, train, report."""
    args = parse_args(argv)
    cfg = load_config(args.config, args.overrides)
    prompts = read_prompts(args.prompts)
    from craft_dag.training.pipes import open_reporter

    # Rank 0 of a run Dagster launched reports through Pipes; everyone else only logs.
    with open_reporter() as reporter:
        train(
            cfg,
            dataset=args.dataset,
            storage=args.storage,
            output=args.output,
            stage=args.stage,
            resume=args.resume,
            prompts=prompts,
            reporter=reporter,
        )
        reporter.finish(args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
