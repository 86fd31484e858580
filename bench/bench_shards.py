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

Scoring (``--images``): the baseline is ``score_category`` in this process. Each run is a child
process of this program with one thread per numerical library: in-process and Ray with one
worker pinned to the same single core (Ray's own processes inherit the affinity, so they share
it), then Ray with 2 workers on both cores. Each Ray run starts a local Ray with ``num_cpus`` =
workers, warms its workers on a small category, then scores the stored category (synthetic
photograph-like JPEGs, one in 20 a recompressed copy of another; OCR and the tiny relevance
model on, as ``make demo``'s scorers); parts are cleared so every shard is computed. The
driver's memory is the peak of Python allocations (tracemalloc) and the process's peak RSS
while a category of ``--memory-images`` is scored on Ray: the driver holds ids, scores and
48 px thumbnails, never images.
"""

import argparse
import io
import json
import os
import resource as resource_module
import subprocess
import sys
import time
import tracemalloc
from argparse import SUPPRESS
from dataclasses import dataclass, replace
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

import numpy as np
import pyarrow as pa
from PIL import Image

from bench.harness import (
    ONE_THREAD,
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
COPY_EVERY = 20  # a near-duplicate share of 5 %, grouped across shards by the driver


def _image(rng: np.random.Generator, side: int = 384) -> bytes:
    """A random 6x6 colour field, smoothly enlarged, plus sensor-like noise.

    Passes the CPU rules like a photo would, and each has its own layout, so its own hashes:
    smooth fields that vary along one axis only would all chain into one near-duplicate group,
    which no real category is.
    """
    grid = rng.uniform(20, 235, (6, 6, 3)).astype(np.uint8)
    field = np.asarray(Image.fromarray(grid).resize((side, side), Image.BICUBIC), np.float64)
    pixels = (field + rng.normal(0, 10, field.shape)).clip(0, 255)
    return _jpeg(Image.fromarray(pixels.astype(np.uint8)), 90)


def _jpeg(image: Image.Image, quality: int) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality)
    return out.getvalue()


def _copy(data: bytes) -> bytes:
    """A near-duplicate as the web has them: the same picture smaller and recompressed."""
    image = Image.open(io.BytesIO(data))
    return _jpeg(image.resize((image.width * 4 // 5, image.height * 4 // 5)), 70)


def build_category(root: Path, n: int, seed: int = 0) -> Storage:
    """``n`` images of 20 entities; one in every ``COPY_EVERY`` a copy of an earlier one."""
    store = Storage(str(root))
    rng = np.random.default_rng(seed)
    recent: list[bytes] = []  # the last few pictures, to copy from
    rows = []
    for i in range(n):
        copy = i % COPY_EVERY == COPY_EVERY - 1 and len(recent) >= 7
        data = _copy(recent[-7]) if copy else _image(rng)
        recent = [*recent[-7:], data]
        rows.append({"image_id": store.put_blob(data), "entity_id": f"e{i % 20}"})
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


def _scorers(ocr: str) -> tuple[CurationScorersResource, Any]:
    resource = CurationScorersResource(ocr=ocr)
    return resource, resource.scorers("ru", warn=say)


def run_in_process(store: Storage, ocr: str) -> float:
    _, scorers = _scorers(ocr)
    thresholds = effective(CurationPolicy(), CATEGORY)
    return timed(lambda: score_category(store, CATEGORY, thresholds, scorers))[0]


def run_ray(store: Storage, warm: Storage, workers: int, shards: int, ocr: str) -> float:
    """Seconds of one sharded scoring of ``store`` on a local Ray of ``workers`` CPUs.

    The workers are warmed first on the small category ``warm`` (each builds its scorers
    once, as a long-lived cluster's would have); the parts are cleared so every shard runs.
    """
    import ray

    resource, scorers = _scorers(ocr)
    thresholds = effective(CurationPolicy(), CATEGORY)
    engine = RayEngine(num_cpus=workers, object_store_memory=200 * 1024 * 1024)
    engine.ensure()
    try:

        def once(on: Storage) -> None:
            _clear_parts(on)
            score_category_sharded(
                on, CATEGORY, thresholds, scorers, engine, num_shards=shards,
                shard_scorers=ShardScorers.of(resource, "ru"),
            )  # fmt: skip

        once(warm)
        return timed(lambda: once(store))[0]
    finally:
        ray.shutdown()


def driver_peak(store: Storage, shards: int, ocr: str) -> float:
    """Peak MiB of the driver's Python allocations (tracemalloc) scoring ``store`` on Ray."""
    import ray

    resource, scorers = _scorers(ocr)
    engine = RayEngine(num_cpus=2, object_store_memory=200 * 1024 * 1024)
    engine.ensure()
    try:
        _clear_parts(store)
        tracemalloc.start()
        score_category_sharded(
            store, CATEGORY, effective(CurationPolicy(), CATEGORY), scorers, engine,
            num_shards=shards, shard_scorers=ShardScorers.of(resource, "ru"),
        )  # fmt: skip
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        return peak / 2**20
    finally:
        ray.shutdown()


def warm_path(store: Path) -> Path:
    """Where the small category that warms a Ray run's workers sits, beside ``store``."""
    return store.with_name(store.name + "-warm")


def score_run(args: argparse.Namespace) -> int:
    """One scoring run in this (child) process; prints its figures as JSON on stdout."""
    store = Storage(str(args.store))
    if args.score_run == "in-process":
        figures = {"seconds": run_in_process(store, args.ocr)}
    elif args.score_run == "ray":
        warm = Storage(str(warm_path(args.store)))
        figures = {"seconds": run_ray(store, warm, args.workers, args.shards, args.ocr)}
    else:
        figures = {"driver_peak_mib": driver_peak(store, args.shards, args.ocr)}
    figures["max_rss_mib"] = resource_module.getrusage(resource_module.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(figures))
    return 0


def in_child(run: str, store: Path, *, workers: int, shards: int, ocr: str) -> dict[str, float]:
    """``score_run`` in a fresh process: one thread per library, and on one core if one worker.

    Pinned, the in-process path and the whole of Ray (driver, raylet and its worker inherit
    the affinity) get the same single core, so their ratio is Ray's overhead on one worker.
    """
    command = [
        sys.executable, "-m", "bench.bench_shards", "--score-run", run, "--store", str(store),
        "--workers", str(workers), "--shards", str(shards), "--ocr", ocr,
    ]  # fmt: skip
    core = max(os.sched_getaffinity(0))
    done = subprocess.run(
        command,
        env={**os.environ, **ONE_THREAD},
        preexec_fn=(lambda: os.sched_setaffinity(0, {core})) if workers == 1 else None,
        stdout=subprocess.PIPE,
        check=True,
        text=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


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
    say(f"building {args.images} images")
    build_category(work / "a", args.images)
    build_category(warm_path(work / "a"), 2 * args.shards, seed=2)  # a few images per shard
    kw = {"shards": args.shards, "ocr": "on"}
    local = in_child("in-process", work / "a", workers=1, **kw)["seconds"]
    say(f"in process, one core: {local:.1f} s")
    one = in_child("ray", work / "a", workers=1, **kw)["seconds"]
    say(f"Ray, 1 worker on the same core: {one:.1f} s")
    two = in_child("ray", work / "a", workers=2, **kw)["seconds"]
    say(f"Ray, 2 workers: {two:.1f} s")
    say(f"building {args.memory_images} images for the memory figure")
    build_category(work / "b", args.memory_images, seed=1)
    memory_shards = max(args.shards, args.memory_images // 250)
    memory = in_child("memory", work / "b", workers=2, shards=memory_shards, ocr="off")
    m = machine()
    return "\n".join(
        [
            SECTION,
            "",
            f"`{args.command}` on {m['nproc']} cores ({m['cpu']}, Python {m['python']}); one "
            f"run each, each in its own process with one thread per numerical library. "
            f"{args.images} images (synthetic photograph-like JPEGs, one in {COPY_EVERY} a "
            f"smaller recompressed copy of another), {args.shards} shards, OCR and the tiny "
            "relevance model on (the demo's scorers). The in-process run and the 1-worker run "
            "are pinned to the same single core (the whole of Ray with it: driver, raylet, "
            "worker); the 2-worker run has both cores.",
            "",
            "| run | seconds | images/s | ratio |",
            "|---|---:|---:|---:|",
            f"| in-process, one core (baseline) | {local:.2f} | {args.images / local:.1f} | 1.00 |",
            f"| Ray, 1 worker, same core | {one:.2f} | {args.images / one:.1f} | "
            f"{local / one:.2f} |",
            f"| Ray, 2 workers | {two:.2f} | {args.images / two:.1f} | {local / two:.2f} |",
            "",
            f"2 workers over 1: **{one / two:.2f}x** (target >= 1.7x). Ray's overhead on one "
            f"worker over in-process: **{100 * (one / local - 1):+.1f} %** (target <= 10 %).",
            "",
            f"Driver memory scoring {args.memory_images:,} images on Ray (2 workers, "
            f"{memory_shards} shards, cheap path and the tiny relevance model, OCR off: it "
            f"runs on the workers): peak Python allocations (tracemalloc) "
            f"**{memory['driver_peak_mib']:.1f} MiB**, the process's peak RSS "
            f"{memory['max_rss_mib']:.0f} MiB (torch, Ray's client and the scorers included). "
            "The driver holds each image's scores and its 48 px crop-screen thumbnail, never "
            "an image.",
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
    # The scoring part runs each of its runs in a child process of this program:
    parser.add_argument("--score-run", choices=("in-process", "ray", "memory"), help=SUPPRESS)
    parser.add_argument("--store", type=Path, help=SUPPRESS)
    parser.add_argument("--workers", type=int, default=1, help=SUPPRESS)
    parser.add_argument("--ocr", default="on", help=SUPPRESS)
    parser.add_argument("--img2dataset-python", type=Path, default=PEER_PYTHON)
    add_out_argument(parser)
    args = parser.parse_args(argv)
    if args.score_run:
        return score_run(args)
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
