"""The per-category training shards: one row per trainable (image, entity) of a category.

``training_shards/<category>`` holds both captions, the entity, the stage-2 bucket and the
repeat weight. A shard is built from its own category alone, so an edit to one category rewrites
only that category's shard: the balancing target is a fixed number per entity (see
``craft_dag.training.sampling``), never a statistic of the whole dataset.

Images too small for every stage-2 bucket (``craft_dag.training.buckets``) stay in the shard with
``stage2 = False``, null buckets and the reason: the paper's first stage trains every image at
768x768, and curation has already removed what is too small to train at all (its ``too_small``
reason); stage 2 only skips them, and the card counts them.
"""

import hashlib
import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from craft_dag.curation.filtering import FILTERED
from craft_dag.storage import Storage
from craft_dag.training.buckets import (
    MAX_UPSCALE,
    PAPER_STAGE2,
    BucketSpec,
    assign_bucket,
    bucket_grid,
)
from craft_dag.training.sampling import (
    DEFAULT_MAX_REPEATS,
    DEFAULT_TARGET_PER_ENTITY,
    PAPER_REPEATS,
    RepeatWeights,
    repeat_weights,
)
from craft_dag.translation.translate_category import TRANSLATED

TRAINING_SHARDS = "training_shards"
TOO_SMALL = "too_small"
PARAMS_KEY = b"craft.training_shards"  # the shard's parameters, in its Parquet schema metadata

SHARD_SCHEMA = pa.schema(
    [
        ("sample_id", pa.string()),  # sha256(image_id, entity_id)[:32]: stable across rebuilds
        ("image_id", pa.string()),
        ("entity_id", pa.string()),
        ("category", pa.string()),
        ("blob_key", pa.string()),
        ("caption_en", pa.string()),
        ("caption_native", pa.string()),
        ("width", pa.int32()),
        ("height", pa.int32()),
        ("bucket_w", pa.int32()),  # the stage-2 bucket; null when too small for every bucket
        ("bucket_h", pa.int32()),
        ("stage2", pa.bool_()),
        ("stage2_reason", pa.string()),  # "" when in stage 2
        ("repeat_weight", pa.float64()),
        ("licence", pa.string()),
    ]
)


def sample_id(image_id: str, entity_id: str) -> str:
    """A stable id for an (image, entity) pair; the separator keeps ("ab", "c") != ("a", "bc")."""
    return hashlib.sha256(f"{image_id}\x00{entity_id}".encode()).hexdigest()[:32]


@dataclass
class ShardResult:
    """One category's shard and what happened on the way."""

    table: pa.Table
    weights: RepeatWeights
    counts: Counter = field(default_factory=Counter)  # rows in, not trainable, too small


