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
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import torch
from fsspec.implementations.local import LocalFileSystem

from craft_dag.catalog.models import EvalPrompt
from craft_dag.storage import Storage

SOURCE = "source"
ENGLISH = "english"
LANGUAGES = (SOURCE, ENGLISH)
BASE = "base"
"""The model name of the base model's generations; a checkpoint's is ``TUNED`` by default."""
TUNED = "tuned"
GENERATIONS = "evaluation_generations"
CHECKPOINTS = "checkpoints"  # as craft_dag.training.pipes.CHECKPOINTS
MODEL_CARD = "model_card.md"  # as craft_dag.training.pipes.MODEL_CARD
BASE_MODEL_FILE = "base_model.json"

GENERATIONS_SCHEMA = pa.schema(
    [
        ("prompt_id", pa.string()),
        ("category", pa.string()),
        ("entity", pa.string()),
        ("language", pa.string()),
        ("text", pa.string()),
        ("model", pa.string()),
        ("model_ref", pa.string()),
        ("seed", pa.int64()),
        ("image_index", pa.int64()),
        ("sha256", pa.string()),
        ("blob_key", pa.string()),
        ("steps", pa.int64()),
        ("guidance_scale", pa.float64()),
        ("width", pa.int64()),
        ("height", pa.int64()),
        ("sampler", pa.string()),
    ]
)


