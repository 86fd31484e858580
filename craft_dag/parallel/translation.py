"""Caption translation by shard: the translator loaded once per worker, raw output as parts.

``ShardedTranslations`` is the ``translate_rows`` hook of ``translate_category``: the captions
that need the model are split by a hash of (image, entity); each missing or stale shard runs
the translator (given the glossary where the backend takes it during generation, as in
process) on the engine's workers and writes the model's raw output. The glossary post-edit,
the checks and the quality signals then run once, on the driver, exactly as in process. A row
of a failed shard stays in the table, not trainable, with the shard's error as its reason.
"""

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from craft_dag.parallel.engines import Engine
from craft_dag.parallel.model_shards import image_entity_key, run_model_shards
from craft_dag.parallel.shards import ShardReport
from craft_dag.storage import Storage
from craft_dag.translation.translate_category import RowTranslations
from craft_dag.translation.translator import raw_translations

TRANSLATION_PARTS = "translated_captions_shards"
PART_SCHEMA = pa.schema(
    [
        ("image_id", pa.string()),
        ("entity_id", pa.string()),
        ("raw", pa.string()),
        ("backend", pa.string()),
        ("model", pa.string()),
    ]
)


@dataclass(frozen=True)
class TranslateWork:
    """One shard's captions through the translator on a worker, in the in-process batches."""

    settings: Any  # TranslationSettings
    matcher: Any  # GlossaryMatcher: given to backends that take a glossary while generating

    def __call__(self, translator: Any, store: Storage, rows: list[dict]) -> pa.Table:
        raw = raw_translations(
            translator, [r["caption"] for r in rows], self.settings, self.matcher
        )
        return pa.Table.from_pylist(
            [
                {
                    "image_id": r["image_id"],
                    "entity_id": r["entity_id"],
                    "raw": text,
                    "backend": translator.name,
                    "model": translator.model,
                }
                for r, text in zip(rows, raw, strict=True)
            ],
            schema=PART_SCHEMA,
        )


@dataclass
class ShardedTranslations:
    """``translate_category(translate_rows=...)`` by shard on ``engine``; ``report`` after.

    ``setup`` is a picklable factory of the translator (built on each worker); ``model``
    describes it for the parts' fingerprints, with the settings and the glossary.
    """

    store: Storage
    category: str
    engine: Engine
    setup: Callable[[], Any]
    model: str
    settings: Any
    matcher: Any
    num_shards: int
    storage_options: dict[str, Any] | None = None
    log: Callable[[str], None] = lambda _: None
    report: ShardReport = field(default_factory=ShardReport)

    def __call__(self, rows: list[dict]) -> RowTranslations:
        wanted = [
            {"image_id": r["image_id"], "entity_id": r["entity_id"], "caption": r["caption"]}
            for r in rows
        ]
        settings = json.dumps(
            [self.model, repr(self.settings), self.matcher.fingerprint()], sort_keys=True
        )
        done = run_model_shards(
            self.store, TRANSLATION_PARTS, self.category, wanted,
            # An edited caption reruns its shard: the caption is in the part's fingerprint.
            key=image_entity_key, content=lambda r: f"{image_entity_key(r)}\0{r['caption']}",
            settings=settings,
            setup=self.setup,
            work=TranslateWork(self.settings, self.matcher), engine=self.engine,
            num_shards=self.num_shards, storage_options=self.storage_options,
            unit="captions", log=self.log,
        )  # fmt: skip
        self.report = done.report
        found = RowTranslations({(r["image_id"], r["entity_id"]): r["raw"] for r in done.rows})
        if done.rows:
            found.backend, found.model = done.rows[0]["backend"], done.rows[0]["model"]
        for r, why in done.failed:  # kept, not trainable, translated again next time
            found.failed[(r["image_id"], r["entity_id"])] = why
        return found
