"""A category in storage made from the sample set (real photos with planted problems)."""

from pathlib import Path

import pyarrow as pa
import pytest

from craft_dag.collection.collect_category import IMAGES
from craft_dag.collection.samples import build_sample_set
from craft_dag.storage import Storage

# Model scores come from float32 torch: a shard batches other images than the whole category
# does, and a different batch shape takes other BLAS kernels (summation order), so a score may
# move by a few float32 ulps (eps 1.2e-7) times the accumulation depth; decisions never move.
MODEL_SCORES = ("relevance", "watermark_score", "nsfw")
MODEL_REL = 1e-5

ENTITIES = {f"cat{c}": [f"c{c}_entity{e}" for e in range(2)] for c in range(3)}


def sample_category(root: Path, category: str = "all") -> Storage:
    """One category holding every sample image (several entities), blobs in storage."""
    rows = build_sample_set(root / "samples", ENTITIES, per_category=2, seed=0)
    store = Storage(str(root / "store"))
    images = []
    for r in rows:
        sha = store.put_blob((root / "samples" / r.path).read_bytes())
        images.append({"image_id": sha, "entity_id": r.entity_id})
    # The same bytes under two entities is a planted cross-entity copy: one row per pair.
    images = list({(i["image_id"], i["entity_id"]): i for i in images}.values())
    store.write_table(IMAGES, category, pa.Table.from_pylist(images))
    entities = sorted({i["entity_id"] for i in images})
    store.write_table(
        "entities",
        category,
        pa.Table.from_pylist(
            [
                {
                    "entity_id": e,
                    "native_name": e,
                    "english_name": e,
                    "aliases": [],
                    "queries": [],
                }
                for e in entities
            ]
        ),
    )
    return store


def sorted_rows(table: pa.Table) -> list[dict]:
    rows = table.drop_columns(["thresholds"]).to_pylist()
    return sorted(rows, key=lambda r: (r["image_id"], r["entity_id"]))


def assert_same_rows(a: pa.Table, b: pa.Table) -> None:
    """Same ids, decisions, reasons and scores (floats to the precision Parquet stores)."""
    left, right = sorted_rows(a), sorted_rows(b)
    assert [(r["image_id"], r["entity_id"]) for r in left] == [
        (r["image_id"], r["entity_id"]) for r in right
    ]
    for x, y in zip(left, right, strict=True):
        for k in MODEL_SCORES:
            if x[k] is not None and y[k] is not None:
                assert x[k] == pytest.approx(y[k], rel=MODEL_REL, abs=MODEL_REL), k
                x, y = {**x, k: None}, {**y, k: None}
        assert x == y, {k: (x[k], y[k]) for k in x if x[k] != y[k]}
