"""Benchmark: fetch-and-verify throughput of image collection (not a test).

Run from the repository root::

    .venv/bin/python -m bench.bench_fetch [--images N] [--latency MS] [--out docs/benchmarks.md]

It makes N distinct real JPEG photos (800-1200 px on the long side, variations of the photos
scikit-image bundles, through the demo's sample-set builder), serves them from a loopback HTTP
server (127.0.0.1, an ephemeral port, a separate process that waits ``--latency`` ms before every
answer, as a remote server would), and times three ways of fetching and verifying the same URL
list, each after a warm-up and against a freshly started server (craft_dag and img2dataset
``--repeat`` times, the median run reported):

- ``naive``: a sequential loop, one httpx.Client, ``Image.open(...).load()`` on every body;
- ``craft_dag``: ``collect_category`` over a ``UrlManifestSource`` of the URLs (fetch, magic
  bytes, Pillow decode under the pixel limit, sha256 content-addressed blobs, Parquet tables);
- ``img2dataset``: its Python API, in a subprocess of a separate virtualenv (``.venv-bench``,
  or ``--img2dataset-python``), so its dependency pins never touch the project's environment.

Nothing here connects anywhere but 127.0.0.1: every client is told to ignore proxy settings.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import math
import os
import random
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from bench.harness import (
    PEER_PYTHON,
    ServerProcess,
    add_out_argument,
    command_line,
    loopback_env,
    machine,
    measured,
    peer_available,
    publish,
    ratio,
    run_peer_program,
    say,
    shown,
)
from bench.harness.server import serve

UA = "craft_dag-bench/1 (+https://github.com/craft-dag/craft_dag)"
CATEGORY = "bench"
ENTITIES = 10
WARM_UP = 16  # URLs fetched (under another path) before each timed run
SECTION = "## Image collection: fetch and verify"


# --- the images ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Draw:
    """How one photo is made from a base: all random choices, drawn in order from the seed."""

    base: int
    scale: float  # the box's size, as a fraction of the base's
    across: float  # where the box's centre lies in its allowed range, 0-1
    down: float
    degrees: float
    long_side: int
    mirror: bool
    quality: int


def _render(base, draw: _Draw) -> bytes:  # base: PIL.Image.Image
    """One JPEG: a box of the base, turned by a few degrees and scaled in one affine pass."""
    from PIL import Image

    width, height = base.size
    box_w, box_h = width * draw.scale, height * draw.scale
    # Centres stay 10% clear of the edges: the turned box never reaches outside the photo.
    low_x, high_x = 0.1 * width + box_w / 2, 0.9 * width - box_w / 2
    low_y, high_y = 0.1 * height + box_h / 2, 0.9 * height - box_h / 2
    centre_x = low_x + draw.across * (high_x - low_x)
    centre_y = low_y + draw.down * (high_y - low_y)
    factor = draw.long_side / max(box_w, box_h)
    out_w, out_h = round(box_w * factor), round(box_h * factor)
    angle = math.radians(draw.degrees)
    cos, sin = math.cos(angle) / factor, math.sin(angle) / factor
    matrix = (  # output pixel -> base pixel
        cos,
        -sin,
        centre_x - cos * out_w / 2 + sin * out_h / 2,
        sin,
        cos,
        centre_y - sin * out_w / 2 - cos * out_h / 2,
    )
    image = base.transform(
        (out_w, out_h), Image.Transform.AFFINE, matrix, Image.Resampling.BILINEAR
    )
    if draw.mirror:
        image = image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=draw.quality)
    return buffer.getvalue()


def make_images(dest: Path, n: int, seed: int) -> list[str]:
    """``n`` distinct JPEG photos, 800-1200 px on the long side, written to ``dest``; their names.

    The bases are the clean photos of a demo sample set (real photos bundled with scikit-image);
    each image is a different turned, cropped, scaled and maybe mirrored view of one of them.
    """
    from PIL import Image

    from craft_dag.collection.samples import build_sample_set

    samples = dest.parent / "samples"
    entities = {f"c{c}": [f"e{c}{i}" for i in range(2)] for c in range(6)}
    bases = []
    for row in build_sample_set(samples, entities, per_category=2, seed=seed):
        if row.planted == "none":
            with Image.open(samples / row.path) as opened:
                bases.append(opened.convert("L" if opened.mode == "L" else "RGB"))
    rng = random.Random(seed)
    dest.mkdir(parents=True, exist_ok=True)
    names: list[str] = []
    seen: set[str] = set()
    with ThreadPoolExecutor(max(1, os.cpu_count() or 1)) as pool:  # Pillow releases the GIL
        while len(names) < n:
            draws = [
                _Draw(
                    base=(len(names) + i) % len(bases),
                    scale=rng.uniform(0.6, 0.8),
                    across=rng.random(),
                    down=rng.random(),
                    degrees=rng.uniform(-6, 6),
                    long_side=rng.randint(800, 1200),
                    mirror=rng.random() < 0.5,
                    quality=rng.randint(85, 92),
                )
                for i in range(n - len(names))
            ]
            for data in pool.map(lambda d: _render(bases[d.base], d), draws):
                digest = hashlib.sha256(data).hexdigest()
                if digest in seen:
                    continue  # never seen yet; drawn again in the next round if it happens
                seen.add(digest)
                name = f"photo_{len(names):05d}.jpg"
                (dest / name).write_bytes(data)
                names.append(name)
    return names


# --- the three methods -----------------------------------------------------------------------


@dataclass
class Result:
    method: str
    runs: list[tuple[int, float]] = field(default_factory=list)  # (images ok, seconds) per run
    error: str = ""  # set when the method could not run
    requests: int | None = None  # requests the server saw in the timed runs
    peak: int | None = None  # most requests in flight at once, as the server saw them
    notes: list[str] = field(default_factory=list)
    steady_rate: float | None = None  # img2dataset: images/s of its shards alone
    startup: float | None = None  # img2dataset: seconds of the call outside its shards

    @property
    def median(self) -> int | None:
        """Index in ``runs`` of the median run by images/s."""
        if not self.runs:
            return None
        order = sorted(range(len(self.runs)), key=lambda i: self.runs[i][0] / self.runs[i][1])
        return order[len(order) // 2]

    @property
    def ok(self) -> int | None:
        return None if self.median is None else self.runs[self.median][0]

    @property
    def seconds(self) -> float | None:
        return None if self.median is None else self.runs[self.median][1]

    @property
    def rate(self) -> float | None:
        if self.ok is None or not self.seconds:
            return None
        return self.ok / self.seconds

    def all_rates(self) -> str:
        return ", ".join(f"{ok / seconds:.1f}" for ok, seconds in self.runs)


def run_naive(server: ServerProcess, names: list[str]) -> Result:
    """The baseline: one request after another, each body decoded by Pillow."""
    import httpx
    from PIL import Image

    result = Result("naive")

    def fetch_and_decode(client: httpx.Client, url: str) -> bool:
        try:
            response = client.get(url)
            response.raise_for_status()
            with Image.open(io.BytesIO(response.content)) as image:
                image.load()
            return True
        except (httpx.HTTPError, OSError, SyntaxError, ValueError):
            return False

    with httpx.Client(trust_env=False, timeout=30, headers={"User-Agent": UA}) as client:
        for name in names[:WARM_UP]:
            fetch_and_decode(client, server.url(f"/warm/{name}"))
        server.stats(reset=True)
        start = time.perf_counter()
        ok = sum(fetch_and_decode(client, server.url(f"/img/{name}")) for name in names)
        result.runs.append((ok, time.perf_counter() - start))
    return result


def _craft_config(concurrency: int):  # -> DownloaderConfig
    from craft_dag.collection.downloader import DownloaderConfig

    return DownloaderConfig(
        user_agent=UA,
        allow_networks=("127.0.0.1/32",),
        respect_robots=True,
        concurrency=concurrency,
        per_host_concurrency=concurrency,
        per_host_rate=0,
    )


def url_manifest(urls: list[str], work: Path) -> tuple[Path, list]:
    """``urls`` as a manifest CSV in ``work``, round-robin over ``ENTITIES`` entities."""
    from craft_dag.collection.records import EntityRef

    manifest = work / "urls.csv"
    with manifest.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["entity_id", "url"])
        writer.writerows((f"e{i % ENTITIES}", url) for i, url in enumerate(urls))
    entities = [
        EntityRef(f"e{i}", CATEGORY, f"e{i}", f"entity {i}", (f"e{i}",)) for i in range(ENTITIES)
    ]
    return manifest, entities


def _collect(urls: list[str], work: Path, concurrency: int) -> tuple[int, float, dict[str, int]]:
    """One collect_category run into a new Storage under ``work``: (stored, seconds, outcomes)."""
    from craft_dag.collection.collect_category import IMAGES, CollectLimits, collect_category
    from craft_dag.collection.sources import UrlManifestSource
    from craft_dag.storage import Storage

    work.mkdir(parents=True)
    manifest, entities = url_manifest(urls, work)
    storage = Storage(str(work / "store"))
    # The per-entity quota (default 40) bounds a manifest's rows per entity: lift it.
    limits = CollectLimits(per_query=len(urls), per_entity=len(urls))
    start = time.perf_counter()
    outcome = collect_category(
        CATEGORY,
        entities,
        UrlManifestSource(str(manifest)),
        _craft_config(concurrency),
        storage,
        limits,
        log=lambda _line: None,
    )
    seconds = time.perf_counter() - start
    stored = storage.read_table(IMAGES, CATEGORY).num_rows
    blobs = len(storage.fs.find(f"{storage._root}/blobs"))
    if blobs != stored:
        raise RuntimeError(f"craft_dag stored {stored} rows but {blobs} blobs")
    return stored, seconds, dict(outcome.outcomes)


def run_craft(
    server: ServerProcess, names: list[str], work: Path, concurrency: int, repeat: int
) -> Result:
    result = Result("craft_dag")
    _collect([server.url(f"/warm/{n}") for n in names[:WARM_UP]], work / "warm", concurrency)
    server.stats(reset=True)
    for i in range(repeat):
        urls = [server.url(f"/img/{n}") for n in names]
        stored, seconds, outcomes = _collect(urls, work / f"run{i}", concurrency)
        result.runs.append((stored, seconds))
        failures = {k: v for k, v in outcomes.items() if k != "ok" and v}
        if failures:
            result.notes.append(f"craft_dag failures in run {i + 1}: {failures}")
    return result


# img2dataset runs in its own interpreter; this is the whole program it is given.
_I2D_DRIVER = r"""
import glob, json, sys, time, urllib.request
from importlib.metadata import version
from img2dataset import download

