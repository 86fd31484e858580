"""The training set: per-category shards, the fan-in manifest over all of them, a dataset card.

One shard per category (``training_shards/<category>``) holds one row per trainable
(image, entity) of ``translated_captions``: both captions, the entity, the stage-2 bucket and the
repeat weight. A shard is built from its own category alone, so an edit to one category rewrites
only that category's shard: the balancing target is a fixed number per entity (see
``craft_dag.training.sampling``), never a statistic of the whole dataset.

Images too small for every stage-2 bucket (``craft_dag.training.buckets``) stay in the shard with
``stage2 = False``, null buckets and the reason: the paper's first stage trains every image at
768x768, and curation has already removed what is too small to train at all (its ``too_small``
reason); stage 2 only skips them, and the card counts them.

``training_dataset`` is the union of every category's shard, written unpartitioned, with a
dataset card (``training_dataset/card.md``) of counts before and after balancing, buckets,
caption lengths and licences, and its plots.
"""

import hashlib
import io
import json
import statistics
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
from PIL import Image, ImageDraw, ImageFont

from craft_dag import markdown
from craft_dag.curation.filtering import FILTERED
from craft_dag.imaging.contact_sheet import png_markdown
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
from craft_dag.translation.category import TRANSLATED

TRAINING_SHARDS = "training_shards"
TRAINING_DATASET = "training_dataset"
CARD_NAME = "card.md"
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


# -- the manifest and its card ----------------------------------------------------------------


@dataclass
class Manifest:
    """The union of the shards, its dataset card, and the card's plots (PNG bytes by name)."""

    table: pa.Table
    card: str
    plots: dict[str, bytes]
    counts: dict[str, Any]


def _words(text: str | None) -> int:
    return len((text or "").split())


def _length_stats(values: Sequence[int]) -> tuple[int, float, float, int]:
    if not values:
        return (0, 0.0, 0.0, 0)
    return (min(values), statistics.median(values), round(statistics.fmean(values), 1), max(values))


def _length_bins(values: Sequence[int], width: int = 5, last: int = 40) -> dict[str, int]:
    """Word counts in bins ``0-4, 5-9, ..., 40+``."""
    bins = {f"{lo}-{lo + width - 1}": 0 for lo in range(0, last, width)}
    bins[f"{last}+"] = 0
    for v in values:
        key = f"{last}+" if v >= last else f"{v // width * width}-{v // width * width + width - 1}"
        bins[key] += 1
    return bins


