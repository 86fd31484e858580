"""A category's work by shard on Ray: fetching against img2dataset, scoring on 1 and 2 workers.

    .venv/bin/python -m bench.bench_shards --out docs/benchmarks.md   # 2,000 and 10,000 URLs,
                                                                      # 2,000 images scored
    .venv/bin/python -m bench.bench_shards --urls 200 --images 60 --memory-images 200  # smoke
    .venv/bin/python -m bench.bench_shards --only fetch               # one part alone

Fetch and verify (``--urls``, each list length in turn): the same photos and loopback server
with its latency model as bench/bench_fetch.py, three ways on the same URL list, one after
another against a freshly started server: ``collect_category`` in this process (the baseline:
every partition before issue 13), ``collect_category_sharded`` on a local Ray of 2 workers,
and img2dataset with 2 processes of 16 threads (its own virtualenv, as in bench_fetch). Ray's
start is outside the timing (a cluster is long-lived; its workers are warmed by a short run
first); img2dataset's process start is inside it, since each of its calls pays it.

Scoring (``--images``): the baseline is ``score_category`` in this process. Each Ray run
starts a local Ray with ``num_cpus`` = workers and scores the same stored category
(synthetic photograph-like JPEGs, OCR and the tiny relevance model on, as ``make demo``'s
scorers); parts are cleared between runs so every shard is computed. The driver's memory is
the peak of Python allocations (tracemalloc) while a category of ``--memory-images`` is scored
on Ray: the driver holds ids and scores, never images.
"""

import argparse
import io
import time
import tracemalloc
from dataclasses import dataclass, replace
from pathlib import Path
from tempfile import TemporaryDirectory

import numpy as np
import pyarrow as pa
from PIL import Image

from bench.harness import (
    PEER_PYTHON,
    ServerProcess,
    add_out_argument,
    command_line,
    machine,
    publish,
    ratio,
    say,
    timed,
)
from craft_dag.collection.collect_category import IMAGES
from craft_dag.curation.policy import CurationPolicy, effective
from craft_dag.curation.score_category import score_category
from craft_dag.parallel.engines import RayEngine
from craft_dag.parallel.scoring import SHARDS_ASSET, score_category_sharded
from craft_dag.resources.curation import CurationScorersResource
from craft_dag.resources.executor import ShardScorers
from craft_dag.storage import Storage

SECTION = "## Sharded scoring on Ray (bench/bench_shards.py)"
FETCH_SECTION = "## Sharded collection on Ray: fetch and verify (bench/bench_shards.py)"
LATENCY_MS = 50.0
CONCURRENCY = 16  # requests in flight per fetching process, as in bench_fetch
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


# --- fetch and verify --------------------------------------------------------------------


def collect_once(
    urls: list[str], work: Path, engine, shards: int, workers: int
) -> tuple[int, float]:
    """One collection of ``urls`` into a new Storage: (rows of raw_images, seconds).

    ``engine`` None: ``collect_category`` in this process with ``CONCURRENCY`` in flight.
    Otherwise by shard, each worker with ``CONCURRENCY`` in flight and the per-host limit
    ``CONCURRENCY * workers`` shared out among them (so ``CONCURRENCY`` each, as img2dataset's
    threads per process).
    """
    from bench.bench_fetch import _craft_config, url_manifest
    from craft_dag.collection.collect_category import CollectLimits, collect_category
    from craft_dag.collection.sources import UrlManifestSource
    from craft_dag.parallel.fetching import collect_category_sharded

    work.mkdir(parents=True, exist_ok=True)
    manifest, entities = url_manifest(urls, work)
    store = Storage(str(work / "store"))
    limits = CollectLimits(per_query=len(urls), per_entity=len(urls))
    source = UrlManifestSource(str(manifest))
    started = time.perf_counter()
    if engine is None:
        config = _craft_config(CONCURRENCY)
        collect_category(CATEGORY, entities, source, config, store, limits, log=lambda _: None)
    else:
        config = replace(_craft_config(CONCURRENCY), per_host_concurrency=CONCURRENCY * workers)
        done = collect_category_sharded(
            CATEGORY, entities, source, config, store, engine, num_shards=shards,
            limits=limits, log=lambda _: None,
        )  # fmt: skip
        if done.report.count("failed"):
            raise RuntimeError(f"shards failed: {done.report.failures()}")
    seconds = time.perf_counter() - started
    return store.read_table(IMAGES, CATEGORY).num_rows, seconds


@dataclass
class FetchRow:
    urls: int
    method: str
    ok: int | None = None
    seconds: float | None = None
    note: str = ""

    @property
    def rate(self) -> float | None:
        return self.ok / self.seconds if self.ok is not None and self.seconds else None


