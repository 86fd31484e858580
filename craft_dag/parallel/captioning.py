"""Automatic captions by shard: the captioner loaded once per worker, captions as parts.

``ShardedCaptions`` is the ``auto_captions`` hook of ``caption_category``: given the rows that
need a machine caption, it splits them by a hash of (image, entity), runs each missing or stale
shard on the engine (a Ray Data actor pool on Ray: the model loads once per actor), and returns
the same ``CaptionResult`` per row as the in-process loop. Clean-up, the choice between human
and machine captions and the guideline linter then run once, on the driver, over the category.
A row of a failed shard gets a caption error naming the shard's failure (so it is counted
and excluded, never silently dropped) and is captioned again next time.
"""

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import pyarrow as pa

from craft_dag.captioning.caption_category import write_auto_captions
from craft_dag.captioning.captioner import CaptionResult, GenerationSettings
from craft_dag.parallel.engines import Engine
from craft_dag.parallel.model_shards import image_entity_key, run_model_shards
from craft_dag.parallel.shards import ShardReport
from craft_dag.storage import Storage

CAPTION_PARTS = "captions_shards"
PART_SCHEMA = pa.schema(
    [
        ("image_id", pa.string()),
        ("entity_id", pa.string()),
        ("text", pa.string()),
        ("error", pa.string()),
        ("model", pa.string()),
        ("params", pa.string()),  # JSON
    ]
)


@dataclass(frozen=True)
class CaptionWork:
    """One shard's captions on a worker: the in-process loop over its rows, as a table."""

    names: dict[str, list[str]]
    category_name: str
    settings: GenerationSettings
    batch_size: int

    def __call__(self, captioner: Any, store: Storage, rows: list[dict]) -> pa.Table:
        found = write_auto_captions(
            store, rows, self.names, self.category_name, captioner, self.settings,
            self.batch_size, lambda _: None,
        )  # fmt: skip
        return pa.Table.from_pylist(
            [
                {
                    "image_id": image_id,
                    "entity_id": entity_id,
                    "text": result.text,
                    "error": result.error,
                    "model": result.model,
                    "params": json.dumps(result.params, sort_keys=True),
                }
                for (image_id, entity_id), result in found.items()
            ],
            schema=PART_SCHEMA,
        )


@dataclass
class ShardedCaptions:
    """``caption_category(auto_captions=...)`` by shard on ``engine``; ``report`` after a call.

    ``setup`` is a picklable factory of the captioner (built on each worker); ``model`` names
    it (backend and model id) for the parts' fingerprints, with the settings.
    """

    store: Storage
    category: str
    engine: Engine
    setup: Callable[[], Any]
    model: str
    names: Mapping[str, Sequence[str]]
    category_name: str
    settings: GenerationSettings
    batch_size: int
    num_shards: int
    storage_options: dict[str, Any] | None = None
    log: Callable[[str], None] = lambda _: None
    report: ShardReport = field(default_factory=ShardReport)

    def __call__(self, rows: list[dict]) -> dict[tuple[str, str], CaptionResult]:
        wanted = [{"image_id": r["image_id"], "entity_id": r["entity_id"]} for r in rows]
        names = {e: list(self.names.get(e, [e])) for e in sorted({r["entity_id"] for r in rows})}
        settings = json.dumps(
            [self.model, asdict(self.settings), self.category_name, names], sort_keys=True
        )
        done = run_model_shards(
            self.store, CAPTION_PARTS, self.category, wanted,
            key=image_entity_key, settings=settings, setup=self.setup,
            work=CaptionWork(names, self.category_name, self.settings, self.batch_size),
            engine=self.engine, num_shards=self.num_shards,
            storage_options=self.storage_options, unit="images", log=self.log,
        )  # fmt: skip
        self.report = done.report
        out = {
            (r["image_id"], r["entity_id"]): CaptionResult(
                r["image_id"], r["text"], r["error"], r["model"], json.loads(r["params"] or "{}")
            )
            for r in done.rows
        }
        for r, why in done.failed:  # counted and excluded, captioned again next time
            out[(r["image_id"], r["entity_id"])] = CaptionResult(r["image_id"], "", error=why)
        return out
