"""Benchmark: fetch-and-verify throughput of image collection (not a test).

Run from the repository root::

    .venv/bin/python -m bench.bench_fetch [--images N] [--latency MS] [--out docs/benchmarks.md]

It makes N distinct real JPEG photos (800-1200 px on the long side, variations of the photos
scikit-image bundles, through the demo's sample-set builder), serves them from a loopback HTTP
server (127.0.0.1, an ephemeral port, a separate process that waits ``--latency`` ms before every
answer, as a remote server would), and times three ways of fetching and verifying the same URL
list, each after a warm-up and against a freshly started server:

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
import json
import os
import platform
import random
import shlex
import socketserver
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

REPO = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"
UA = "craft_dag-bench/1 (+https://github.com/craft-dag/craft_dag)"
CATEGORY = "bench"
ENTITIES = 10
WARM_UP = 16  # URLs fetched (under another path) before each timed run
SECTION = "## Image collection: fetch and verify"
DOC_HEADER = """# Benchmarks

The latest figures of every stage's benchmark, each with the command that produced it and the
machine it ran on. Benchmarks are not tests: re-run a section's command to refresh it. Each stage
keeps one `## ...` section here; a benchmark's `--out` rewrites only its own section.
"""
DEFAULT_I2D_PYTHON = REPO / ".venv-bench" / "bin" / "python"


# --- the loopback image server (runs in its own process) --------------------------------------


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # the default 5 drops SYNs when 32 clients connect at once

    def __init__(self, port: int, images: dict[str, bytes], latency: float) -> None:
        self.images = images
        self.latency = latency
        self._lock = threading.Lock()
        self.in_flight = 0
        self.peak = 0
        self.requests = 0
        super().__init__((HOST, port), _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind would look the address up with socket.getfqdn: no lookups here.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = HOST, self.server_address[1]

    def enter(self) -> None:
        with self._lock:
            self.requests += 1
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)

    def leave(self) -> None:
        with self._lock:
            self.in_flight -= 1

    def stats(self, reset: bool) -> dict[str, int]:
        with self._lock:
            answer = {"requests": self.requests, "peak": self.peak}
            if reset:
                self.requests = self.peak = 0
            return answer


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as any real image host
    timeout = 30
    server: _Server

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _answer(self, status: int, content_type: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        if parts.path == "/__stats":
            stats = self.server.stats(reset="reset" in parts.query)
            self._answer(200, "application/json", json.dumps(stats).encode())
            return
        self.server.enter()
        try:
            time.sleep(self.server.latency)
            if parts.path == "/robots.txt":
                self._answer(200, "text/plain", b"User-agent: *\nAllow: /\n")
                return
            folder, _, name = parts.path.rpartition("/")
            data = self.server.images.get(name) if folder in ("/img", "/warm") else None
            if data is None:
                self._answer(404, "text/plain", b"not found\n")
            else:
                self._answer(200, "image/jpeg", data)
        finally:
            self.server.leave()


def serve(folder: Path, latency_ms: float, port: int) -> None:
    """Serve ``folder/*.jpg`` from memory until standard input closes; print the port first."""
    images = {p.name: p.read_bytes() for p in sorted(folder.glob("*.jpg"))}
    server = _Server(port, images, latency_ms / 1000)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    print(f"PORT {server.server_port}", flush=True)
    sys.stdin.read()  # the parent closes our stdin (or dies) to stop us
    server.shutdown()
    server.server_close()


class ServerProcess:
    """The image server in a child process; ``restart`` keeps the same port (and so the URLs)."""

    def __init__(self, folder: Path, latency_ms: float) -> None:
        self.folder = folder
        self.latency_ms = latency_ms
        self.port = 0
        self._process: subprocess.Popen[str] | None = None

    def start(self) -> None:
        self._process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bench.bench_fetch",
                "--serve",
                str(self.folder),
                "--latency",
                str(self.latency_ms),
                "--port",
                str(self.port),
            ],
            cwd=REPO,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self._process.stdout is not None
        line = self._process.stdout.readline()
        if not line.startswith("PORT "):
            self.stop()
            raise RuntimeError(f"the image server did not start: {line!r}")
        self.port = int(line.split()[1])

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        assert process.stdin is not None
        process.stdin.close()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def restart(self) -> None:
        self.stop()
        self.start()

    def url(self, path: str) -> str:
        return f"http://{HOST}:{self.port}{path}"

    def stats(self, reset: bool = False) -> dict[str, int]:
        import httpx

        with httpx.Client(trust_env=False, timeout=10) as client:
            answer = client.get(self.url("/__stats" + ("?reset=1" if reset else "")))
            return answer.json()


# --- the images ------------------------------------------------------------------------------


def make_images(dest: Path, n: int, seed: int) -> list[str]:
    """``n`` distinct JPEG photos, 800-1200 px on the long side, written to ``dest``; their names.

    The clean photos of a sample set (real photos bundled with scikit-image) are the bases; each
    image is a different slightly rotated, cropped, maybe mirrored, resized variation of one.
    """
    from PIL import Image

    from craft_dag.collection.samples import build_sample_set

    samples = dest.parent / "samples"
    entities = {f"c{c}": [f"e{c}{i}" for i in range(2)] for c in range(6)}
    rows = build_sample_set(samples, entities, per_category=2, seed=seed)
    bases = []
    for row in rows:
        if row.planted == "none":
            with Image.open(samples / row.path) as opened:
                bases.append(opened.convert("L" if opened.mode == "L" else "RGB"))
    rng = random.Random(seed)
    dest.mkdir(parents=True, exist_ok=True)
    names: list[str] = []
    seen: set[str] = set()
    while len(names) < n:
        base = bases[len(names) % len(bases)]
        width, height = base.size
        image = base.rotate(rng.uniform(-6, 6), resample=Image.Resampling.BICUBIC)
        # Crop inside a 10% margin, clear of the corners the rotation filled.
        scale = rng.uniform(0.6, 0.8)
        box_w, box_h = width * scale, height * scale
        left = rng.uniform(0.1 * width, 0.9 * width - box_w)
        top = rng.uniform(0.1 * height, 0.9 * height - box_h)
        long_side = rng.randint(800, 1200)
        factor = long_side / max(box_w, box_h)
        size = (round(box_w * factor), round(box_h * factor))
        image = image.resize(
            size, Image.Resampling.BICUBIC, box=(left, top, left + box_w, top + box_h)
        )
        if rng.random() < 0.5:
            image = image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", quality=rng.randint(85, 92))
        data = buffer.getvalue()
        digest = hashlib.sha256(data).hexdigest()
        if digest in seen:
            continue
        seen.add(digest)
        name = f"photo_{len(names):05d}.jpg"
        (dest / name).write_bytes(data)
        names.append(name)
    return names


# --- the three methods -----------------------------------------------------------------------


@dataclass
class Result:
    method: str
    ok: int | None = None
    seconds: float | None = None
    error: str = ""  # set when the method could not run
    requests: int | None = None  # requests the server saw in the timed run
    peak: int | None = None  # most requests in flight at once, as the server saw them
    notes: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float | None:
        if self.ok is None or not self.seconds:
            return None
        return self.ok / self.seconds


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
        result.ok = sum(fetch_and_decode(client, server.url(f"/img/{name}")) for name in names)
        result.seconds = time.perf_counter() - start
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


def _collect(urls: list[str], work: Path, concurrency: int) -> tuple[int, float, dict[str, int]]:
    """One collect_category run into a new Storage under ``work``: (stored, seconds, outcomes)."""
    from craft_dag.collection.collect import IMAGES, CollectLimits, collect_category
    from craft_dag.collection.records import EntityRef
    from craft_dag.collection.sources import UrlManifestSource
    from craft_dag.storage import Storage

    work.mkdir(parents=True)
    manifest = work / "urls.csv"
    with manifest.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["entity_id", "url"])
        writer.writerows((f"e{i % ENTITIES}", url) for i, url in enumerate(urls))
    entities = [
        EntityRef(f"e{i}", CATEGORY, f"e{i}", f"entity {i}", (f"e{i}",)) for i in range(ENTITIES)
    ]
    storage = Storage(str(work / "store"))
    # per_query also caps the rows a manifest gives each entity (default 10): lift it.
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


def run_craft(server: ServerProcess, names: list[str], work: Path, concurrency: int) -> Result:
    result = Result("craft_dag")
    _collect([server.url(f"/warm/{n}") for n in names[:WARM_UP]], work / "warm", concurrency)
    server.stats(reset=True)
    stored, seconds, outcomes = _collect(
        [server.url(f"/img/{n}") for n in names], work / "run", concurrency
    )
    result.ok, result.seconds = stored, seconds
    failures = {k: v for k, v in outcomes.items() if k != "ok" and v}
    if failures:
        result.notes.append(f"craft_dag failures: {failures}")
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
    return {
        "seconds": seconds,
        "successes": sum(s["successes"] for s in stats),
        "count": sum(s["count"] for s in stats),
        "shard_span": (max(s["end_time"] for s in stats) - min(s["start_time"] for s in stats))
        if stats else None,
        "files": len(glob.glob(out + "/*/*.jpg")),
        "errors": errors,
    }

