"""Image scoring by shard: per-image scores in parallel, the whole-category steps once after.

Each shard computes the per-image scores (CPU metrics and hashes for all, OCR and model scores
for the CPU survivors) with ``score_images`` with near-duplicate grouping switched off, and
writes them as one part. Then the category is scored once more with every part as ``prior``:
nothing is decoded again except near-duplicate group members (their sharpness, compression and
crop relations, which need the group), and the grouping, keep choice and decisions are made
over the whole category, exactly as in-process.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from craft_dag.collection.collect_category import IMAGES
from craft_dag.curation.policy import EffectiveThresholds
from craft_dag.curation.score import ScoreItem, Scorers, raw_scores_from_row, score_images
from craft_dag.curation.score_category import CategoryScores, blob_loader, entity_texts
from craft_dag.curation.tables import SCORES, scores_table
from craft_dag.parallel.engines import Engine, drive
from craft_dag.parallel.shards import (
    ShardOutcome,
    ShardReport,
    ShardTask,
    fingerprint,
    part_fingerprint,
    read_part,
    split,
    write_part,
)
from craft_dag.storage import Storage

SHARDS_ASSET = "image_scores_shards"
THUMBNAIL, THUMBNAIL_SHAPE = "coarse_thumbnail", "coarse_thumbnail_shape"


@dataclass(frozen=True)
class ScoreShard:
    """What a worker needs to score one shard: storage settings, never the images themselves."""

    base_uri: str
    storage_options: dict[str, Any]
    category: str
    shard: int
    rows: list[tuple[str, str, tuple[str, ...]]]  # (image_id, entity_id, entity texts)
    thresholds: EffectiveThresholds
    scorers: Scorers | Callable[[], Scorers]
    fingerprint: str


def score_shard(task: ScoreShard) -> int:
    """Score one shard's images (no grouping) and write its part; returns the rows written."""
    store = Storage(task.base_uri, task.storage_options)
    scorers = task.scorers() if callable(task.scorers) else task.scorers
    per_image = task.thresholds.model_copy(
        update={"values": task.thresholds.values.model_copy(update={"duplicate_radius": None})}
    )
    items = [ScoreItem(i, e, blob_loader(store, i), texts) for i, e, texts in task.rows]
    thumbnails: dict[tuple[str, str], np.ndarray] = {}
    scored = score_images(items, per_image, scorers, thumbnails=thumbnails)
    table = scores_table(
        scored, category=task.category, thresholds="shard", scorers=scorers.version
    )
    table = with_thumbnails(table, thumbnails)
    write_part(store, SHARDS_ASSET, task.category, task.shard, table, task.fingerprint)
    return table.num_rows


def with_thumbnails(table: pa.Table, thumbnails: dict[tuple[str, str], np.ndarray]) -> pa.Table:
    """The scores with each image's coarse thumbnail (~1.7 KB of uint8) and its shape.

    What lets the whole-category pass rank a near-duplicate group without decoding its members
    again; the driver then holds these small arrays, never the images.
    """
    found = [
        thumbnails.get((i, e))
        for i, e in zip(table["image_id"].to_pylist(), table["entity_id"].to_pylist(), strict=True)
    ]
    return table.append_column(
        THUMBNAIL, pa.array([t.tobytes() if t is not None else None for t in found], pa.binary())
    ).append_column(
        THUMBNAIL_SHAPE,
        pa.array([list(t.shape) if t is not None else None for t in found], pa.list_(pa.int32())),
    )


def thumbnails_of(row: dict) -> np.ndarray | None:
    """The coarse thumbnail a part row holds (None in parts written without them)."""
    data, shape = row.get(THUMBNAIL), row.get(THUMBNAIL_SHAPE)
    if data is None or shape is None:
        return None
    return np.frombuffer(data, dtype=np.uint8).reshape(shape)


@dataclass(frozen=True)
class ShardedScores:
    result: CategoryScores
    report: ShardReport


def score_category_sharded(
    store: Storage,
    category: str,
    thresholds: EffectiveThresholds,
    scorers: Scorers,
    engine: Engine,
    *,
    num_shards: int,
    shard_scorers: Scorers | Callable[[], Scorers] | None = None,
    storage_options: dict[str, Any] | None = None,
    log: Callable[[str], None] = lambda _: None,
) -> ShardedScores:
    """``score_category`` with the per-image work split into ``num_shards`` shards on ``engine``.

    Raises RuntimeError only when every shard failed; otherwise the failed shards' images are
    left out of ``image_scores`` this time (the report names each failure) and are redone by
    the next materialisation. ``shard_scorers`` is what the workers score with (a picklable
    factory builds the models once per shard on the worker instead of shipping them); by default
    ``scorers`` itself, which must then describe the same scorers (its ``version``).
    """
    images = store.read_table(IMAGES, category).select(["image_id", "entity_id"]).to_pylist()
    texts = entity_texts(store.read_table("entities", category).to_pylist())
    local = scorers
    remote = scorers if shard_scorers is None else shard_scorers
    settings = f"{local.version}|{thresholds.fingerprint()}"
    rows = [(r["image_id"], r["entity_id"], texts.get(r["entity_id"], ())) for r in images]
    by_shard = split(rows, lambda r: r[0], num_shards)

    report = ShardReport()
    tasks: list[ShardTask] = []
    fps: dict[int, str] = {}
    for shard, members in by_shard.items():
        fp = fingerprint([f"{i}\0{e}" for i, e, _ in members], settings)
        fps[shard] = fp
        if part_fingerprint(store, SHARDS_ASSET, category, shard) == fp:
            report.outcomes.append(ShardOutcome(shard, "reused", len(members)))
            continue
        arg = ScoreShard(
            store.base_uri, storage_options or {}, category, shard, members, thresholds, remote, fp
        )
        tasks.append(ShardTask(shard, len(members), score_shard, arg))
    log(
        f"{category}: {len(by_shard)} shards, {len(by_shard) - len(tasks)} reused, "
        f"{len(tasks)} to run on {engine.name}"
    )
    drive(engine, tasks, report, log, unit="images")
    report.write_manifest(store, SHARDS_ASSET, category)
    if report.all_failed:
        raise RuntimeError(f"{category}: every shard failed: {report.failures()}")

    failed = {o.shard for o in report.outcomes if o.status == "failed"}
    prior = {}
    thumbnails = {}
    for shard in by_shard:
        if shard in failed:
            continue
        table, _ = read_part(store, SHARDS_ASSET, category, shard)
        for r in table.to_pylist():
            key = (r["image_id"], r["entity_id"])
            prior[key] = raw_scores_from_row(r)
            if (thumb := thumbnails_of(r)) is not None:
                thumbnails[key] = thumb
    keep = [r for s, members in by_shard.items() if s not in failed for r in members]
    order = {(i, e): n for n, (i, e, _) in enumerate(rows)}
    keep.sort(key=lambda r: order[(r[0], r[1])])
    items = [ScoreItem(i, e, blob_loader(store, i), t) for i, e, t in keep]
    started = time.perf_counter()
    scored = score_images(items, thresholds, local, prior=prior, thumbnails=thumbnails, log=log)
    log(f"{category}: whole-category steps in {time.perf_counter() - started:.2f} s")
    table: pa.Table = scores_table(
        scored, category=category, thresholds=thresholds.fingerprint(), scorers=local.version
    )
    store.write_table(SCORES, category, table)
    return ShardedScores(CategoryScores(table, scored, reused=0), report)
