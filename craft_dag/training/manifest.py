"""The fan-in manifest: the union of every category's shard, and its dataset card.

``training_dataset`` is written unpartitioned, with a dataset card (``training_dataset/card.md``)
of counts before and after balancing, buckets, caption lengths and licences, and its plots.
"""

import statistics
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from craft_dag import markdown
from craft_dag.imaging.contact_sheet import png_markdown
from craft_dag.storage import Storage
from craft_dag.training.bar_chart import bar_chart_png
from craft_dag.training.shards import SHARD_SCHEMA, TOO_SMALL

TRAINING_DATASET = "training_dataset"
CARD_NAME = "card.md"


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