def build_shards(
    rows: Sequence[Mapping[str, Any]],
    spec: BucketSpec = PAPER_STAGE2,
    mode: str = "balanced",
    *,
    licences: Mapping[tuple[str, str], str] | None = None,
    target_per_entity: float = DEFAULT_TARGET_PER_ENTITY,
    max_repeats: float = DEFAULT_MAX_REPEATS,
    uniform_repeats: int = PAPER_REPEATS,
    max_upscale: float = MAX_UPSCALE,
) -> ShardResult:
    """The shard of one category from its ``translated_captions`` rows.

    Only rows with ``trainable`` true go in (the others are counted). ``licences`` maps
    (image_id, entity_id) to the licence recorded in ``filtered_images``; unknown ones are "".
    """
    licences = licences or {}
    counts: Counter = Counter()
    kept = []
    for r in rows:
        if r["trainable"]:
            kept.append(r)
        else:
            counts["not trainable"] += 1
    kept.sort(key=lambda r: (r["entity_id"], r["image_id"]))  # same input, same bytes
    weights = repeat_weights(
        [r["entity_id"] for r in kept],
        mode,
        target_per_entity=target_per_entity,
        max_repeats=max_repeats,
        uniform_repeats=uniform_repeats,
    )
    grid = bucket_grid(spec)
    out = []
    for r, weight in zip(kept, weights.weights, strict=True):
        bucket = assign_bucket(r["width"], r["height"], spec, max_upscale=max_upscale, grid=grid)
        if bucket is None:
            counts[TOO_SMALL] += 1
        counts["rows"] += 1
        out.append(
            {
                "sample_id": sample_id(r["image_id"], r["entity_id"]),
                "image_id": r["image_id"],
                "entity_id": r["entity_id"],
                "category": r["category"],
                "blob_key": r["blob_key"],
                "caption_en": r["caption_en"],
                "caption_native": r["caption_native"],
                "width": r["width"],
                "height": r["height"],
                "bucket_w": bucket[0] if bucket else None,
                "bucket_h": bucket[1] if bucket else None,
                "stage2": bucket is not None,
                "stage2_reason": "" if bucket else _too_small_reason(r, spec, max_upscale),
                "repeat_weight": weight,
                "licence": licences.get((r["image_id"], r["entity_id"]), ""),
            }
        )
    params = {
        "mode": mode,
        "target_per_entity": weights.target_per_entity,
        "max_repeats": weights.max_repeats,
        "uniform_repeats": uniform_repeats if mode == "uniform" else None,
        "bucket_spec": {
            "min_area": spec.min_area,
            "max_area": spec.max_area,
            "multiple": spec.multiple,
            "max_aspect": spec.max_aspect,
        },
        "max_upscale": max_upscale,
    }
    # The parameters travel with the table, so a check (or a reader) of the shard knows what
    # it was built with without the run's config.
    table = pa.Table.from_pylist(out, schema=SHARD_SCHEMA).replace_schema_metadata(
        {PARAMS_KEY: json.dumps(params, sort_keys=True).encode()}
    )
    return ShardResult(table, weights, counts)


def shard_params(table: pa.Table) -> dict[str, Any]:
    """The parameters a shard was built with (empty for a table without them)."""
    raw = (table.schema.metadata or {}).get(PARAMS_KEY)
    return json.loads(raw) if raw else {}


def _too_small_reason(row: Mapping[str, Any], spec: BucketSpec, max_upscale: float) -> str:
    return (
        f"{TOO_SMALL}: {row['width']}x{row['height']} reaches no bucket of area "
        f">= {spec.min_area} within x{max_upscale} upscaling"
    )


def shard_category(
    store: Storage,
    category: str,
    spec: BucketSpec = PAPER_STAGE2,
    mode: str = "balanced",
    **kw: Any,
) -> ShardResult:
    """Read ``translated_captions[category]`` (and licences from ``filtered_images``), build the
    shard and write it as ``training_shards/<category>``. ``kw`` go to ``build_shards``."""
    rows = store.read_table(TRANSLATED, category).to_pylist()
    licences = {}
    if store.has_table(FILTERED, category):
        licences = {
            (r["image_id"], r["entity_id"]): r["licence"]
            for r in store.read_table(FILTERED, category)
            .select(["image_id", "entity_id", "licence"])
            .to_pylist()
        }
    result = build_shards(rows, spec, mode, licences=licences, **kw)
    store.write_table(TRAINING_SHARDS, category, result.table)
    return result


class IncompleteDatasetError(RuntimeError):
    """A fan-in was asked to build from a set of categories with some missing."""

    def __init__(self, missing: Sequence[str]) -> None:
        self.missing = list(missing)
        super().__init__(
            f"training_shards is missing for {len(self.missing)} categories: "
            f"{', '.join(self.missing)}; materialise them, or set allow_incomplete to build "
            "from the others"
        )


def load_shards(
    store: Storage, categories: Sequence[str], *, allow_incomplete: bool = False
) -> tuple[dict[str, pa.Table], list[str]]:
    """Every expected category's shard from storage, and the categories that have none.

    Raises ``IncompleteDatasetError`` when any is missing, unless ``allow_incomplete``; a shard
    of a category no longer in the pack is not read.
    """
    present = set(store.partitions(TRAINING_SHARDS))
    missing = [c for c in categories if c not in present]
    if missing and not allow_incomplete:
        raise IncompleteDatasetError(missing)
    shards = {c: store.read_table(TRAINING_SHARDS, c) for c in categories if c in present}
    if not shards:
        raise IncompleteDatasetError(missing)
    return shards, missing