warm = run(p["warm_list"], p["warm_out"])
no_proxy = urllib.request.build_opener(urllib.request.ProxyHandler({}))
no_proxy.open(p["stats_reset_url"], timeout=10).read()
main = run(p["url_list"], p["out"])
print("I2D_RESULT " + json.dumps({"version": version("img2dataset"), "warm": warm, "main": main}))
"""


def _loopback_env() -> dict[str, str]:
    """The environment without any proxy setting, so urllib connects to 127.0.0.1 itself."""
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    env.update(
        NO_PROXY="127.0.0.1,localhost",
        no_proxy="127.0.0.1,localhost",
        WANDB_MODE="disabled",
        WANDB_SILENT="true",
    )
    return env


def run_img2dataset(
    server: ServerProcess,
    names: list[str],
    work: Path,
    python: Path,
    processes: int,
    threads: int,
) -> Result:
    result = Result("img2dataset")
    if not python.exists():
        result.error = f"not available: no interpreter at {python} (see bench/README.md)"
        return result
    probe = subprocess.run(
        [str(python), "-c", "import img2dataset"],
        capture_output=True,
        text=True,
        env=_loopback_env(),
    )
    if probe.returncode != 0:
        last = (probe.stderr.strip().splitlines() or ["?"])[-1]
        result.error = f"not available: `import img2dataset` failed in {python}: {last}"
        return result
    work.mkdir(parents=True)
    url_list, warm_list = work / "urls.txt", work / "warm.txt"
    url_list.write_text("".join(server.url(f"/img/{n}") + "\n" for n in names))
    warm_list.write_text("".join(server.url(f"/warm/{n}") + "\n" for n in names[:WARM_UP]))
    params = {
        "url_list": str(url_list),
        "out": str(work / "out"),
        "warm_list": str(warm_list),
        "warm_out": str(work / "warm_out"),
        "processes": processes,
        "threads": threads,
        # One shard per process: with the default 10,000 a short list would be one shard, and
        # so one process.
        "shard_size": max(1, -(-len(names) // processes)),
        "ua_token": "craft_dag-bench",
        "stats_reset_url": server.url("/__stats?reset=1"),
    }
    log = work / "img2dataset.log"
    with log.open("w") as handle:
        done = subprocess.run(
            [str(python), "-c", _I2D_DRIVER, json.dumps(params)],
            cwd=work,
            env=_loopback_env(),
            stdout=subprocess.PIPE,
            stderr=handle,
            text=True,
            timeout=600,
        )
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith("I2D_RESULT ")]
    if done.returncode != 0 or not lines:
        tail = log.read_text(errors="replace").strip().splitlines()[-5:]
        result.error = f"not available: img2dataset exited {done.returncode}: {' | '.join(tail)}"
        return result
    answer = json.loads(lines[-1].removeprefix("I2D_RESULT "))
    main, warm = answer["main"], answer["warm"]
    result.ok, result.seconds = main["successes"], main["seconds"]
    result.notes.append(f"img2dataset {answer['version']}")
    if main["shard_span"]:
        result.notes.append(
            f"img2dataset: {main['seconds']:.2f} s for the download() call, of which its shards "
            f"spent {main['shard_span']:.2f} s from the first shard's start to the last one's "
            f"end ({main['successes'] / main['shard_span']:.0f} images/s); the rest is starting "
            f"its worker and logger processes (the {len(names[:WARM_UP])}-URL warm-up call took "
            f"{warm['seconds']:.2f} s)"
        )
    if main["errors"]:
        result.notes.append(f"img2dataset failures: {main['errors']}")
    if main["files"] != main["successes"]:
        result.notes.append(
            f"img2dataset wrote {main['files']} files for {main['successes']} successes"
        )
    return result


# --- report ----------------------------------------------------------------------------------


def _ratio(value: float | None, reference: float | None) -> str:
    if value is None or not reference:
        return "n/a"
    return f"{value / reference:.2f}×"


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
            f"{_ratio(r.rate, naive)} | {_ratio(r.rate, i2d)} |"
        )
    return "\n".join(lines)


def reading(results: list[Result], latency_ms: float, concurrency: int) -> list[str]:
    by_name = {r.method: r for r in results}
    naive, craft, i2d = by_name["naive"], by_name["craft_dag"], by_name.get("img2dataset")
    first = (
        f"craft_dag stores {craft.rate:.0f} images/s, {craft.rate / naive.rate:.1f}× the "
        f"sequential loop"
    )
    if i2d is not None and i2d.rate:
        verdict = "met" if craft.rate >= i2d.rate else "not met"
        first += (
            f" and {craft.rate / i2d.rate:.2f}× img2dataset ({i2d.rate:.0f} images/s): the "
            f"target (craft_dag ≥ img2dataset on this machine) is {verdict}."
        )
    else:
        first += "; img2dataset did not run, so the target could not be checked."
    bound = concurrency / (latency_ms / 1000) if latency_ms else float("inf")
    second = (
        f"The sequential loop waits {latency_ms:g} ms per image; with {concurrency} requests in "
        f"flight (peak seen by the server: {craft.peak}) the latency alone would allow "
        f"{bound:.0f} images/s, so craft_dag's {craft.rate:.0f} is "
        + ("bound by latency." if craft.rate >= 0.8 * bound else "bound by CPU, not latency.")
    )
    return [first, second]


def machine() -> dict[str, str]:
    cpu = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        cores = os.cpu_count() or 0
    return {
        "nproc": str(cores),
        "cpu": cpu,
        "python": platform.python_version(),
        "system": f"{platform.system()} {platform.release()}",
    }


def section(
    command: str,
    results: list[Result],
    info: dict[str, str],
    workload: str,
    settings: list[str],
    read: list[str],
) -> str:
    from importlib.metadata import version

    versions = ", ".join(f"{p} {version(p)}" for p in ("httpx", "pillow", "pyarrow"))
    notes = [n for r in results for n in r.notes]
    peaks = "; ".join(
        f"{r.method} {r.peak} (of {r.requests} requests)" for r in results if r.peak is not None
    )
    body = [
        SECTION,
        "",
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {info['nproc']} CPUs "
        f"({info['cpu']}), {info['system']}, Python {info['python']}; {versions}.",
        "",
        "```",
        command,
        "```",
        "",
        workload,
        "",
        table(results),
        "",
        *read,
        "",
        "Details:",
        "",
        *(f"- {s}" for s in settings),
        *(f"- {n}" for n in notes),
        f"- Most requests in flight at once, as the server saw them: {peaks}.",
        "",
    ]
    return "\n".join(body)


def write_doc(path: Path, text: str) -> None:
    """Replace (or append) our section of ``path``, leaving every other section alone."""
    old = path.read_text(encoding="utf-8") if path.exists() else DOC_HEADER
    lines = old.splitlines()
    try:
        start = lines.index(SECTION)
    except ValueError:
        new = old.rstrip("\n") + "\n\n" + text
    else:
        end = next(
            (i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines)
        )
        before = "\n".join(lines[:start]).rstrip("\n")
        after = "\n".join(lines[end:])
        new = before + "\n\n" + text + ("\n" + after if after else "")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(new.rstrip("\n") + "\n", encoding="utf-8")


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
    parser.add_argument("--out", type=Path, help="write the results into this Markdown file")
    parser.add_argument(
        "--concurrency", type=int, default=16, help="craft_dag's concurrency (default 16)"
    )
    parser.add_argument(
        "--img2dataset-python",
        type=Path,
        default=DEFAULT_I2D_PYTHON,
        help="an interpreter that has img2dataset (default .venv-bench/bin/python)",
    )
    parser.add_argument("--img2dataset-processes", type=int, default=2)
    parser.add_argument("--img2dataset-threads", type=int, default=16)
    parser.add_argument(
        "--skip", action="append", default=[], choices=("img2dataset",), help="leave a method out"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--serve", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve is not None:
        serve(args.serve, args.latency, args.port)
        return 0
    if args.images < 1:
        parser.error("--images must be at least 1")
    command = shlex.join([".venv/bin/python", "-m", "bench.bench_fetch", *sys.argv[1:]])

    def say(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    with tempfile.TemporaryDirectory(prefix="craft-bench-fetch-") as tmp:
        work = Path(tmp)
        start = time.perf_counter()
        names = make_images(work / "photos", args.images, args.seed)
        sizes = [(work / "photos" / n).stat().st_size for n in names]
        say(f"made {len(names)} photos in {time.perf_counter() - start:.1f} s")
        server = ServerProcess(work / "photos", args.latency)
        results: list[Result] = []
        try:
            runs = [
                ("naive", lambda: run_naive(server, names)),
                ("craft_dag", lambda: run_craft(server, names, work / "craft", args.concurrency)),
            ]
            if "img2dataset" not in args.skip:
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
                        ),
                    )
                )
            for name, run in runs:
                server.restart()  # a fresh server for each method, on the same port
                say(f"{name}: running")
                result = run()
                if not result.error:
                    stats = server.stats()
                    result.requests, result.peak = stats["requests"], stats["peak"]
                    say(f"{name}: {result.ok} images in {result.seconds:.2f} s")
                else:
                    say(f"{name}: {result.error}")
                results.append(result)
        finally:
            server.stop()

    if "img2dataset" in args.skip:
        results.append(Result("img2dataset", error="not available: skipped (--skip)"))
    workload = (
        f"Workload: {len(names)} distinct JPEG photos (variations of the photos bundled with "
        f"scikit-image), 800-1200 px on the long side, {sum(sizes) / len(sizes) / 1024:.0f} KiB "
        f"on average, served from memory by a loopback HTTP/1.1 server (its own process) that "
        f"waits {args.latency:g} ms before each answer. Each method runs after a "
        f"{WARM_UP}-URL warm-up, against a freshly started server."
    )
    settings = [
        "naive: one httpx.Client (keep-alive), one URL after another, "
        "`Image.open(...).load()` on each body.",
        f"craft_dag: `collect_category` over a `UrlManifestSource` ({ENTITIES} entities, "
        f"round-robin), local `Storage`, `DownloaderConfig(concurrency={args.concurrency}, "
        f"per_host_concurrency={args.concurrency}, per_host_rate=0, respect_robots=True, "
        "allow_networks=('127.0.0.1/32',))`, `CollectLimits(per_query=N, per_entity=N)`; "
        "images/s = rows of `raw_images` / wall time of the call.",
        f"img2dataset: `download(input_format='txt', output_format='files', "
        f"processes_count={args.img2dataset_processes}, "
        f"thread_count={args.img2dataset_threads}, resize_mode='no', skip_reencode=True, "
        "number_sample_per_shard=ceil(N/processes), retries=0)` in its own virtualenv; its "
        "defaults otherwise (sha256, EXIF, X-Robots-Tag checks); images/s = successes / wall "
        "time of the `download()` call.",
    ]
    read = reading(results, args.latency, args.concurrency)
    print()
    print(table(results))
    print()
    for line in read:
        print(line)
    for r in results:
        for note in r.notes:
            print(f"- {note}")
    if args.out:
        text = section(command, results, machine(), workload, settings, read)
        write_doc(args.out, text)
        say(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