p = json.loads(sys.argv[1])

def run(url_list, out):
    start = time.perf_counter()
    download(
        url_list=url_list, input_format="txt", output_folder=out, output_format="files",
        processes_count=p["processes"], thread_count=p["threads"],
        number_sample_per_shard=p["shard_size"], resize_mode="no", skip_reencode=True,
        encode_format="jpg", timeout=30, retries=0, enable_wandb=False,
        user_agent_token=p["ua_token"],
    )
    seconds = time.perf_counter() - start
    stats = []
    for name in glob.glob(out + "/*_stats.json"):
        with open(name) as handle:
            stats.append(json.load(handle))
    errors = {}
    for s in stats:
        for k, v in s["status_dict"].items():
            if k != "success":
                errors[k] = errors.get(k, 0) + v
    span = max(s["end_time"] for s in stats) - min(s["start_time"] for s in stats)
    return {
        "seconds": seconds,
        "successes": sum(s["successes"] for s in stats),
        "shard_span": span if stats else None,
        "files": len(glob.glob(out + "/*/*.jpg")),
        "errors": errors,
    }

warm = run(p["warm_list"], p["out"] + "-warm")
no_proxy = urllib.request.build_opener(urllib.request.ProxyHandler({}))
no_proxy.open(p["stats_reset_url"], timeout=10).read()
runs = [run(p["url_list"], p["out"] + f"-{i}") for i in range(p["repeat"])]
print("I2D_RESULT " + json.dumps({"version": version("img2dataset"), "warm": warm, "runs": runs}))
"""


def run_img2dataset(
    server: ServerProcess,
    names: list[str],
    work: Path,
    python: Path,
    processes: int,
    threads: int,
    repeat: int,
) -> Result:
    result = Result("img2dataset")
    env = loopback_env(WANDB_MODE="disabled", WANDB_SILENT="true")
    result.error = peer_available(python, "img2dataset", env=env)
    if result.error:
        return result
    work.mkdir(parents=True)
    url_list, warm_list = work / "urls.txt", work / "warm.txt"
    url_list.write_text("".join(server.url(f"/img/{n}") + "\n" for n in names))
    warm_list.write_text("".join(server.url(f"/warm/{n}") + "\n" for n in names[:WARM_UP]))
    params = {
        "url_list": str(url_list),
        "warm_list": str(warm_list),
        "out": str(work / "out"),
        "repeat": repeat,
        "processes": processes,
        "threads": threads,
        # One shard per process: with the default 10,000 a short list is one shard, so one process.
        "shard_size": max(1, -(-len(names) // processes)),
        "ua_token": "craft_dag-bench",
        "stats_reset_url": server.url("/__stats?reset=1"),
    }
    done = run_peer_program(
        python,
        _I2D_DRIVER,
        params,
        marker="I2D_RESULT",
        cwd=work,
        env=env,
        timeout=600,
        log=work / "img2dataset.log",
    )
    answer = done.answer
    if answer is None:
        result.error = done.failure("img2dataset", lines=5)
        return result
    runs = answer["runs"]
    result.runs = [(r["successes"], r["seconds"]) for r in runs]
    median = runs[result.median or 0]
    result.notes.append(f"img2dataset {answer['version']}, run by {shown(python)}")
    if median["shard_span"]:
        result.steady_rate = median["successes"] / median["shard_span"]
        result.startup = median["seconds"] - median["shard_span"]
        result.notes.append(
            f"img2dataset (median run): {median['seconds']:.2f} s for the `download()` call, of "
            f"which {median['shard_span']:.2f} s from its first shard's start to its last one's "
            f"end ({result.steady_rate:.0f} images/s); the other {result.startup:.2f} s start "
            f"its worker and logger processes (the {len(names[:WARM_UP])}-URL warm-up call "
            f"took {answer['warm']['seconds']:.2f} s)"
        )
    for i, r in enumerate(runs):
        if r["errors"]:
            result.notes.append(f"img2dataset failures in run {i + 1}: {r['errors']}")
        if r["files"] != r["successes"]:
            result.notes.append(
                f"img2dataset run {i + 1} wrote {r['files']} files for {r['successes']} successes"
            )
    return result


# --- report ----------------------------------------------------------------------------------


def table(results: list[Result]) -> str:
    by_name = {r.method: r for r in results}
    naive = by_name["naive"].rate
    i2d = by_name["img2dataset"].rate if "img2dataset" in by_name else None
    lines = [
        "| method | images ok | seconds | images/s | ratio to naive | ratio to img2dataset |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in results:
        if r.error:
            lines.append(f"| {r.method} | {r.error} | | | | |")
            continue
        lines.append(
            f"| {r.method} | {r.ok} | {r.seconds:.2f} | {r.rate:.1f} | "
            f"{ratio(r.rate, naive)} | {ratio(r.rate, i2d)} |"
        )
    return "\n".join(lines)


def reading(results: list[Result], latency_ms: float, concurrency: int) -> list[str]:
    """Two lines that say what the table means."""
    by_name = {r.method: r for r in results}
    naive, craft, i2d = by_name["naive"], by_name["craft_dag"], by_name.get("img2dataset")
    if craft.rate is None or naive.rate is None:
        return ["The naive or the craft_dag run did not complete: no reading."]
    first = f"craft_dag stores {craft.rate:.0f} images/s, {craft.rate / naive.rate:.1f}× the sequential loop"
    if i2d is not None and i2d.rate:
        verdict = "met" if craft.rate >= i2d.rate else "not met"
        first += (
            f" and {craft.rate / i2d.rate:.2f}× img2dataset ({i2d.rate:.0f} images/s): the "
            f"target (craft_dag ≥ img2dataset on this machine) is {verdict} at this list length."
        )
    else:
        first += "; img2dataset did not run, so the target could not be checked."
    bound = concurrency / (latency_ms / 1000) if latency_ms else float("inf")
    limit = (
        "latency"
        if craft.rate >= 0.8 * bound
        else f"CPU, not latency ({concurrency} requests in flight would allow {bound:.0f}/s)"
    )
    second = f"craft_dag is bound by {limit}."
    if i2d is not None and i2d.steady_rate and i2d.startup is not None:
        second += (
            f" img2dataset's time includes {i2d.startup:.1f} s of process start-up; its shards "
            f"alone ran at {i2d.steady_rate:.0f} images/s ({i2d.steady_rate / craft.rate:.1f}× "
            f"craft_dag)"
        )
        if i2d.steady_rate > craft.rate:
            even = i2d.startup / (1 / craft.rate - 1 / i2d.steady_rate)
            second += f", so from about {even:,.0f} URLs on it is faster."
        else:
            second += "."
    return [first, second]


def section(
    command: str,
    results: list[Result],
    info: dict[str, str],
    workload: str,
    settings: list[str],
    read: list[str],
) -> str:
    from importlib.metadata import version

    versions = ", ".join(f"{p} {version(p)}" for p in ("httpx", "httpcore", "pillow", "pyarrow"))
    notes = [n for r in results for n in r.notes]
    runs = "; ".join(f"{r.method} {r.all_rates()}" for r in results if len(r.runs) > 1)
    peaks = "; ".join(
        f"{r.method} {r.peak} (of {r.requests} requests)" for r in results if r.peak is not None
    )
    body = [
        SECTION,
        "",
        f"{measured(info)}, {info['system']}, Python {info['python']}; {versions}.",
        "",
        "```",
        command,
        "```",
        "",
        workload,
        "",
        table(results),
        "",
        "  \n".join(read),
        "",
        "Details:",
        "",
        *(f"- {s}" for s in settings),
        *([f"- images/s of every timed run (the median is in the table): {runs}."] if runs else []),
        f"- Most requests in flight at once, as the server saw them: {peaks}.",
        *(f"- {n}" for n in notes),
        "",
    ]
    return "\n".join(body)


# --- main ------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.bench_fetch",
        description="Fetch-and-verify throughput: a sequential loop, craft_dag and img2dataset.",
    )
    parser.add_argument("--images", type=int, default=300, help="distinct photos (default 300)")
    parser.add_argument(
        "--latency", type=float, default=50.0, help="server wait per request, ms (default 50)"
    )
    add_out_argument(parser)
    parser.add_argument(
        "--repeat",
        type=int,
        default=3,
        help="timed runs of craft_dag and img2dataset; the median is reported (default 3)",
    )
    parser.add_argument(
        "--concurrency", type=int, default=16, help="craft_dag's concurrency (default 16)"
    )
    parser.add_argument(
        "--img2dataset-python",
        type=Path,
        default=PEER_PYTHON,
        help="an interpreter that has img2dataset (default .venv-bench/bin/python)",
    )
    parser.add_argument("--img2dataset-processes", type=int, default=2)
    parser.add_argument("--img2dataset-threads", type=int, default=16)
    parser.add_argument(
        "--skip-img2dataset", action="store_true", help="leave img2dataset out of the run"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--serve", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve is not None:
        serve(args.serve, args.latency, args.port)
        return 0
    if args.images < 1 or args.repeat < 1 or args.concurrency < 1:
        parser.error("--images, --repeat and --concurrency must be at least 1")
    command = command_line("bench.bench_fetch", argv)
    with tempfile.TemporaryDirectory(prefix="craft-bench-fetch-") as tmp:
        work = Path(tmp)
        start = time.perf_counter()
        names = make_images(work / "photos", args.images, args.seed)
        sizes = [(work / "photos" / n).stat().st_size for n in names]
        say(f"made {len(names)} photos in {time.perf_counter() - start:.1f} s")
        server = ServerProcess(work / "photos", args.latency)
        runs = [
            ("naive", lambda: run_naive(server, names)),
            (
                "craft_dag",
                lambda: run_craft(server, names, work / "craft", args.concurrency, args.repeat),
            ),
        ]
        if not args.skip_img2dataset:
            runs.append(
                (
                    "img2dataset",
                    lambda: run_img2dataset(
                        server,
                        names,
                        work / "i2d",
                        args.img2dataset_python,
                        args.img2dataset_processes,
                        args.img2dataset_threads,
                        args.repeat,
                    ),
                )
            )
        results: list[Result] = []
        try:
            for name, run in runs:
                server.restart()  # a fresh server for each method, on the same port
                say(f"{name}: running")
                result = run()
                if not result.error:
                    stats = server.stats()
                    result.requests, result.peak = stats["requests"], stats["peak"]
                    say(f"{name}: images/s of each run: {result.all_rates()}")
                else:
                    say(f"{name}: {result.error}")
                results.append(result)
        finally:
            server.stop()

    if args.skip_img2dataset:
        results.append(Result("img2dataset", error="not available: skipped (--skip-img2dataset)"))
    workload = (
        f"Workload: {len(names)} distinct JPEG photos (variations of the photos bundled with "
        f"scikit-image), 800-1200 px on the long side, {sum(sizes) / len(sizes) / 1024:.0f} KiB "
        f"on average, served from memory by a loopback HTTP/1.1 server (its own process) that "
        f"waits {args.latency:g} ms before each answer. Each method runs after a "
        f"{WARM_UP}-URL warm-up, against a freshly started server; craft_dag and img2dataset "
        f"run {args.repeat} times and the table shows the median run."
    )
    settings = [
        "naive: one httpx.Client (keep-alive), one URL after another, "
        "`Image.open(...).load()` on each body.",
        f"craft_dag: `collect_category` over a `UrlManifestSource` ({ENTITIES} entities, "
        f"round-robin), a new local `Storage` each run, `DownloaderConfig(concurrency="
        f"{args.concurrency}, per_host_concurrency={args.concurrency}, per_host_rate=0, "
        "respect_robots=True, allow_networks=('127.0.0.1/32',))`, `CollectLimits(per_query=N, "
        "per_entity=N)`; images/s = rows of `raw_images` / wall time of the call.",
        "img2dataset: `download(input_format='txt', output_format='files', "
        f"processes_count={args.img2dataset_processes}, "
        f"thread_count={args.img2dataset_threads}, resize_mode='no', skip_reencode=True, "
        "number_sample_per_shard=ceil(N/processes), retries=0)` in its own virtualenv, its "
        "other defaults kept (sha256, EXIF, X-Robots-Tag checks, OpenCV decode); images/s = "
        "successes / wall time of the `download()` call.",
    ]
    read = reading(results, args.latency, args.concurrency)
    text = section(command, results, machine(), workload, settings, read)
    publish(text, args.out, SECTION)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
