"""Image scoring by shard on Ray: 1 vs 2 workers, Ray vs in-process, and the driver's memory.

    .venv/bin/python -m bench.bench_shards --out docs/benchmarks.md             # 2,000 images
    .venv/bin/python -m bench.bench_shards --images 60 --memory-images 200      # a smoke run

The baseline, in the same run: ``score_category`` in this process (what every partition did
before issue 13). Each Ray run starts a local Ray with ``num_cpus`` = workers and scores the
same stored category (synthetic photographs-like JPEGs, OCR and the tiny relevance model on,
as ``make demo``'s scorers); parts are cleared between runs so every shard is computed.
The driver's memory is the peak of Python allocations (tracemalloc) while a category of
``--memory-images`` is scored on Ray: the driver holds ids and scores, never images.

Not yet here (issue 13): the fetch-and-verify comparison with img2dataset at 2,000 and 10,000
URLs.
"""

import argparse
import io
import tracemalloc
from pathlib import Path
from tempfile import TemporaryDirectory

import numpy as np
import pyarrow as pa
from PIL import Image

from bench.harness import add_out_argument, machine, publish, say, timed
from craft_dag.collection.collect_category import IMAGES
from craft_dag.curation.policy import CurationPolicy, effective
from craft_dag.curation.score_category import score_category
from craft_dag.parallel.engines import RayEngine
from craft_dag.parallel.scoring import SHARDS_ASSET, score_category_sharded
from craft_dag.resources.curation import CurationScorersResource
from craft_dag.resources.executor import ShardScorers
from craft_dag.storage import Storage

SECTION = "## Sharded scoring on Ray (bench/bench_shards.py)"
CATEGORY = "bench"


def _image(rng: np.random.Generator, side: int = 384) -> bytes:
    """Smooth colour fields plus mild noise: passes the CPU rules like a photo would."""
    y, x = np.mgrid[0:side, 0:side] / side
    base = np.stack([np.sin(x * rng.uniform(2, 9) + rng.uniform(0, 6)) for _ in range(3)], -1)
    pixels = (127 + 100 * base * (0.5 + y[..., None]) + rng.normal(0, 12, base.shape)).clip(0, 255)
    out = io.BytesIO()
    Image.fromarray(pixels.astype(np.uint8)).save(out, "JPEG", quality=90)
    return out.getvalue()


def build_category(root: Path, n: int, seed: int = 0) -> Storage:
    store = Storage(str(root))
    rng = np.random.default_rng(seed)
    rows = [{"image_id": store.put_blob(_image(rng)), "entity_id": f"e{i % 20}"} for i in range(n)]
    store.write_table(IMAGES, CATEGORY, pa.Table.from_pylist(rows))
    entities = sorted({r["entity_id"] for r in rows})
    store.write_table(
        "entities",
        CATEGORY,
        pa.Table.from_pylist(
            [
                {"entity_id": e, "native_name": e, "english_name": e, "aliases": [], "queries": []}
                for e in entities
            ]
        ),
    )
    return store


def _clear_parts(store: Storage) -> None:
    folder = store.file_path(SHARDS_ASSET, CATEGORY)
    if store.fs.exists(folder):
        store.fs.rm(folder, recursive=True)


def run_ray(store: Storage, workers: int, shards: int, resource: CurationScorersResource) -> float:
    import ray

    _clear_parts(store)
    engine = RayEngine(num_cpus=workers, object_store_memory=200 * 1024 * 1024)
    engine.ensure()
    try:
        thresholds = effective(CurationPolicy(), CATEGORY)
        # Warm the workers (model load once per worker), then time a clean run.
        score_category_sharded(
            store, CATEGORY, thresholds, resource.scorers("ru", warn=say), engine,
            num_shards=shards, shard_scorers=ShardScorers.of(resource, "ru"),
        )  # fmt: skip
        _clear_parts(store)
        return timed(
            lambda: score_category_sharded(
                store, CATEGORY, thresholds, resource.scorers("ru", warn=say), engine,
                num_shards=shards, shard_scorers=ShardScorers.of(resource, "ru"),
            )
        )[0]  # fmt: skip
    finally:
        ray.shutdown()


def run_in_process(store: Storage, resource: CurationScorersResource) -> float:
    scorers = resource.scorers("ru", warn=say)
    thresholds = effective(CurationPolicy(), CATEGORY)
    return timed(lambda: score_category(store, CATEGORY, thresholds, scorers))[0]


def driver_peak(store: Storage, resource: CurationScorersResource, shards: int) -> float:
    import ray

    engine = RayEngine(num_cpus=2, object_store_memory=200 * 1024 * 1024)
    engine.ensure()
    try:
        tracemalloc.start()
        score_category_sharded(
            store, CATEGORY, effective(CurationPolicy(), CATEGORY), resource.scorers("ru", warn=say),
            engine, num_shards=shards, shard_scorers=ShardScorers.of(resource, "ru"),
        )  # fmt: skip
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        return peak / 2**20
    finally:
        ray.shutdown()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=2000)
    parser.add_argument("--memory-images", type=int, default=10000)
    parser.add_argument("--shards", type=int, default=8)
    add_out_argument(parser)
    args = parser.parse_args(argv)
    resource = CurationScorersResource(ocr="on")
    with TemporaryDirectory() as tmp:
        say(f"building {args.images} images")
        store = build_category(Path(tmp) / "a", args.images)
        local = run_in_process(store, resource)
        one = run_ray(store, 1, args.shards, resource)
        two = run_ray(store, 2, args.shards, resource)
        say(f"building {args.memory_images} images for the memory figure")
        big = build_category(Path(tmp) / "b", args.memory_images, seed=1)
        peak = driver_peak(big, resource, max(args.shards, args.memory_images // 250))
    m = machine()
    command = "python -m bench.bench_shards" + (
        "" if (args.images, args.memory_images) == (2000, 10000)
        else f" --images {args.images} --memory-images {args.memory_images}"
    )  # fmt: skip
    text = "\n".join(
        [
            SECTION,
            "",
            f"`{command}` on {m['nproc']} cores ({m['cpu']}, Python {m['python']}); "
            f"{args.images} images, {args.shards} shards, OCR and the tiny relevance model.",
            "",
            "| run | seconds | images/s | ratio |",
            "|---|---:|---:|---:|",
            f"| in-process (baseline) | {local:.2f} | {args.images / local:.1f} | 1.00 |",
            f"| Ray, 1 worker | {one:.2f} | {args.images / one:.1f} | {local / one:.2f} |",
            f"| Ray, 2 workers | {two:.2f} | {args.images / two:.1f} | {local / two:.2f} |",
            "",
            f"2 workers over 1: **{one / two:.2f}x** (target >= 1.7x). Ray's overhead on one "
            f"worker over in-process: **{100 * (one / local - 1):+.1f} %** (target <= 10 %).",
            f"Driver peak Python allocations scoring {args.memory_images} images on Ray: "
            f"**{peak:.1f} MiB**.",
            "",
        ]
    )
    publish(text, args.out, SECTION)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
