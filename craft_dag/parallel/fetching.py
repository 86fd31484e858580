"""Image collection by shard: candidates fetched and verified in parallel, merged once after.

The driver asks the source for the category's candidates (one search per query: small), splits
them by a hash of the URL, and gives each shard its candidates and what earlier runs settled of
them. A shard runs the same fetcher as the in-process path (``fetch_candidates``: aiohttp, the
downloader's limits, the decode check, content-addressed blobs) in its own event loop on its
own core, and writes two parts: its image rows and its failure rows, unordered. The driver then
reads the parts (rows, never images) and puts them in the category's order with the same rule
as in-process: rows by (entity, rank), and when two URLs of one entity gave the same bytes, the
better-ranked one wins, whichever shards they were in.

A shard whose parts match its candidates and settings and hold no retryable failure is reused
without running; a shard that failed, or whose worker was killed, runs again next time with
what its last parts settled carried over. The per-host limits of ``DownloaderConfig`` hold for
the whole run: they are shared out among the shards that run at once, since one host's URLs
spread over every shard.
"""

import asyncio
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import pyarrow as pa

from craft_dag.collection.collect_category import (
    IMAGE_SCHEMA,
    LOG_SCHEMA,
    CollectLimits,
    CollectResult,
    Fetching,
    collect_result,
    fetch_candidates,
    gather_candidates,
    prior_settled,
    write_collected,
)
from craft_dag.collection.downloader import Downloader, DownloaderConfig
from craft_dag.collection.records import FINAL_REASONS, Candidate, EntityRef
from craft_dag.collection.sources import ImageSource
from craft_dag.parallel.engines import Engine, drive
from craft_dag.parallel.shards import (
    ShardOutcome,
    ShardReport,
    ShardTask,
    fingerprint,
    read_part,
    split,
    write_part,
)
from craft_dag.storage import Storage, StorageError

IMAGE_PARTS = "raw_images_shards"
LOG_PARTS = "raw_images_fetch_log_shards"

Key = tuple[str, str]  # (entity id, url)


@dataclass(frozen=True)
class FetchShard:
    """What a worker needs to fetch one shard: storage settings and candidates, no images."""

    base_uri: str
    storage_options: dict[str, Any]
    category: str
    shard: int
    candidates: list[Candidate]
    settled_images: list[dict]  # what earlier runs stored for these candidates
    settled_failures: list[dict]  # and their final failures
    source: ImageSource
    config: DownloaderConfig
    limits: CollectLimits
    fingerprint: str


def fetch_shard(task: FetchShard) -> dict[str, int]:
    """Fetch one shard's candidates and write its two parts; returns its counts."""
    store = Storage(task.base_uri, task.storage_options)
    images = {(r["entity_id"], r["url"]): r for r in task.settled_images}
    failures = {(r["entity_id"], r["url"]): r for r in task.settled_failures}

    async def work() -> Fetching:
        async with Downloader(task.config) as downloader:
            return await fetch_candidates(
                task.category, task.candidates, images, failures, task.source, downloader,
                store, task.limits, lambda _: None, checkpoint=False,
            )  # fmt: skip

    done = asyncio.run(work())
    # Images first: a shard counts as done only once both parts carry its fingerprint.
    image_rows = pa.Table.from_pylist(list(done.images.values()), schema=IMAGE_SCHEMA)
    log_rows = pa.Table.from_pylist(list(done.failures.values()), schema=LOG_SCHEMA)
    write_part(store, IMAGE_PARTS, task.category, task.shard, image_rows, task.fingerprint)
    write_part(store, LOG_PARTS, task.category, task.shard, log_rows, task.fingerprint)
    return {"fetched": done.fetched, "reused": done.reused, "images": image_rows.num_rows}


@dataclass(frozen=True)
class ShardedCollect:
    result: CollectResult
    report: ShardReport


def _read_parts(store: Storage, category: str, shard: int) -> tuple[list, list, str | None]:
    """A shard's stored image and failure rows, and their common fingerprint (None when the
    two parts are missing, unreadable or from different runs)."""
    try:
        images, fp_images = read_part(store, IMAGE_PARTS, category, shard)
        failures, fp_log = read_part(store, LOG_PARTS, category, shard)
    except (StorageError, OSError, pa.ArrowInvalid):
        return [], [], None
    fp = fp_images if fp_images and fp_images == fp_log else None
    return images.to_pylist(), failures.to_pylist(), fp


def _settings(source: ImageSource, limits: CollectLimits) -> str:
    """What, beside the candidates, changes a shard's rows."""
    return f"{source.name}|max_pixels={limits.max_pixels}"


