"""Generations for the pack's evaluation prompts: the base model against each checkpoint.

The CRAFT paper (section 5) compared models side by side on 120 culture prompts. Here every
evaluation prompt of the pack is generated in the source language and in English, K images
each, by the base model and by each fine-tuned checkpoint, under one ``GenerationSpec``: the
same sampler (the model's own scheduler), steps, guidance and size for every model, and image
``k`` of every prompt seeded ``seed + k`` through its own ``torch.Generator``, so the base and
the tuned model start from exactly the same noise and a pair differs only by the weights.

A checkpoint is what the ``checkpoint`` asset copies to storage: ``checkpoints/<run id>/`` with
``unet/`` (``Kandinsky3UNet`` in diffusers layout), ``base_model.json`` (``{"base_model": id,
"lora": bool}``) and, written last as the mark of a complete copy, ``model_card.md``.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Sequence
from typing import Any

import torch

from craft_dag.catalog.models import EvalPrompt
from craft_dag.evaluation.checkpoints import (
    BASE_MODEL_FILE,
    CHECKPOINTS,
    MODEL_CARD,
    Checkpoint,
    list_checkpoints,
    local_checkpoint,
    read_checkpoint,
)
from craft_dag.evaluation.generation_models import (
    base_pipeline,
    load_checkpoint_unet,
    sampler_name,
    with_unet,
)
from craft_dag.evaluation.generation_spec import (
    BASE,
    ENGLISH,
    LANGUAGES,
    SOURCE,
    TUNED,
    Generated,
    GenerationSpec,
    prompt_limit,
    prompt_text,
    select_prompts,
)
from craft_dag.evaluation.generations_table import (
    GENERATIONS,
    GENERATIONS_SCHEMA,
    generation_rows,
    missing_generations,
    sbs_pairs,
    write_generations,
)
from craft_dag.storage import Storage

__all__ = [
    "BASE",
    "BASE_MODEL_FILE",
    "CHECKPOINTS",
    "ENGLISH",
    "GENERATIONS",
    "GENERATIONS_SCHEMA",
    "LANGUAGES",
    "MODEL_CARD",
    "RUN_FILE",
    "SOURCE",
    "TUNED",
    "Checkpoint",
    "Generated",
    "GenerationSpec",
    "base_pipeline",
    "generate",
    "generate_models",
    "generation_rows",
    "list_checkpoints",
    "load_checkpoint_unet",
    "local_checkpoint",
    "missing_generations",
    "prompt_limit",
    "prompt_text",
    "read_checkpoint",
    "sampler_name",
    "sbs_pairs",
    "select_prompts",
    "with_unet",
    "write_generations",
]


def _png(image: Any) -> bytes:
    out = io.BytesIO()
    image.convert("RGB").save(out, format="PNG")
    return out.getvalue()


def _device(pipeline: Any) -> torch.device:
    device = getattr(pipeline, "device", None)
    return device if isinstance(device, torch.device) else torch.device("cpu")


def generate(
    pipeline: Any,
    prompts: Sequence[EvalPrompt],
    spec: GenerationSpec,
    *,
    model_name: str,
    progress: Callable[[int, int], None] | None = None,
) -> list[Generated]:
    """K images per prompt and language from ``pipeline`` (a ``Kandinsky3Pipeline``).

    One call per image, each with its own ``torch.Generator`` seeded ``spec.seed + k``: the
    noise of image ``k`` never depends on batching or on the other prompts, so two models (or
    two runs) given the same spec start from the same latents. ``progress(done, total)`` is
    called after each image.
    """
    total = len(prompts) * len(LANGUAGES) * spec.images_per_prompt
    out: list[Generated] = []
    device = _device(pipeline)
    for prompt in prompts:
        for language in LANGUAGES:
            text = prompt_text(prompt, language)
            for k, seed in enumerate(spec.seeds()):
                generator = torch.Generator(device=device).manual_seed(seed)
                image = pipeline(
                    prompt=text,
                    num_inference_steps=spec.steps,
                    guidance_scale=spec.guidance_scale,
                    width=spec.width,
                    height=spec.height,
                    generator=generator,
                    output_type="pil",
                ).images[0]
                out.append(
                    Generated(
                        prompt_id=prompt.id,
                        category=prompt.category,
                        entity=prompt.entity,
                        language=language,
                        text=text,
                        seed=seed,
                        image_index=k,
                        model=model_name,
                        image=_png(image),
                        params=spec.params(),
                    )
                )
                if progress is not None:
                    progress(len(out), total)
    return out


# -- one evaluation run --------------------------------------------------------------------------

RUN_FILE = ("evaluation", "run.json")
"""What the last run set out to make (prompts, models, K): the completeness check reads it."""


def generate_models(
    store: Storage,
    prompts: Sequence[EvalPrompt],
    spec: GenerationSpec,
    checkpoint: Checkpoint,
    *,
    base_model: str = "",
    tuned_name: str = TUNED,
    device: str = "cpu",
    log: Callable[[str], None] = lambda message: None,
) -> tuple[list[dict[str, Any]], float]:
    """Generate with the base model and ``checkpoint``, store every image and write the
    ``evaluation_generations`` table; its rows and the mean seconds per image.

    ``base_model`` (default: the checkpoint's ``base_model.json``) names the base; the tuned
    pipeline is the base pipeline with the checkpoint's UNet swapped in, so the text encoder,
    MoVQ, scheduler and every generation parameter are the same object for both.
    """
    import time

    base_id = base_model or checkpoint.base_model
    if not base_id:
        raise ValueError(f"checkpoint {checkpoint.run_id} names no base model")
    pipeline, components = base_pipeline(base_id, device=device)
    sampler = sampler_name(pipeline)
    start = time.perf_counter()
    log(f"generating {len(prompts)} prompts x {len(LANGUAGES)} languages with {base_id}")
    made = generate(pipeline, prompts, spec, model_name=BASE)
    with local_checkpoint(store, checkpoint.run_id) as folder:
        unet = load_checkpoint_unet(folder, device=device)
    log(f"generating with checkpoint {checkpoint.run_id}")
    made += generate(with_unet(components, unet), prompts, spec, model_name=tuned_name)
    per_image = (time.perf_counter() - start) / max(len(made), 1)
    refs = {BASE: base_id, tuned_name: checkpoint.uri}
    rows = generation_rows(store, made, model_refs=refs, sampler=sampler)
    write_generations(store, rows)
    run = {
        "prompt_ids": [p.id for p in prompts],
        "models": [BASE, tuned_name],
        "images_per_prompt": spec.images_per_prompt,
        "checkpoint": checkpoint.run_id,
        "spec": spec.params(),
    }
    store.write_file(RUN_FILE, json.dumps(run, indent=2).encode())
    return rows, per_image