def fetch_part(
    counts: list[int], shards: int, peer: Path, work: Path
) -> tuple[list[FetchRow], list[str]]:
    import ray

    from bench.bench_fetch import WARM_UP, make_images, run_img2dataset
    from craft_dag.parallel.engines import RayEngine

    started = time.perf_counter()
    names = make_images(work / "photos", max(counts), seed=0)
    say(f"made {len(names)} photos in {time.perf_counter() - started:.1f} s")
    server = ServerProcess(work / "photos", LATENCY_MS)
    rows: list[FetchRow] = []
    notes: list[str] = []
    try:
        server.restart()  # started first: its port is in the URLs, kept by every restart
        for n in counts:
            these = names[:n]
            urls = [server.url(f"/img/{name}") for name in these]
            warm = [server.url(f"/warm/{name}") for name in these[:WARM_UP]]

            server.restart()
            collect_once(warm, work / f"{n}-warm-local", None, 1, 1)
            ok, seconds = collect_once(urls, work / f"{n}-local", None, 1, 1)
            rows.append(FetchRow(n, "craft_dag in process (baseline)", ok, seconds))
            say(f"{n} URLs in process: {ok / seconds:.1f} images/s")

            server.restart()
            engine = RayEngine(num_cpus=2, object_store_memory=200 * 1024 * 1024)
            engine.ensure()
            try:
                collect_once(warm, work / f"{n}-warm-ray", engine, shards, 2)  # warm the workers
                ok, seconds = collect_once(urls, work / f"{n}-ray", engine, shards, 2)
            finally:
                ray.shutdown()
            rows.append(FetchRow(n, f"craft_dag on Ray, 2 workers, {shards} shards", ok, seconds))
            say(f"{n} URLs on Ray: {ok / seconds:.1f} images/s")

            server.restart()
            peer_run = run_img2dataset(server, these, work / f"{n}-i2d", peer, 2, CONCURRENCY, 1)
            if peer_run.error:
                rows.append(
                    FetchRow(n, "img2dataset, 2 processes x 16 threads", note=peer_run.error)
                )
            else:
                rows.append(
                    FetchRow(
                        n, "img2dataset, 2 processes x 16 threads", peer_run.ok, peer_run.seconds
                    )
                )
                notes += [f"{n} URLs: {note}" for note in peer_run.notes]
            say(f"{n} URLs img2dataset: {rows[-1].rate or rows[-1].note}")
    finally:
        server.stop()
    return rows, notes


def fetch_text(rows: list[FetchRow], notes: list[str], command: str, shards: int) -> str:
    m = machine()
    lines = [
        FETCH_SECTION,
        "",
        f"`{command}` on {m['nproc']} cores ({m['cpu']}, Python {m['python']}); one run each. "
        f"The photos and server of bench_fetch (800-1200 px JPEGs, a loopback server that "
        f"waits {LATENCY_MS:g} ms before each answer); {CONCURRENCY} requests in flight per "
        "fetching process.",
        "",
        "| URLs | method | images ok | seconds | images/s | ratio to img2dataset |",
        "|---:|---|---:|---:|---:|---:|",
    ]
    verdicts = []
    for n in sorted({r.urls for r in rows}):
        group = [r for r in rows if r.urls == n]
        peer = next((r.rate for r in group if r.method.startswith("img2dataset")), None)
        for r in group:
            if r.rate is None:
                lines.append(f"| {n:,} | {r.method} | {r.note} | | | |")
                continue
            lines.append(
                f"| {n:,} | {r.method} | {r.ok} | {r.seconds:.2f} | {r.rate:.1f} | "
                f"{ratio(r.rate, peer)} |"
            )
        ray_rate = next((r.rate for r in group if "on Ray" in r.method), None)
        if ray_rate and peer:
            verdict = "met" if ray_rate >= peer else "not met"
            verdicts.append(
                f"{n:,} URLs: craft_dag on Ray {ray_rate / peer:.2f}x img2dataset ({verdict})"
            )
    lines += ["", "Target (craft_dag on Ray with 2 workers >= img2dataset with 2 processes): "
              + "; ".join(verdicts) + ".", ""]  # fmt: skip
    lines += [f"- {n}" for n in notes]
    lines.append("")
    return "\n".join(lines)


# --- scoring ------------------------------------------------------------------------------


def score_part(args: argparse.Namespace, work: Path) -> str:
    resource = CurationScorersResource(ocr="on")
    say(f"building {args.images} images")
    store = build_category(work / "a", args.images)
    local = run_in_process(store, resource)
    one = run_ray(store, 1, args.shards, resource)
    two = run_ray(store, 2, args.shards, resource)
    say(f"building {args.memory_images} images for the memory figure")
    big = build_category(work / "b", args.memory_images, seed=1)
    peak = driver_peak(big, resource, max(args.shards, args.memory_images // 250))
    m = machine()
    return "\n".join(
        [
            SECTION,
            "",
            f"`{args.command}` on {m['nproc']} cores ({m['cpu']}, Python {m['python']}); "
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--urls", default="2000,10000", help="URL list lengths to fetch")
    parser.add_argument("--images", type=int, default=2000)
    parser.add_argument("--memory-images", type=int, default=10000)
    parser.add_argument("--shards", type=int, default=8)
    parser.add_argument("--only", choices=("fetch", "score"), help="run one part alone")
    parser.add_argument("--img2dataset-python", type=Path, default=PEER_PYTHON)
    add_out_argument(parser)
    args = parser.parse_args(argv)
    args.command = command_line("bench.bench_shards", argv)
    counts = [int(c) for c in args.urls.split(",") if c.strip()]
    with TemporaryDirectory(prefix="craft-bench-shards-") as tmp:
        if args.only != "score":
            rows, notes = fetch_part(counts, args.shards, args.img2dataset_python, Path(tmp) / "f")
            publish(fetch_text(rows, notes, args.command, args.shards), args.out, FETCH_SECTION)
        if args.only != "fetch":
            publish(score_part(args, Path(tmp) / "s"), args.out, SECTION)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