def shared_config(config: DownloaderConfig, slots: int) -> DownloaderConfig:
    """Each shard's share of the per-host limits when ``slots`` shards run at once."""
    if slots <= 1:
        return config
    return replace(
        config,
        per_host_concurrency=max(1, math.ceil(config.per_host_concurrency / slots)),
        per_host_rate=config.per_host_rate / slots,
    )


def collect_category_sharded(
    category: str,
    entities: Sequence[EntityRef],
    source: ImageSource,
    config: DownloaderConfig,
    storage: Storage,
    engine: Engine,
    *,
    num_shards: int,
    limits: CollectLimits | None = None,
    storage_options: dict[str, Any] | None = None,
    log: Callable[[str], None] = print,
) -> ShardedCollect:
    """``collect_category`` with the fetching split into ``num_shards`` shards on ``engine``.

    Raises RuntimeError only when every shard failed. A failed shard's candidates keep what an
    earlier run settled of them (nothing collected is lost) and are fetched again next time;
    the report names each failure.
    """
    limits = limits or CollectLimits()

    async def search() -> tuple[list[Candidate], int]:
        async with Downloader(config) as downloader:
            return await gather_candidates(category, entities, source, downloader, limits, log)

    candidates, over_quota = asyncio.run(search())
    prior_images, prior_failures = prior_settled(storage, category)
    by_shard = split(candidates, lambda c: c.url, num_shards)
    settings = _settings(source, limits)
    per_shard = shared_config(config, min(engine.slots(), max(1, len(by_shard))))

    report = ShardReport()
    tasks: list[ShardTask] = []
    carried: dict[int, tuple[dict[Key, dict], dict[Key, dict]]] = {}
    for shard, members in by_shard.items():
        keys = [(c.entity_id, c.url) for c in members]
        fp = fingerprint([f"{e}\0{u}" for e, u in keys], settings)
        part_images, part_failures, part_fp = _read_parts(storage, category, shard)
        if part_fp == fp and all(r["reason"] in FINAL_REASONS for r in part_failures):
            report.outcomes.append(ShardOutcome(shard, "reused", len(members)))
            continue
        # Settled earlier: the category's last tables, then this shard's own last parts (a
        # killed or failed run's work, and the freshest).
        images = {k: prior_images[k] for k in keys if k in prior_images}
        failures = {k: prior_failures[k] for k in keys if k in prior_failures}
        wanted = set(keys)
        for row in part_images:
            if (key := (row["entity_id"], row["url"])) in wanted:
                images[key] = row
                failures.pop(key, None)
        for row in part_failures:
            key = (row["entity_id"], row["url"])
            if key in wanted and row["reason"] in FINAL_REASONS and key not in images:
                failures[key] = row
        carried[shard] = (images, failures)
        arg = FetchShard(
            storage.base_uri, storage_options or {}, category, shard, members,
            list(images.values()), list(failures.values()), source.for_workers(), per_shard,
            limits, fp,
        )  # fmt: skip
        tasks.append(ShardTask(shard, len(members), fetch_shard, arg))
    log(
        f"{category}: {len(candidates)} candidates in {len(by_shard)} shards, "
        f"{len(by_shard) - len(tasks)} reused, {len(tasks)} to run on {engine.name}"
    )
    started = time.perf_counter()
    values = drive(engine, tasks, report, log, unit="candidates", gpu=False)
    report.write_manifest(storage, IMAGE_PARTS, category)
    if report.all_failed:
        raise RuntimeError(f"{category}: every shard failed: {report.failures()}")

    merged = Fetching({}, {}, fetched=0, reused=0)
    for outcome in report.outcomes:
        if outcome.status == "failed":  # keep what earlier runs stored of its candidates
            images, failures = carried[outcome.shard]
            images = {k: r for k, r in images.items() if storage.has_blob(r["image_id"])}
        else:
            part_images, part_failures, _ = _read_parts(storage, category, outcome.shard)
            images = {(r["entity_id"], r["url"]): r for r in part_images}
            failures = {(r["entity_id"], r["url"]): r for r in part_failures}
        merged.images.update(images)
        merged.failures.update(failures)
        counts = values.get(outcome.shard)
        if counts is not None:
            merged.fetched += counts["fetched"]
            merged.reused += counts["reused"]
        elif outcome.status == "reused":
            merged.reused += outcome.items
    result = collect_result(candidates, entities, merged, over_quota)
    write_collected(storage, category, result)
    log(
        f"{category}: {result.images.num_rows} images from {len(by_shard)} shards in "
        f"{time.perf_counter() - started:.2f} s ({merged.fetched} fetched this run)"
    )
    return ShardedCollect(result, report)
