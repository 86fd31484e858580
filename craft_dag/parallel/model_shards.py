"""Model stages by shard (captions, translations): one model per worker, one part per shard.

A stage hands over its work items (plain rows: ids and texts, never images), a stable key, the
settings that change its output, a picklable ``setup`` that builds its model on a worker, and a
picklable ``work(model, store, rows) -> pa.Table`` that does one shard's items. Each shard
writes ``<asset>/<category>/part-<shard>.parquet`` with a fingerprint of its keys and the
settings; a part whose fingerprint matches is reused. The engine runs the shards pooled: Ray
Data ``map_batches`` over an actor pool on Ray (the model loads once per actor, on ``num_gpus``
where set), one model in this process otherwise.
"""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

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

Work = Callable[[Any, Storage, list[dict]], pa.Table]


def image_entity_key(row: Mapping[str, Any]) -> str:
    """The shard key of a caption or translation: its (image, entity), stable across runs."""
    return f"{row['image_id']}\0{row['entity_id']}"


@dataclass(frozen=True)
class ModelShard:
    base_uri: str
    storage_options: dict[str, Any]
    asset: str
    category: str
    shard: int
    rows: list[dict]
    work: Work
    fingerprint: str


def run_model_shard(model: Any, task: ModelShard) -> int:
    """One shard on a worker: its rows through ``work``, the table written as its part."""
    store = Storage(task.base_uri, task.storage_options)
    table = task.work(model, store, task.rows)
    write_part(store, task.asset, task.category, task.shard, table, task.fingerprint)
    return table.num_rows


@dataclass(frozen=True)
class ModelShardsResult:
    rows: list[dict]  # every part's rows of the shards that did not fail
    report: ShardReport
    failed: list[tuple[dict, str]]  # each item of a failed shard, and why ("shard 3 failed: ...")


def run_model_shards(
    store: Storage,
    asset: str,
    category: str,
    rows: Sequence[dict],
    *,
    key: Callable[[dict], str],
    content: Callable[[dict], str] | None = None,
    settings: str,
    setup: Callable[[], Any],
    work: Work,
    engine: Engine,
    num_shards: int,
    storage_options: dict[str, Any] | None = None,
    unit: str = "items",
    log: Callable[[str], None] = lambda _: None,
) -> ModelShardsResult:
    """Run ``work`` over ``rows`` by shard on ``engine``; every done or reused part's rows.

    ``key`` places a row in its shard; ``content`` (by default the key) is what of it the
    part's fingerprint covers, so an item whose text changed reruns its shard in place.

    Raises RuntimeError only when every shard failed; a failed shard's items are missing from
    the result (the caller records them) and are run again next time.
    """
    by_shard = split(rows, key, num_shards)
    report = ShardReport()
    tasks: list[ShardTask] = []
    for shard, members in by_shard.items():
        fp = fingerprint([(content or key)(r) for r in members], settings)
        if part_fingerprint(store, asset, category, shard) == fp:
            report.outcomes.append(ShardOutcome(shard, "reused", len(members)))
            continue
        arg = ModelShard(
            store.base_uri, storage_options or {}, asset, category, shard, list(members), work, fp
        )
        tasks.append(ShardTask(shard, len(members), run_model_shard, arg))
    log(
        f"{category}: {len(rows)} {unit} in {len(by_shard)} shards, "
        f"{len(by_shard) - len(tasks)} reused, {len(tasks)} to run on {engine.name}"
    )
    drive(engine, tasks, report, log, unit=unit, setup=setup)
    report.write_manifest(store, asset, category)
    if report.all_failed:
        raise RuntimeError(f"{category}: every shard failed: {report.failures()}")
    out: list[dict] = []
    failed: list[tuple[dict, str]] = []
    errors = {int(s): e for s, e in report.failures().items()}
    for outcome in report.outcomes:
        if outcome.status == "failed":
            why = f"shard {outcome.shard} failed: {errors.get(outcome.shard, 'unknown error')}"
            failed += [(r, why) for r in by_shard[outcome.shard]]
        else:
            out += read_part(store, asset, category, outcome.shard)[0].to_pylist()
    return ModelShardsResult(out, report, failed)
