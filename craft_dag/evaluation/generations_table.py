"""The ``evaluation_generations`` table: its rows, writing it, and what pairs and gaps it holds."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pyarrow as pa

from craft_dag.evaluation.generation_spec import BASE, LANGUAGES, Generated
from craft_dag.storage import Storage

GENERATIONS = "evaluation_generations"

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