@dataclass(frozen=True)
class GenerationSpec:
    """What every model is asked to do: the same for base and tuned, so pairs compare."""

    images_per_prompt: int = 2
    steps: int = 25
    guidance_scale: float = 3.0
    width: int = 1024
    height: int = 1024
    seed: int = 0

    def __post_init__(self) -> None:
        if self.images_per_prompt < 1 or self.steps < 1:
            raise ValueError("images_per_prompt and steps must be at least 1")
        if self.width % 8 or self.height % 8:
            raise ValueError(f"width and height must divide by 8, not {self.width}x{self.height}")

    @classmethod
    def for_profile(cls, profile: str, **overrides: Any) -> GenerationSpec:
        """``tiny``: 4 steps at 64x64 (the tiny model's MoVQ gives 8x8 latents); ``full``: 25
        steps at 1024x1024, Kandinsky 3's native size. ``overrides`` that are falsy are ignored."""
        base = {"steps": 4, "width": 64, "height": 64} if profile == "tiny" else {}
        base.update({k: v for k, v in overrides.items() if v})
        return cls(**base)

    def seeds(self) -> list[int]:
        return [self.seed + k for k in range(self.images_per_prompt)]

    def params(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Generated:
    """One generated image and how it was made."""

    prompt_id: str
    category: str
    entity: str | None
    language: str
    text: str
    seed: int
    image_index: int
    model: str
    image: bytes  # PNG
    params: dict[str, Any] = field(default_factory=dict)


def prompt_text(prompt: EvalPrompt, language: str) -> str:
    """The prompt's text in ``language`` (``source`` or ``english``)."""
    if language not in LANGUAGES:
        raise ValueError(f"language must be one of {LANGUAGES}, not {language!r}")
    return prompt.source if language == SOURCE else prompt.english


def select_prompts(prompts: Sequence[EvalPrompt], limit: int) -> list[EvalPrompt]:
    """At most ``limit`` prompts (0: all), taken one category at a time in turn, so a few
    prompts still cover several categories; pack order within a category."""
    if limit <= 0 or limit >= len(prompts):
        return list(prompts)
    queues: dict[str, list[EvalPrompt]] = {}
    for p in prompts:
        queues.setdefault(p.category, []).append(p)
    chosen: list[EvalPrompt] = []
    while len(chosen) < limit:
        for queue in queues.values():
            if queue and len(chosen) < limit:
                chosen.append(queue.pop(0))
    return chosen


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


# -- models --------------------------------------------------------------------------------------


def sampler_name(pipeline: Any) -> str:
    """The scheduler class and its config hash-free summary, recorded with each generation."""
    scheduler = pipeline.scheduler
    prediction = scheduler.config.get("prediction_type", "")
    return f"{type(scheduler).__name__}({prediction})" if prediction else type(scheduler).__name__


def base_pipeline(model_id: str, *, device: str = "cpu", dtype: str = "fp32") -> tuple[Any, Any]:
    """The base model's ``Kandinsky3Pipeline`` and its ``Components`` (``tiny``: the tiny one)."""
    from craft_dag.training.models import load_components, make_pipeline

    components = load_components(model_id, frozen_dtype=dtype, device=device)
    components.unet.requires_grad_(False)
    components.unet.eval()
    if dtype != "fp32":
        from craft_dag.training.models import DTYPES

        components.unet.to(DTYPES[dtype])
    return make_pipeline(components, components.unet), components


def load_checkpoint_unet(folder: str | Path, *, device: str = "cpu", dtype: str = "fp32") -> Any:
    """The fine-tuned ``Kandinsky3UNet`` of a local checkpoint folder (its ``unet/``)."""
    from diffusers import Kandinsky3UNet

    from craft_dag.training.models import DTYPES

    unet_dir = Path(folder) / "unet"
    if not (unet_dir / "config.json").is_file():
        raise FileNotFoundError(
            f"{folder} has no unet/ (a LoRA-only checkpoint needs export_merged to be evaluated)"
        )
    unet = Kandinsky3UNet.from_pretrained(unet_dir, torch_dtype=DTYPES[dtype])
    unet.requires_grad_(False)
    return unet.eval().to(device)


def with_unet(components: Any, unet: Any) -> Any:
    """A pipeline of the base model's frozen parts and ``unet``: same sampler, new weights."""
    from craft_dag.training.models import make_pipeline

    return make_pipeline(components, unet)


# -- checkpoints in storage ----------------------------------------------------------------------


@dataclass(frozen=True)
class Checkpoint:
    """A complete checkpoint in storage (its model card is there)."""

    run_id: str
    uri: str
    base_model: str
    lora: bool
    modified: float = 0.0


def read_checkpoint(store: Storage, run_id: str) -> Checkpoint:
    """The checkpoint ``checkpoints/<run_id>/``; FileNotFoundError when absent or incomplete."""
    if not store.fs.exists(store.file_path(CHECKPOINTS, run_id, MODEL_CARD)):
        raise FileNotFoundError(
            f"no complete checkpoint at {store.file_uri(CHECKPOINTS, run_id)} "
            f"(no {MODEL_CARD}: missing, or its copy did not finish)"
        )
    info = json.loads(store.read_file((CHECKPOINTS, run_id, BASE_MODEL_FILE)))
    return Checkpoint(
        run_id=run_id,
        uri=store.file_uri(CHECKPOINTS, run_id),
        base_model=str(info.get("base_model") or ""),
        lora=bool(info.get("lora")),
        modified=_mtime(store, store.file_path(CHECKPOINTS, run_id, MODEL_CARD)),
    )


def _mtime(store: Storage, path: str) -> float:
    info = store.fs.info(path)
    value = info.get("mtime") or info.get("LastModified") or info.get("created") or 0.0
    return value.timestamp() if hasattr(value, "timestamp") else float(value)


def list_checkpoints(store: Storage) -> list[Checkpoint]:
    """The complete checkpoints in storage, newest (by model card time) first."""
    folder = store.file_path(CHECKPOINTS)
    if not store.fs.isdir(folder):
        return []
    found = []
    for path in store.fs.ls(folder, detail=False):
        run_id = path.rstrip("/").rsplit("/", 1)[-1]
        if run_id.startswith("."):
            continue
        try:
            found.append(read_checkpoint(store, run_id))
        except (FileNotFoundError, OSError, ValueError):
            continue
    return sorted(found, key=lambda c: (c.modified, c.run_id), reverse=True)


@contextmanager
def local_checkpoint(store: Storage, run_id: str) -> Iterator[Path]:
    """A local folder holding checkpoint ``run_id``: the folder itself on local storage, else a
    temporary download of its ``unet/`` and ``base_model.json`` (removed on exit)."""
    root = store.file_path(CHECKPOINTS, run_id)
    if isinstance(store.fs, LocalFileSystem):
        yield Path(root)
        return
    tmp = Path(tempfile.mkdtemp(prefix="craft-checkpoint-"))
    try:
        store.fs.get(f"{root}/unet", str(tmp / "unet"), recursive=True)
        store.fs.get(f"{root}/{BASE_MODEL_FILE}", str(tmp / BASE_MODEL_FILE))
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# -- storage -------------------------------------------------------------------------------------


def generation_rows(
    store: Storage,
    generations: Iterable[Generated],
    *,
    model_refs: Mapping[str, str] | None = None,
    sampler: str = "",
) -> list[dict[str, Any]]:
    """Store each image as a blob; one ``evaluation_generations`` row per generation."""
    rows = []
    for g in generations:
        digest = store.put_blob(g.image)
        rows.append(
            {
                "prompt_id": g.prompt_id,
                "category": g.category,
                "entity": g.entity,
                "language": g.language,
                "text": g.text,
                "model": g.model,
                "model_ref": (model_refs or {}).get(g.model, ""),
                "seed": g.seed,
                "image_index": g.image_index,
                "sha256": digest,
                "blob_key": store.blob_key(digest),
                "steps": g.params.get("steps"),
                "guidance_scale": g.params.get("guidance_scale"),
                "width": g.params.get("width"),
                "height": g.params.get("height"),
                "sampler": sampler,
            }
        )
    return rows


def write_generations(store: Storage, rows: Sequence[Mapping[str, Any]]) -> pa.Table:
    """Replace the ``evaluation_generations`` table with ``rows``."""
    table = pa.Table.from_pylist(list(rows), schema=GENERATIONS_SCHEMA)
    store.write_table(GENERATIONS, None, table)
    return table


def sbs_pairs(
    generations_rows: Iterable[Mapping[str, Any]], *, base: str = BASE
) -> list[dict[str, Any]]:
    """Side-by-side pairs from ``evaluation_generations`` rows: per (prompt, language, seed) and
    per model other than ``base``, the two images made from the same noise.

    Each pair: ``pair_id`` (``prompt:language:seed:model``), ``prompt_id``, ``category``,
    ``entity``, ``language``, ``text``, ``seed``, ``base_model``, ``base_sha256``,
    ``tuned_model``, ``tuned_sha256``. Sorted by prompt, language, seed, model; a (prompt,
    language, seed) without a base image gives no pair.
    """
    groups: dict[tuple[str, str, int], dict[str, Mapping[str, Any]]] = {}
    for row in generations_rows:
        key = (row["prompt_id"], row["language"], int(row["seed"]))
        groups.setdefault(key, {})[row["model"]] = row
    pairs = []
    for (prompt_id, language, seed), by_model in sorted(groups.items()):
        reference = by_model.get(base)
        if reference is None:
            continue
        for model in sorted(m for m in by_model if m != base):
            pairs.append(
                {
                    "pair_id": f"{prompt_id}:{language}:{seed}:{model}",
                    "prompt_id": prompt_id,
                    "category": reference["category"],
                    "entity": reference.get("entity"),
                    "language": language,
                    "text": reference["text"],
                    "seed": seed,
                    "base_model": base,
                    "base_sha256": reference["sha256"],
                    "tuned_model": model,
                    "tuned_sha256": by_model[model]["sha256"],
                }
            )
    return pairs


def missing_generations(
    generations_rows: Iterable[Mapping[str, Any]],
    prompt_ids: Iterable[str],
    models: Iterable[str],
    images_per_prompt: int,
) -> list[str]:
    """``prompt/language/model`` for every combination with fewer than K distinct seeds."""
    seen: dict[tuple[str, str, str], set[int]] = {}
    for row in generations_rows:
        seen.setdefault((row["prompt_id"], row["language"], row["model"]), set()).add(row["seed"])
    return [
        f"{p}/{lang}/{m}"
        for p in prompt_ids
        for lang in LANGUAGES
        for m in models
        if len(seen.get((p, lang, m), ())) < images_per_prompt
    ]


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
