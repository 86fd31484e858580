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
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from craft_dag.training import checkpoints as ckpt
from craft_dag.training.buckets import BucketSpec
from craft_dag.training.config import StageSection, TrainConfig, load_config
from craft_dag.training.data import iterate, plan_batches, read_table
from craft_dag.training.embeddings import (
    LatentCache,
    TextEmbeddingCache,
    collate_text,
    encode_latents,
)
from craft_dag.training.flops import training_flops_per_sample
from craft_dag.training.lora import add_lora, lora_state_dict, merged_unet, save_adapter
from craft_dag.training.models import Components, load_components, make_pipeline

METRICS = "metrics.jsonl"
REPORT = "report.json"
FINAL = "final"
VALIDATION = "validation"


# -- the pieces the loop calls -------------------------------------------------------------------


def diffusion_loss(
    forward: Any,
    scheduler: Any,
    latents: torch.Tensor,
    hidden: torch.Tensor,
    mask: torch.Tensor,
    generator: torch.Generator,
) -> torch.Tensor:
    """The denoising loss of one batch: noise it at random timesteps, predict, MSE.

    ``forward`` is the engine (DDP hooks, ZeRO-3 gathering and bf16 autocast live there). The
    target follows the scheduler's ``prediction_type``: the noise (``epsilon``, Kandinsky 3's),
    the velocity (``v_prediction``, from the clean latents) or the latents (``sample``).
    """
    device = latents.device
    noise = torch.randn(latents.shape, generator=generator).to(device)
    steps = scheduler.config.num_train_timesteps
    timesteps = torch.randint(0, steps, (latents.shape[0],), generator=generator).to(device)
    noisy = scheduler.add_noise(latents, noise, timesteps)
    kind = scheduler.config.prediction_type
    if kind == "epsilon":
        target = noise
    elif kind == "v_prediction":
        target = scheduler.get_velocity(latents, noise, timesteps)
    elif kind == "sample":
        target = latents
    else:
        raise ValueError(f"unknown prediction_type {kind!r}")
    prediction = forward(
        noisy, timesteps, encoder_hidden_states=hidden, encoder_attention_mask=mask
    ).sample
    if prediction.shape != target.shape:
        raise AssertionError(f"UNet output {tuple(prediction.shape)} != {tuple(target.shape)}")
    return F.mse_loss(prediction.float(), target.float())