def build_manifest(
    shards: Mapping[str, pa.Table],
    *,
    missing: Sequence[str] = (),
    entity_limit: int | None = None,
    inline_plots: bool = True,
) -> Manifest:
    """The ``training_dataset`` table (shards in category order) and its card.

    "Before" counts are rows (each sample once); "after" is the sum of repeat weights, what one
    pass of the weighted sampler draws. ``entity_limit`` keeps only the rarest entities in the
    card's entity table (the UI's metadata panel; the stored card has them all);
    ``inline_plots=False`` leaves the plots out of the card (they are in ``plots``).
    """
    tables = [shards[c].cast(SHARD_SCHEMA) for c in sorted(shards)]
    table = pa.concat_tables(tables) if tables else SHARD_SCHEMA.empty_table()
    rows = table.to_pylist()

    per_category: dict[str, list[float]] = defaultdict(lambda: [0, 0.0, 0])
    per_entity: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0, 0.0])
    buckets: Counter = Counter()
    licences: Counter = Counter()
    for r in rows:
        cat = per_category[r["category"]]
        cat[0] += 1
        cat[1] += r["repeat_weight"]
        cat[2] += 0 if r["stage2"] else 1
        ent = per_entity[(r["category"], r["entity_id"])]
        ent[0] += 1
        ent[1] += r["repeat_weight"]
        buckets[f"{r['bucket_w']}x{r['bucket_h']}" if r["stage2"] else TOO_SMALL] += 1
        licences[r["licence"] or "unknown"] += 1
    en_words = [_words(r["caption_en"]) for r in rows]
    native_words = [_words(r["caption_native"]) for r in rows if r["caption_native"]]

    total_before = len(rows)
    total_after = sum(v[1] for v in per_category.values())
    counts = {
        "categories": len(per_category),
        "missing_categories": list(missing),
        "entities": len(per_entity),
        "samples": total_before,
        "effective_samples": round(total_after, 2),
        "stage2_samples": total_before - sum(v[2] for v in per_category.values()),
        "too_small": sum(v[2] for v in per_category.values()),
        "category_ids": sorted(per_category),
        "licences": dict(licences.most_common()),
    }

    def share(x: float, total: float) -> str:
        return f"{100 * x / total:.1f}%" if total else "-"

    cat_rows = [
        (c, v[0], share(v[0], total_before), round(v[1], 2), share(v[1], total_after), v[2])
        for c, v in sorted(per_category.items())
    ]
    ent_sorted = sorted(per_entity.items(), key=lambda kv: (kv[1][0], kv[0]))
    ent_shown = ent_sorted if entity_limit is None else ent_sorted[:entity_limit]
    ent_rows = [
        (c, e, v[0], share(v[0], total_before), round(v[1], 2), share(v[1], total_after))
        for (c, e), v in ent_shown
    ]
    bucket_rows = sorted(buckets.items(), key=lambda kv: (kv[0] == TOO_SMALL, -kv[1], kv[0]))

    plots = {}
    if rows:
        plots["per_category"] = bar_chart_png(
            "samples per category: before / after balancing (share %)",
            [c for c, *_ in cat_rows],
            {
                "before": [100 * v[0] / total_before for _, v in sorted(per_category.items())],
                "after": [100 * v[1] / total_after for _, v in sorted(per_category.items())],
            },
        )
        plots["buckets"] = bar_chart_png(
            "stage-2 buckets (images)",
            [b for b, _ in bucket_rows],
            {"images": [n for _, n in bucket_rows]},
        )
        en_bins, native_bins = _length_bins(en_words), _length_bins(native_words)
        plots["caption_words"] = bar_chart_png(
            "caption length (words)",
            list(en_bins),
            {"English": list(en_bins.values()), "native": list(native_bins.values())},
        )

    lines = ["# Training dataset", ""]
    lines.append(
        f"{total_before} samples of {counts['entities']} entities in {counts['categories']} "
        f"categories; one pass of the weighted sampler draws {total_after:.1f} "
        f"(x{total_after / total_before:.2f})."
        if total_before
        else "No samples."
    )
    if missing:
        lines += ["", f"**Incomplete**: no shard for {', '.join(missing)}."]
    lines += ["", "## Per category", ""]
    lines.append(
        markdown.table(
            ["category", "samples", "share", "after", "share after", "too small"],
            cat_rows,
            right=["samples", "share", "after", "share after", "too small"],
        )
    )
    lines += ["", "## Per entity (rarest first)", ""]
    if entity_limit is not None and len(ent_sorted) > entity_limit:
        lines.append(f"The {entity_limit} rarest of {len(ent_sorted)}; the stored card lists all.")
        lines.append("")
    lines.append(
        markdown.table(
            ["category", "entity", "samples", "share", "after", "share after"],
            ent_rows,
            right=["samples", "share", "after", "share after"],
        )
    )
    lines += ["", "## Stage-2 buckets", ""]
    lines.append(markdown.table(["bucket", "images"], bucket_rows, right=["images"]))
    lines += ["", "## Caption length (words)", ""]
    lines.append(
        markdown.table(
            ["caption", "captions", "min", "median", "mean", "max"],
            [
                ("English", len(en_words), *_length_stats(en_words)),
                ("native", len(native_words), *_length_stats(native_words)),
            ],
            right=["captions", "min", "median", "mean", "max"],
        )
    )
    lines += ["", "## Licences", ""]
    lines.append(markdown.table(["licence", "images"], licences.most_common(), right=["images"]))
    if plots and inline_plots:
        lines += ["", "## Plots", ""]
        lines += [png_markdown(png, name) + "\n" for name, png in plots.items()]
    return Manifest(table=table, card="\n".join(lines) + "\n", plots=plots, counts=counts)


def summarise_dataset(table: pa.Table) -> dict[str, Any]:
    """The manifest's counts (samples, entities, categories, licences) of a stored dataset."""
    return build_manifest({"all": table}).counts


def write_manifest(store: Storage, manifest: Manifest) -> tuple[str, str]:
    """Write the table as ``training_dataset`` and the card beside it; their URIs."""
    ref = store.write_table(TRAINING_DATASET, None, manifest.table)
    card_uri = store.write_file((TRAINING_DATASET, CARD_NAME), manifest.card.encode())
    return ref.uri, card_uri


# -- plots ------------------------------------------------------------------------------------

_COLOURS = ("#4c72b0", "#dd8452", "#55a868", "#c44e52")


def bar_chart_png(
    title: str, labels: Sequence[str], series: Mapping[str, Sequence[float]], *, width: int = 640
) -> bytes:
    """A horizontal grouped bar chart as PNG: one group per label, one bar per series.

    Drawn with Pillow, already a dependency, so the card needs no plotting library.
    """
    font = ImageFont.load_default(size=12)
    bar_h, gap, label_w, top = 10, 6, 170, 40
    group_h = bar_h * len(series) + gap
    height = top + group_h * len(labels) + 10
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    draw.text((8, 6), title, fill="black", font=font)
    for i, name in enumerate(series):  # legend
        x = 8 + i * 110
        draw.rectangle([x, 24, x + 10, 34], fill=_COLOURS[i % len(_COLOURS)])
        draw.text((x + 14, 22), name, fill="black", font=font)
    peak = max((v for values in series.values() for v in values), default=0) or 1
    span = width - label_w - 60
    for j, label in enumerate(labels):
        y = top + j * group_h
        draw.text((8, y), markdown.cell(label, 26), fill="black", font=font)
        for i, values in enumerate(series.values()):
            value = values[j] if j < len(values) else 0
            x1 = label_w + round(span * value / peak)
            yb = y + i * bar_h
            draw.rectangle([label_w, yb, max(x1, label_w + 1), yb + bar_h - 2], fill=_COLOURS[i])
            text = f"{value:.1f}" if isinstance(value, float) else str(value)
            draw.text((x1 + 4, yb - 2), text, fill="black", font=font)
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()