def text_batch(
    cache: TextEmbeddingCache, captions: Sequence[str], dropout: float, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Hidden states and mask of a batch's captions, each dropped with probability ``dropout``."""
    dropped = (torch.rand(len(captions), generator=generator) < dropout).tolist()
    embeds = [None if drop else cache.get(c) for c, drop in zip(captions, dropped, strict=True)]
    if all(e is None for e in embeds):
        # collate_text takes the width from a kept caption; any cached one gives it.
        width = cache.get(captions[0]).shape[-1]
        return torch.zeros(len(captions), 1, width), torch.zeros(len(captions), 1, dtype=torch.long)
    return collate_text(embeds)


def image_grid(images: Sequence[Any], columns: int | None = None) -> Any:
    """PIL images (all one size) side by side, ``columns`` per row."""
    from PIL import Image

    columns = columns or len(images)
    rows = math.ceil(len(images) / columns)
    width, height = images[0].size
    grid = Image.new("RGB", (columns * width, rows * height), "white")
    for index, image in enumerate(images):
        grid.paste(image, ((index % columns) * width, (index // columns) * height))
    return grid


def validate(
    components: Components,
    unet: torch.nn.Module,
    prompts: Sequence[str],
    cfg: TrainConfig,
    path: Path,
    ema: Any | None,
    params: list[torch.nn.Parameter],
) -> Path:
    """Generate the prompts' images with the current (EMA) weights; save them as a grid."""
    if ema is not None:
        ema.store(params)
        ema.copy_to(params)
    was_training = unet.training
    unet.eval()
    try:
        pipeline = make_pipeline(components, unet)
        device = next(unet.parameters()).device
        generator = torch.Generator(device).manual_seed(cfg.validation.seed)
        with torch.autocast(device.type, torch.bfloat16, enabled=cfg.mixed_precision == "bf16"):
            images = pipeline(
                list(prompts),
                num_inference_steps=cfg.validation.steps,
                guidance_scale=cfg.validation.guidance_scale,
                height=cfg.validation.height,
                width=cfg.validation.width,
                generator=generator,
            ).images
    finally:
        unet.train(was_training)
        if ema is not None:
            ema.restore(params)
    path.parent.mkdir(parents=True, exist_ok=True)
    image_grid(images).save(path)
    path.with_suffix(".json").write_text(json.dumps(list(prompts), ensure_ascii=False, indent=2))
    return path


def stage_spec(stage: StageSection) -> tuple[int, BucketSpec | None]:
    """(resolution, None) for a fixed-size stage, (0, spec) for a bucketed one."""
    if stage.bucket is None:
        return stage.resolution, None
    b = stage.bucket
    return 0, BucketSpec(b.min_area, b.max_area, b.multiple, b.max_aspect)


def export_final(
    output: Path,
    components: Components,
    unet: torch.nn.Module,
    state: dict[str, torch.Tensor],
    lora_config: Any | None,
    cfg: TrainConfig,
) -> Path:
    """Write ``final/`` atomically: the UNet in diffusers layout, or the adapter and merged UNet."""
    from diffusers import Kandinsky3UNet

    tmp = output / f".{FINAL}-tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    unet.load_state_dict(state, strict=True)
    if lora_config is not None:
        save_adapter(tmp / "lora", lora_config, lora_state_dict(unet), cfg.model.model_id)
        if cfg.lora.export_merged:
            merged_unet(unet).save_pretrained(tmp / "unet", safe_serialization=True)
    else:
        plain = Kandinsky3UNet.from_config(unet.config)
        plain.load_state_dict(state, strict=True)
        plain.save_pretrained(tmp / "unet", safe_serialization=True)
    (tmp / "base_model.json").write_text(
        json.dumps({"base_model": cfg.model.model_id, "lora": lora_config is not None}, indent=2)
    )
    final = output / FINAL
    shutil.rmtree(final, ignore_errors=True)
    tmp.rename(final)
    return final


def _print(*parts: object) -> None:
    print(*parts, flush=True)


# -- the loop ------------------------------------------------------------------------------------


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
    from diffusers.optimization import get_scheduler
    from diffusers.training_utils import EMAModel

    from craft_dag.training import distributed as dist

    output = Path(output)
    stages = list(cfg.stages.items())
    if stage != "all" and stage not in cfg.stages:
        raise ValueError(f"no stage {stage!r}; the config has {list(cfg.stages)}")
    if resume not in ("auto", "never"):
        raise ValueError(f"--resume is auto or never, not {resume!r}")
    prompts = list(prompts if prompts is not None else cfg.validation.prompts)
    prompts = prompts[: cfg.validation.max_prompts]

    ctx = dist.setup_distributed(cfg.distributed)
    try:
        if ctx.is_main:
            output.mkdir(parents=True, exist_ok=True)
            ckpt.remove_partial(output)
            if resume == "never":
                shutil.rmtree(ckpt.checkpoint_dir(output), ignore_errors=True)
                (output / METRICS).unlink(missing_ok=True)
        ctx.barrier()

        # ---- models: the UNet trains; T5 and MoVQ are frozen (eval, no grad, no optimizer)
        torch.manual_seed(cfg.seed)  # LoRA's initial weights: the same on every rank and run
        components = load_components(
            cfg.model.model_id,
            variant=cfg.model.variant,
            frozen_dtype=cfg.model.frozen_dtype,
            device=ctx.device,
        )
        unet = components.unet
        lora_config = None
        if cfg.lora.enabled:
            lora_config = add_lora(
                unet,
                rank=cfg.lora.rank,
                alpha=cfg.lora.alpha,
                dropout=cfg.lora.dropout,
                target_modules=cfg.lora.target_modules,
            )
        else:
            unet.requires_grad_(True)
        unet.train()
        named = [(n, p) for n, p in unet.named_parameters() if p.requires_grad]
        params = [p for _, p in named]
        ema = (
            EMAModel(params, decay=cfg.ema.decay, update_after_step=cfg.ema.update_after_step)
            if cfg.ema.enabled
            else None
        )

        # ---- data and the frozen encoders' caches
        table = read_table(dataset)
        text_cache = TextEmbeddingCache(
            output / "cache" / "text",
            components.model_id,
            components.tokenizer,
            components.text_encoder,
            cfg.model.text_max_length,
        )
        captions = table.column("caption_en").to_pylist()
        if ctx.is_main:  # rank 0 encodes; the others then read its files
            text_cache.warm(captions)
        ctx.barrier()
        text_cache.warm(captions)
        latent_cache = (
            LatentCache(output / "cache" / "latents", components.model_id)
            if cfg.cache_latents
            else None
        )
        text_tokens = (
            max(1, round(sum(text_cache.get(c).shape[0] for c in captions) / len(captions))) + 1
        )

        # ---- where to resume from
        resume_dir = ckpt.latest_checkpoint(output) if resume == "auto" else None
        resume_info = (
            json.loads((resume_dir / ckpt.TRAINER_STATE).read_text()) if resume_dir else None
        )
        if resume_info is not None:
            _print(f"resuming from {resume_dir} (step {resume_info['step']})")

        metrics_file = (output / METRICS).open("a") if ctx.is_main else None
        offsets = {}
        total = 0
        for name, section in stages:
            offsets[name] = total
            total += section.max_steps
        stage_reports: list[dict[str, Any]] = []
        global_step = 0
        last_loss = float("nan")
        run_samples, run_time, run_flops = 0, 0.0, 0.0
        validation_paths: list[str] = []
        engine: Any = None

        for stage_index, (name, section) in enumerate(stages):
            if stage != "all" and name != stage:
                continue
            if resume_info is not None and resume_info["stage_index"] > stage_index:
                continue  # finished before the restart; its weights come with the checkpoint
            resolution, spec = stage_spec(section)
            batches = plan_batches(
                table,
                batch_size=section.batch_size,
                seed=cfg.seed + 1000 * stage_index,
                resolution=resolution,
                spec=spec,
            )
            _print(
                f"stage {name}: {len(batches.samples) - batches.skipped} samples in "
                f"{len(batches.sizes)} shapes, {batches.skipped} too small, "
                f"batch {section.batch_size} x {section.grad_accum} x {ctx.world_size} ranks"
            )
            optimizer = torch.optim.AdamW(
                params,
                lr=section.lr or cfg.optim.lr,
                betas=tuple(cfg.optim.betas),
                eps=cfg.optim.eps,
                weight_decay=cfg.optim.weight_decay,
            )
            lr_scheduler = get_scheduler(
                cfg.optim.lr_scheduler,
                optimizer,
                num_warmup_steps=min(cfg.optim.warmup_steps, section.max_steps),
                num_training_steps=max(1, section.max_steps),
            )
            engine = dist.wrap(
                unet,
                optimizer,
                lr_scheduler,
                cfg.distributed,
                ctx,
                micro_batch_size=section.batch_size,
                gradient_accumulation_steps=section.grad_accum,
                gradient_clipping=cfg.optim.max_grad_norm,
                mixed_precision=cfg.mixed_precision,
            )
            generator = torch.Generator().manual_seed(
                cfg.seed * 1_000_003 + 7919 * stage_index + ctx.rank
            )
            stage_step, epoch, position = 0, 0, 0
            if resume_info is not None and resume_info["stage_index"] == stage_index:
                client = engine.load(resume_dir)
                stage_step, epoch, position = (
                    client["stage_step"],
                    client["epoch"],
                    client["position"],
                )
                generator.set_state(client["rng"]["generator"][ctx.rank])
                torch.set_rng_state(client["rng"]["torch"][ctx.rank])
                if ema is not None:
                    _load_ema(ema, resume_dir / ckpt.EMA_WEIGHTS, named, client["ema_step"])
            global_step = offsets[name] + stage_step

            stream = iterate(
                batches,
                storage,
                epoch=epoch,
                start=position,
                rank=ctx.rank,
                world_size=ctx.world_size,
                num_workers=cfg.num_workers,
                latent_cache=latent_cache,
            )
            window_loss, window_steps, window_samples, window_flops = 0.0, 0, 0, 0.0
            window_start = time.perf_counter()
            stage_samples, stage_time = 0, 0.0
            grad_norm: float | None = None

            while stage_step < section.max_steps:
                for micro in range(section.grad_accum):
                    item = next(stream, None)
                    if item is None:  # the epoch is used up: the next one, a new order
                        epoch, position = epoch + 1, 0
                        stream = iterate(
                            batches,
                            storage,
                            epoch=epoch,
                            rank=ctx.rank,
                            world_size=ctx.world_size,
                            num_workers=cfg.num_workers,
                            latent_cache=latent_cache,
                        )
                        item = next(stream, None)
                        if item is None:
                            raise ValueError(
                                f"stage {name}: an epoch has no full batch of {section.batch_size} "
                                f"per rank x {ctx.world_size} ranks"
                            )
                    position, batch = item
                    if "latents" in batch:
                        latents = batch["latents"].to(ctx.device)
                    else:
                        latents = encode_latents(components.movq, batch["pixels"].to(ctx.device))
                        if latent_cache is not None:
                            latent_cache.store(batch["image_ids"], batch["size"], latents)
                    width, height = batch["size"]
                    if tuple(latents.shape[-2:]) != (height // 8, width // 8):
                        raise AssertionError(
                            f"latents {tuple(latents.shape)} for size {batch['size']}"
                        )
                    hidden, mask = text_batch(
                        text_cache, batch["captions"], cfg.caption_dropout, generator
                    )
                    loss = diffusion_loss(
                        engine,
                        components.scheduler,
                        latents,
                        hidden.to(ctx.device),
                        mask.to(ctx.device),
                        generator,
                    )
                    # The engine scales by 1/grad_accum and steps only on the last micro-batch.
                    engine.backward(loss)
                    if micro == section.grad_accum - 1 and not engine.is_deepspeed:
                        # Before the engine clips: the norm the metrics report is the raw one.
                        # (DeepSpeed clips inside its own step; its norm is not exposed here.)
                        grad_norm = _grad_norm(params)
                    engine.step()
                    window_loss += loss.item() / section.grad_accum
                    samples = latents.shape[0] * ctx.world_size
                    window_samples += samples
                    window_flops += samples * training_flops_per_sample(
                        dict(unet.config), width, height, text_tokens
                    )
                if not engine.sync_gradients:
                    raise AssertionError("the engine did not step at the accumulation boundary")
                if ema is not None:
                    ema.step(params)
                stage_step += 1
                global_step += 1
                window_steps += 1

                if stage_step % cfg.log_every == 0 or stage_step == section.max_steps:
                    elapsed = time.perf_counter() - window_start
                    mean = torch.tensor(window_loss / window_steps, device=ctx.device)
                    last_loss = float(ctx.all_reduce_mean(mean))
                    record = {
                        "step": global_step,
                        "stage": name,
                        "stage_step": stage_step,
                        "epoch": epoch,
                        "loss": last_loss,
                        "lr": float(lr_scheduler.get_last_lr()[0]),
                        "grad_norm": grad_norm,
                        "samples_per_s": window_samples / elapsed,
                        "flops_per_s": window_flops / elapsed,
                        "time": time.time(),
                    }
                    stage_samples += window_samples
                    stage_time += elapsed
                    run_flops += window_flops
                    if metrics_file is not None:
                        metrics_file.write(json.dumps(record) + "\n")
                        metrics_file.flush()
                        if reporter is not None:
                            reporter.step(record)
                        _print(
                            f"step {global_step} stage {name} loss {last_loss:.4f} "
                            f"lr {record['lr']:.2e} samples/s {record['samples_per_s']:.2f} "
                            f"flops/s {record['flops_per_s']:.3g}"
                        )
                    window_loss, window_steps, window_samples, window_flops = 0.0, 0, 0, 0.0
                if cfg.validation.every and global_step % cfg.validation.every == 0 and prompts:
                    if ctx.is_main:
                        path = output / VALIDATION / f"step-{global_step}.png"
                        validate(components, unet, prompts, cfg, path, ema, params)
                        validation_paths.append(str(path))
                    ctx.barrier()
                if global_step % cfg.checkpoint_every == 0 or stage_step == section.max_steps:
                    client_state = {
                        "step": global_step,
                        "stage": name,
                        "stage_index": stage_index,
                        "stage_step": stage_step,
                        "epoch": epoch,
                        "position": position,
                        "ema_step": ema.optimization_step if ema is not None else 0,
                        "rng": _gather_rng(ctx, generator),
                    }
                    ckpt.save_checkpoint(
                        output,
                        global_step,
                        engine=engine,
                        ctx=ctx,
                        client_state=client_state,
                        keep_last=cfg.keep_last,
                        ema_state=(lambda: _ema_tensors(ema, named)) if ema is not None else None,
                    )
                if window_steps == 0:
                    # Validation and checkpoints are not training time: the window starts now.
                    window_start = time.perf_counter()

            run_samples += stage_samples
            run_time += stage_time
            stage_reports.append(
                {
                    "name": name,
                    "steps": stage_step,
                    "samples": len(batches.samples) - batches.skipped,
                    "skipped_too_small": batches.skipped,
                    "sizes": {f"{w}x{h}": n for (w, h), n in sorted(batches.sizes.items())},
                    "samples_per_s": stage_samples / stage_time if stage_time else None,
                    "final_loss": last_loss,
                }
            )

        # ---- the final weights: the EMA's when enabled, gathered to rank 0 under ZeRO
        if engine is None:
            raise ValueError(f"nothing to train: stage {stage!r} finished before the checkpoint")
        state = engine.consolidated_state_dict()
        report: dict[str, Any] = {}
        if ctx.is_main:
            if ema is not None:
                shadow = _ema_tensors(ema, named)
                state = {k: shadow.get(k, v) for k, v in state.items()}
            final = export_final(output, components, unet, state, lora_config, cfg)
            if prompts and (
                not validation_paths or not validation_paths[-1].endswith(f"-{global_step}.png")
            ):
                path = output / VALIDATION / f"step-{global_step}.png"
                validate(components, unet, prompts, cfg, path, None, params)
                validation_paths.append(str(path))
            report = {
                "steps": global_step,
                "stages": stage_reports,
                "final_loss": last_loss,
                "samples_per_s": run_samples / run_time if run_time else None,
                "flops_per_s": run_flops / run_time if run_time else None,
                "world_size": ctx.world_size,
                "resumed_from": str(resume_dir) if resume_dir else None,
                "text_embeddings_encoded": text_cache.encoded,
                "paths": {
                    "final": str(final),
                    "checkpoints": str(ckpt.checkpoint_dir(output)),
                    "metrics": str(output / METRICS),
                    "validation": validation_paths,
                },
                "config": cfg.as_dict(),
            }
            (output / REPORT).write_text(json.dumps(report, indent=2, default=str))
            _print(f"done: {global_step} steps, final loss {last_loss:.4f}, weights in {final}")
        if metrics_file is not None:
            metrics_file.close()
        ctx.barrier()
        return report
    finally:
        dist.teardown(ctx)


def _grad_norm(params: list[torch.nn.Parameter]) -> float:
    grads = [p.grad.detach().float().norm() for p in params if p.grad is not None]
    return float(torch.stack(grads).norm()) if grads else 0.0


def _ema_tensors(ema: Any, named: list[tuple[str, torch.nn.Parameter]]) -> dict[str, torch.Tensor]:
    """The EMA's shadow weights by parameter name (fp32, CPU)."""
    return {
        n: s.detach().float().cpu().clone()
        for (n, _), s in zip(named, ema.shadow_params, strict=True)
    }


def _load_ema(ema: Any, path: Path, named: list[tuple[str, torch.nn.Parameter]], step: int) -> None:
    from safetensors.torch import load_file

    saved = load_file(path)
    state = ema.state_dict()
    state["shadow_params"] = [saved[n].to(p.device, p.dtype) for n, p in named]
    state["optimization_step"] = step
    ema.load_state_dict(state)


def _gather_rng(ctx: Any, generator: torch.Generator) -> dict[str, list[torch.Tensor]]:
    """Every rank's RNG states, for the client state (one process: lists of one)."""
    states = {"generator": generator.get_state(), "torch": torch.get_rng_state()}
    if ctx.world_size == 1:
        return {k: [v] for k, v in states.items()}
    import torch.distributed as tdist

    gathered: list[dict[str, torch.Tensor] | None] = [None] * ctx.world_size
    tdist.all_gather_object(gathered, states)
    return {k: [g[k] for g in gathered] for k in states}  # type: ignore[index]


# -- the command line ----------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m craft_dag.training.train", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--config", required=True, help="YAML file, or a shipped name: kandinsky3, tiny"
    )
    parser.add_argument("--dataset", required=True, help="the training table (Parquet path or URI)")
    parser.add_argument("--storage", required=True, help="storage base URI the images live under")
    parser.add_argument("--output", required=True, help="run folder: checkpoints, final, metrics")
    parser.add_argument("--stage", default="all", help="a stage name, or all (default)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--resume", default="auto", choices=("auto", "never"))
    parser.add_argument("--prompts", help="JSON list of English validation prompts")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    cfg = load_config(args.config, args.overrides)
    prompts = json.loads(Path(args.prompts).read_text()) if args.prompts else None
    if prompts is not None and not (
        isinstance(prompts, list) and all(isinstance(p, str) for p in prompts)
    ):
        raise SystemExit(f"{args.prompts}: expected a JSON list of strings")
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
