"""Benchmark: the curation stage's CPU scores and its near-duplicate search (not a test).

Run from the repository root::

    .venv/bin/python -m bench.bench_scores [--images N] [--repeat R] [--out docs/benchmarks.md]

Two parts, each written to its own section of the ``--out`` file:

- **Image scores.** N distinct real JPEG photos (800-1200 px on the long side, the same
  variations of scikit-image's photos as ``bench_fetch``, written to a temporary folder) are
  scored by ``craft_dag.curation.cpu_scores.cpu_scores`` (metrics, dHash and pHash from one
  draft-scaled greyscale decode), next to the decode-only floor (``Image.open(...).load()`` of
  the same bytes) and to two peers doing their equivalent checks on the same files: cleanvision
  (``Imagelab(filepaths=...).find_issues(...)``) and imagededup (``PHash``/``DHash``
  ``encode_images`` then ``find_duplicates``), run by a separate virtualenv's interpreter
  (``.venv-bench``) in subprocesses that print their timings as JSON. The whole benchmark is
  pinned to one core (``os.sched_setaffinity``, inherited by the subprocesses) and every
  method is given one worker, so images/s is images/s per core.
- **Near-duplicate search.** ``HashIndex(radius=8)`` queries and ``group_near_duplicates`` at
  10k, 100k and 1M random 64-bit hashes (a fifth of them planted near copies), against a
  brute-force numpy scan (XOR and popcount of every hash, per query).
"""

from __future__ import annotations

import argparse
import cProfile
import functools
import io
import itertools
import os
import pstats
import resource
import shutil
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path

from bench.bench_fetch import make_images
from bench.harness import (
    ONE_THREAD,
    PEER_PYTHON,
    Method,
    add_core_argument,
    add_out_argument,
    command_line,
    measured,
    peer_available,
    pin_to_one_core,
    publish,
    ratio,
    run_peer_program,
    say,
    shared_host_note,
    shown,
)

SCORES_SECTION = "## Curation: image scores"
SEARCH_SECTION = "## Curation: near-duplicate search"
RADIUS = 8
WARM_UP = 16  # files each method scores once before its timed runs
FLOOR_TARGET = 1.5  # the CPU scores may cost at most this many times the decode-only floor
# cleanvision's default issue types but "grayscale", which craft_dag does not check.
CLEANVISION_TYPES = (
    "blurry",
    "dark",
    "light",
    "low_information",
    "odd_aspect_ratio",
    "odd_size",
    "exact_duplicates",
    "near_duplicates",
)
PEERS = ("cleanvision", "imagededup")  # the modules the peer interpreter must import


# --- craft_dag and the floor, in this process --------------------------------------------------


def decode_floor(datas: list[bytes]) -> None:
    """The decode-only floor: a full decode of every file, in the mode it is stored in."""
    from PIL import Image

    for data in datas:
        with Image.open(io.BytesIO(data)) as image:
            image.load()


def craft_scores(datas: list[bytes]) -> list:
    from craft_dag.curation.cpu_scores import cpu_scores

    return [cpu_scores(data) for data in datas]


def craft_scores_from_disk(paths: list[Path]) -> list:
    from craft_dag.curation.cpu_scores import cpu_scores

    return [cpu_scores(path.read_bytes()) for path in paths]


def default_thresholds():
    """The bundled ru pack's curation thresholds, as ``craft images score`` applies them."""
    from craft_dag.catalog.pack import bundled_pack_path, load_pack
    from craft_dag.curation.policy import effective

    return effective(load_pack(bundled_pack_path("ru")).curation, "", {})


def craft_cheap_path(paths: list[Path], thresholds) -> list:
    """``score_images`` with no costly scorer, reading every file from disk: what ``craft images
    score`` does before OCR (CPU scores, the rules, near-duplicate groups and their keepers)."""
    from craft_dag.curation.score import ScoreItem, Scorers, score_images

    items = [ScoreItem(path.name, "bench", path.read_bytes) for path in paths]
    return score_images(items, thresholds, Scorers())


def craft_grouping(scores: list) -> tuple[list, list]:
    """``group_near_duplicates`` at radius 8 over the pHashes, then over the dHashes."""
    from craft_dag.curation.near_duplicates import group_near_duplicates

    return (
        group_near_duplicates([s.phash for s in scores], radius=RADIUS),
        group_near_duplicates([s.dhash for s in scores], radius=RADIUS),
    )


def breakdown(datas: list[bytes]) -> dict[str, float]:
    """Seconds per image of each part of ``cpu_scores``, and of a plain draft decode."""
    from PIL import Image

    from craft_dag.curation.metrics import DEFAULT_NORMALISE_TO, decode_normalised, measure
    from craft_dag.curation.near_duplicates import dhash, phash

    parts = dict.fromkeys(("decode_normalised", "measure", "dhash", "phash", "draft_decode"), 0.0)
    for data in datas:
        start = time.perf_counter()
        image = decode_normalised(data)
        after_decode = time.perf_counter()
        measure(image)
        after_measure = time.perf_counter()
        dhash(image.grey)
        after_dhash = time.perf_counter()
        phash(image.grey)
        after_phash = time.perf_counter()
        with Image.open(io.BytesIO(data)) as opened:
            scale = DEFAULT_NORMALISE_TO / max(opened.size)
            opened.draft("L", (round(opened.width * scale), round(opened.height * scale)))
            opened.load()
        done = time.perf_counter()
        parts["decode_normalised"] += after_decode - start
        parts["measure"] += after_measure - after_decode
        parts["dhash"] += after_dhash - after_measure
        parts["phash"] += after_phash - after_dhash
        parts["draft_decode"] += done - after_phash
    return {k: v / len(datas) for k, v in parts.items()}


def profile(datas: list[bytes], top: int) -> None:
    """cProfile of ``cpu_scores`` over the files; the top functions by own time, to stderr."""
    profiler = cProfile.Profile()
    profiler.enable()
    craft_scores(datas)
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(top)
    say(out.getvalue())


# --- the peers, in their own virtualenv --------------------------------------------------------

# The whole program a peer's interpreter is given: one timed run of one peer (after a warm-up on
# a few files), its wall and CPU seconds (its worker processes' included) as JSON.
_PEER_DRIVER = r"""
import json, os, sys, time, warnings
from importlib.metadata import version
warnings.filterwarnings("ignore")
p = json.loads(sys.argv[1])

def clock():
    t = os.times()
    return time.perf_counter(), t.user + t.system + t.children_user + t.children_system

def cleanvision(files):
    from cleanvision import Imagelab
    w0, c0 = clock()
    lab = Imagelab(filepaths=files, verbose=False)
    lab.find_issues(issue_types={k: {} for k in p["issue_types"]}, n_jobs=1, verbose=False)
    w1, c1 = clock()
    found = {r["issue_type"]: int(r["num_images"]) for _, r in lab.issue_summary.iterrows()}
    answer = {"seconds": w1 - w0, "cpu": c1 - c0, "found": found}
    if p.get("per_file"):
        answer["issues"] = {
            t: sorted(os.path.basename(f) for f in lab.issues.index[lab.issues[f"is_{t}_issue"]])
            for t in p["issue_types"]
        }
    return answer

def imagededup(method, folder):
    from imagededup import methods
    hasher = getattr(methods, method)(verbose=False)
    w0, c0 = clock()
    encodings = hasher.encode_images(image_dir=folder, num_enc_workers=0)
    w1, c1 = clock()
    duplicates = hasher.find_duplicates(
        encoding_map=encodings, max_distance_threshold=p["radius"], num_dist_workers=0
    )
    w2, c2 = clock()
    answer = {
        "seconds": w2 - w0, "cpu": c2 - c0, "encode_seconds": w1 - w0, "find_seconds": w2 - w1,
        "encoded": len(encodings),
        "found": {"with a near copy": sum(1 for v in duplicates.values() if v)},
    }
    if p.get("per_file"):
        from imagededup.utils.general_utils import get_files_to_remove
        answer["duplicates"] = {k: sorted(v) for k, v in duplicates.items()}
        answer["to_remove"] = sorted(get_files_to_remove(duplicates))
    return answer

def run(folder):
    if p["peer"] == "cleanvision":
        return cleanvision(sorted(os.path.join(folder, n) for n in os.listdir(folder)))
    return imagededup(p["peer"].split(":")[1], folder)

run(p["warm"])
answer = run(p["folder"])
package = p["peer"].split(":")[0]
answer["version"] = version(package)
answer["package"] = package
print("PEER_RESULT " + json.dumps(answer))
"""


def run_peer(
    peer: str,
    python: Path,
    folder: Path,
    warm: Path,
    method: Method,
    *,
    radius: int = RADIUS,
    issue_types: tuple[str, ...] = CLEANVISION_TYPES,
    per_file: bool = False,
) -> None:
    """One timed run of ``peer`` ("cleanvision", "imagededup:PHash", ...) added to ``method``.

    ``per_file`` adds which files the peer flagged to its answer in ``method.extra`` (for
    bench_curation_quality): cleanvision's files per issue type, imagededup's duplicate map and
    the files its ``get_files_to_remove`` would remove.
    """
    params = {
        "peer": peer,
        "folder": str(folder),
        "warm": str(warm),
        "radius": radius,
        "issue_types": list(issue_types),
        "per_file": per_file,
    }
    env = {**os.environ, **ONE_THREAD, "MPLBACKEND": "Agg", "TQDM_DISABLE": "1"}
    done = run_peer_program(
        python, _PEER_DRIVER, params, marker="PEER_RESULT", cwd=folder.parent, env=env
    )
    answer = done.answer
    if answer is None:
        method.error = done.failure(peer)
        return
    method.runs.append((answer["seconds"], answer["cpu"]))
    method.extra.append(answer)


# --- part 1: image scores ------------------------------------------------------------------


def bench_scores(args: argparse.Namespace, work: Path) -> tuple[list[Method], dict]:
    start = time.perf_counter()
    folder, warm = work / "photos", work / "warm"
    names = make_images(folder, args.images, args.seed)
    paths = [folder / n for n in names]
    warm.mkdir()
    for path in paths[:WARM_UP]:
        shutil.copy(path, warm / path.name)
    sizes = [p.stat().st_size for p in paths]
    say(f"made {len(paths)} photos in {time.perf_counter() - start:.1f} s")
    datas = [p.read_bytes() for p in paths]
    n = len(datas)

    floor = Method("decode-only floor: `Image.open(...).load()`, bytes in memory", "floor", n)
    craft = Method("craft_dag `cpu_scores`, bytes in memory", "cpu_scores", n)
    disk = Method("craft_dag `cpu_scores`, read from disk", "cpu_scores from disk", n)
    group = Method("craft_dag `group_near_duplicates` (pHash, then dHash)", "grouping", n)
    total = Method("craft_dag `cpu_scores` from disk + grouping", "from disk + grouping", n)
    cheap = Method(
        "craft_dag `score_images`, cheap path (no costly scorer), from disk", "cheap path", n
    )
    ours = [floor, craft, disk, group, total, cheap]
    thresholds = default_thresholds()
    peers = {
        "cleanvision": Method(
            f"cleanvision, {len(CLEANVISION_TYPES)} issue types", "cleanvision", n
        ),
        "imagededup:PHash": Method(
            "imagededup PHash (encode + find_duplicates)", "imagededup PHash", n
        ),
        "imagededup:DHash": Method(
            "imagededup DHash (encode + find_duplicates)", "imagededup DHash", n
        ),
    }
    unavailable = (
        "skipped (--skip-peers)" if args.skip_peers else peer_available(args.peer_python, *PEERS)
    )
    for method in peers.values():
        method.error = unavailable

    decode_floor(datas[:WARM_UP])
    craft_grouping(craft_scores(datas[:WARM_UP]))
    craft_cheap_path(paths[:WARM_UP], thresholds)
    scores: list = []
    for round_ in range(args.repeat):
        floor.time(lambda: decode_floor(datas))
        craft.time(lambda: craft_scores(datas))
        scores = disk.time(lambda: craft_scores_from_disk(paths))
        groups = group.time(functools.partial(craft_grouping, scores))
        (wall, cpu), (group_wall, group_cpu) = disk.runs[-1], group.runs[-1]
        total.runs.append((wall + group_wall, cpu + group_cpu))
        cheap.time(lambda: craft_cheap_path(paths, thresholds))
        for peer, method in peers.items():
            if not method.error:
                run_peer(peer, args.peer_python, folder, warm, method)
        say(
            f"round {round_ + 1}: "
            + ", ".join(
                f"{m.label} {n / m.runs[-1][0]:.0f}/s" for m in [*ours, *peers.values()] if m.runs
            )
        )
    group.notes.append(
        f"groups found at radius {RADIUS}: {len(groups[0])} by pHash, {len(groups[1])} by dHash"
    )
    both = Method("imagededup PHash + DHash (sum of the two)", "imagededup both", n)
    p_runs, d_runs = peers["imagededup:PHash"].runs, peers["imagededup:DHash"].runs
    both.runs = [(pw + dw, pc + dc) for (pw, pc), (dw, dc) in zip(p_runs, d_runs, strict=False)]
    both.error = "" if both.runs else peers["imagededup:PHash"].error
    for peer, method in peers.items():
        if method.extra:
            last = method.extra[len(method.extra) // 2]
            note = f"{peer} {last['version']}: found {last['found']}"
            if "encode_seconds" in last:
                note += (
                    f"; {last['encode_seconds']:.2f} s encoding, {last['find_seconds']:.3f} s "
                    "in find_duplicates"
                )
            method.notes.append(note)
    parts = breakdown(datas)
    if args.profile:
        profile(datas, args.profile)
    info = {"sizes": sizes, "parts": parts, "paths": paths}
    return [*ours, *peers.values(), both], info


def scores_table(methods: list[Method]) -> str:
    by = {m.name: m for m in methods}
    floor = methods[0]
    cleanvision = next(m for m in methods if m.name.startswith("cleanvision"))
    phash = next(m for m in methods if m.name.startswith("imagededup PHash ("))
    lines = [
        "| method | images | median s | images/s per core | CPU s | time ÷ floor's | "
        "speed ÷ cleanvision's | speed ÷ imagededup PHash's |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for m in by.values():
        if m.error:
            lines.append(f"| {m.name} | {m.error} | | | | | | |")
            continue
        cost = ratio(m.seconds, floor.seconds)
        lines.append(
            f"| {m.name} | {m.count} | {m.seconds:.3f} | {m.rate:.1f} | {m.cpu:.3f} | {cost} | "
            f"{ratio(m.rate, cleanvision.rate)} | {ratio(m.rate, phash.rate)} |"
        )
    return "\n".join(lines)


def scores_reading(methods: list[Method]) -> list[str]:
    floor, craft, total, cheap = methods[0], methods[1], methods[4], methods[5]
    cleanvision = next(m for m in methods if m.name.startswith("cleanvision"))
    phash = next(m for m in methods if m.name.startswith("imagededup PHash ("))
    both = methods[-1]
    cost = craft.seconds / floor.seconds
    lines = [
        f"Target 1 (the CPU scores cost at most {FLOOR_TARGET}× the decode-only floor): "
        f"{'met' if cost <= FLOOR_TARGET else 'not met'}: `cpu_scores` takes {cost:.2f}× the "
        f"floor's time ({craft.rate:.0f} against {floor.rate:.0f} images/s on one core).",
    ]
    if cheap.seconds:
        cheap_cost = cheap.seconds / floor.seconds
        met = "met" if cheap_cost <= FLOOR_TARGET else "not met"
        lines.append(
            f"Target 1, the whole cheap path (`score_images` with no costly scorer, from disk, "
            f"at most {FLOOR_TARGET}× the floor): {met}"
            f": {cheap_cost:.2f}× ({cheap.rate:.0f} images/s)."
        )
    if cleanvision.rate and phash.rate:
        beaten = total.rate > cleanvision.rate and total.rate > phash.rate
        lines.append(
            f"Target 2 (beat both peers): {'met' if beaten else 'not met'}: scoring from disk "
            f"and grouping, craft_dag does {total.rate:.0f} images/s, "
            f"{total.rate / cleanvision.rate:.1f}× cleanvision and "
            f"{total.rate / phash.rate:.1f}× imagededup's PHash alone "
            f"({total.rate / both.rate:.1f}× PHash + DHash, the two hashes craft_dag computes)."
        )
    else:
        lines.append("Target 2 (beat both peers): not checked, the peers did not run.")
    return lines


def scores_section(
    command: str, args: argparse.Namespace, methods: list[Method], info: dict, env: dict
) -> str:
    sizes, parts = info["sizes"], info["parts"]
    floor = methods[0]
    floor_ms = floor.seconds / floor.count * 1e3 if floor.seconds else float("nan")
    per_image = sum(parts[k] for k in ("decode_normalised", "measure", "dhash", "phash"))
    share = ", ".join(
        f"{k} {parts[k] * 1e3:.2f} ms ({parts[k] / per_image:.0%})"
        for k in ("decode_normalised", "measure", "dhash", "phash")
    )
    runs = "; ".join(f"{m.label}: {m.rates()}" for m in methods if len(m.runs) > 1)
    body = [
        SCORES_SECTION,
        "",
        f"{measured(env['machine'])}, pinned to core {env['core']}; "
        f"{env['machine']['system']}, Python {env['machine']['python']}; {env['versions']}.",
        "",
        "```",
        command,
        "```",
        "",
        f"Workload: {len(sizes)} distinct JPEG photos (turned, cropped, scaled and mirrored views "
        f"of the photos bundled with scikit-image, as in `bench_fetch`), 800-1200 px on the long "
        f"side, {sum(sizes) / len(sizes) / 1024:.0f} KiB on average, in a temporary folder. "
        f"Every method scores {WARM_UP} files once first, then runs {args.repeat} times, "
        "interleaved round by round; the table shows the median run. The whole benchmark is "
        "pinned to one core with `os.sched_setaffinity` (the peers' subprocesses inherit it) "
        "and every library is told to use one thread, so images/s is images/s per core.",
        "",
        scores_table(methods),
        "",
        "  \n".join(scores_reading(methods)),
        "",
        "Details:",
        "",
        "- decode-only floor: `Image.open(io.BytesIO(data)).load()` of every file's bytes (a "
        "full decode, RGB as stored), in memory.",
        "- craft_dag: `cpu_scores(data)` (one decode: JPEG `draft` to greyscale at the smallest "
        "power-of-two scale whose long side stays >= 512 px, then metrics, dHash and pHash) on "
        "bytes in memory, then again reading every file from disk (the page cache is warm: the "
        "files were just written), as the peers do; `group_near_duplicates(hashes, radius=8)` "
        "over the pHashes and over the dHashes is timed on its own, and added to the from-disk "
        "run for the comparison with the peers, which also group. The cheap path is "
        "`score_images(items, thresholds, Scorers())` over the files on disk with the bundled ru "
        "pack's thresholds: what `craft images score` does before any costly scorer (the scores, "
        "the rules, near-duplicate groups, the keeper of each, the decisions).",
        f"- cleanvision: `Imagelab(filepaths=...).find_issues(issue_types=...,"
        f" n_jobs=1)` with {', '.join(CLEANVISION_TYPES)}: its defaults but `grayscale`, which "
        "craft_dag does not check. With `n_jobs=1` it scores in its own process; it reads every "
        "file twice (once for the image properties, once for the hashes).",
        "- imagededup: `PHash(verbose=False).encode_images(image_dir=..., num_enc_workers=0)` "
        f"then `find_duplicates(encoding_map=..., max_distance_threshold={RADIUS}, "
        "num_dist_workers=0)`, and the same with `DHash`. `num_enc_workers=0` still starts a "
        "one-process pool (its `parallelise` needs one worker), so the encoding runs in one "
        "worker process, on the same core; its CPU time is counted. Imports and process "
        "start-up are outside every timing, peers' included (each run is a fresh interpreter of "
        f"{shown(args.peer_python)}, which warms up on the same {WARM_UP} files first).",
        f"- Where `cpu_scores` spends its time, per image (one pass, timed part by part): {share}; "
        f"a bare draft greyscale decode (`draft('L', ...)` then `load()`) costs "
        f"{parts['draft_decode'] * 1e3:.2f} ms, against {floor_ms:.2f} ms for the full RGB "
        "decode of the floor.",
        *([f"- images/s of every timed run (the median is in the table): {runs}."] if runs else []),
        *(f"- {note}" for m in methods for note in m.notes),
        f"- {shared_host_note(methods)}",
        "",
    ]
    return "\n".join(body)


# --- part 2: near-duplicate search -----------------------------------------------------------


def planted_hashes(n: int, radius: int, seed: int):  # -> np.ndarray of uint64
    """Random 64-bit hashes, a fifth of them copies of others with 0..radius+2 bits flipped.

    The distribution of ``_planted_hashes`` in tests/unit/test_near_duplicates.py, vectorised
    so a million take a second rather than several.
    """
    import numpy as np

    rng = np.random.default_rng(seed)
    base = rng.integers(0, 2**64, size=n - n // 5, dtype=np.uint64, endpoint=False)
    copies = n // 5
    source = base[rng.integers(0, len(base), size=copies)]
    flips = rng.integers(0, radius + 3, size=copies)
    order = rng.random((copies, 64)).argsort(axis=1).argsort(axis=1)  # a random rank per bit
    bits = order < flips[:, None]  # ``flips`` distinct random bits per copy
    masks = np.packbits(bits, axis=1, bitorder="little").view("<u8").ravel()
    hashes = np.concatenate([base, source ^ masks])
    rng.shuffle(hashes)
    return hashes


@dataclass
class SearchRow:
    n: int
    add: list[float] = field(default_factory=list)  # seconds to add every hash
    build: list[float] = field(default_factory=list)  # the first query (builds the tables)
    query: list[float] = field(default_factory=list)  # mean seconds per query
    brute: list[float] = field(default_factory=list)  # mean seconds per brute-force query
    group: list[float] = field(default_factory=list)
    groups: int = 0
    grouped: int = 0
    plan: str = ""
    rss_mib: float = 0.0
    match: bool = True


def bench_search(sizes: list[int], queries: int, repeat: int, seed: int) -> list[SearchRow]:
    import numpy as np

    from craft_dag.curation.near_duplicates import HashIndex, group_near_duplicates

    rows = []
    for n in sizes:
        row = SearchRow(n)
        hashes = planted_hashes(n, RADIUS, seed)
        as_ints = hashes.tolist()
        rng = np.random.default_rng(seed + 1)
        picked = [as_ints[i] for i in rng.choice(n, size=min(queries, n), replace=False)]
        for round_ in range(repeat):
            index = HashIndex(RADIUS)
            start = time.perf_counter()
            for key, value in enumerate(as_ints):
                index.add(key, value)
            row.add.append(time.perf_counter() - start)
            start = time.perf_counter()
            index.query(picked[0])
            row.build.append(time.perf_counter() - start)
            start = time.perf_counter()
            answers = [index.query(q) for q in picked]
            row.query.append((time.perf_counter() - start) / len(picked))
            tables = index._tables
            row.plan = (
                "scan"
                if tables is None
                else f"{len(tables.plan.chunks)} chunks, up to {tables.plan.flips} flips"
            )
            start = time.perf_counter()
            brute = []
            for q in picked:
                distances = np.bitwise_count(hashes ^ np.uint64(q))
                brute.append(np.flatnonzero(distances <= RADIUS))
            row.brute.append((time.perf_counter() - start) / len(picked))
            row.match = row.match and all(
                sorted(k for k, _ in a) == b.tolist() for a, b in zip(answers, brute, strict=True)
            )
            del index, tables, answers
            start = time.perf_counter()
            groups = group_near_duplicates(as_ints, radius=RADIUS)
            row.group.append(time.perf_counter() - start)
            row.groups, row.grouped = len(groups), sum(len(g) for g in groups)
            del groups
            say(
                f"search n={n:,} round {round_ + 1}: add {row.add[-1]:.2f} s, build "
                f"{row.build[-1]:.2f} s, query {row.query[-1] * 1e3:.3f} ms (brute "
                f"{row.brute[-1] * 1e3:.2f} ms), group {row.group[-1]:.2f} s"
            )
        row.rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        rows.append(row)
    return rows


def search_table(rows: list[SearchRow]) -> str:
    med = statistics.median
    lines = [
        "| hashes | plan | add s | build s | per query ms | brute force per query ms | "
        "query speed-up | group s | brute-force grouping s (extrapolated) | grouping speed-up "
        "| groups (members) | peak RSS MiB |",
        "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        brute_group = med(r.brute) * r.n
        lines.append(
            f"| {r.n:,} | {r.plan} | {med(r.add):.2f} | {med(r.build):.3f} | "
            f"{med(r.query) * 1e3:.3f} | {med(r.brute) * 1e3:.3f} | "
            f"{med(r.brute) / med(r.query):.1f}× | {med(r.group):.2f} | {brute_group:,.2f} | "
            f"{brute_group / med(r.group):.0f}× | {r.groups:,} ({r.grouped:,}) | "
            f"{r.rss_mib:,.0f} |"
        )
    return "\n".join(lines)


def search_section(command: str, args: argparse.Namespace, rows: list[SearchRow], env) -> str:
    med = statistics.median
    growth = []
    for small, big in itertools.pairwise(rows):
        factor = big.n / small.n
        growth.append(
            f"{small.n:,} → {big.n:,} hashes ({factor:g}×): per query "
            f"{med(big.query) / med(small.query):.1f}×, grouping "
            f"{med(big.group) / med(small.group):.1f}×, brute force per query "
            f"{med(big.brute) / med(small.brute):.1f}×"
        )
    body = [
        SEARCH_SECTION,
        "",
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on the same machine and core, in the "
        "same run:",
        "",
        "```",
        command,
        "```",
        "",
        f"Random 64-bit hashes, a fifth of them planted near copies of others (0 to {RADIUS + 2} "
        f"bits flipped), radius {RADIUS}. `HashIndex({RADIUS})`: every hash `add`ed, then a "
        f"first query (which builds the tables), then {args.queries} queries of hashes drawn "
        "from the set; **the baseline** is a brute-force numpy scan per query (XOR with every "
        "hash, `np.bitwise_count`, `<= radius`) on the same queries, whose answers the index's "
        "must equal. `group_near_duplicates(hashes, radius=8)` groups the whole set; its "
        "brute-force figure is **extrapolated**: the measured brute-force query time × the "
        f"number of hashes (one scan per hash), not run. Every size: median of "
        f"{args.search_repeat} runs. The brute-force scan only finds the indices; the "
        "index's `query` also sorts its answers and returns them as (key, distance) pairs.",
        "",
        search_table(rows),
        "",
        "Growth: " + "; ".join(growth) + "." if growth else "",
        "",
        f"Index answers equal brute force's on every sampled query: "
        f"{'yes' if all(r.match for r in rows) else 'NO'}. Peak RSS is of the whole benchmark "
        "process so far (sizes run in increasing order, after the image scores).",
        "",
    ]
    return "\n".join(body)


# --- main ------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.bench_scores",
        description="Curation CPU scores against the decode floor, cleanvision and imagededup; "
        "near-duplicate search at growing sizes.",
    )
    parser.add_argument("--images", type=int, default=400, help="distinct photos (default 400)")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per method (default 3)")
    add_core_argument(parser)
    parser.add_argument("--peer-python", type=Path, default=PEER_PYTHON)
    parser.add_argument("--skip-peers", action="store_true", help="leave the peers out")
    parser.add_argument("--skip-scores", action="store_true", help="only the search part")
    parser.add_argument("--skip-search", action="store_true", help="only the image scores")
    parser.add_argument(
        "--search-sizes", default="10000,100000,1000000", help="comma-separated hash counts"
    )
    parser.add_argument("--queries", type=int, default=200, help="queries per size (default 200)")
    parser.add_argument("--search-repeat", type=int, default=3, help="runs per size (default 3)")
    parser.add_argument("--profile", type=int, default=0, help="print the top N cProfile rows")
    parser.add_argument("--seed", type=int, default=0)
    add_out_argument(parser)
    args = parser.parse_args(argv)
    if min(args.images, args.repeat, args.queries, args.search_repeat) < 1:
        parser.error("--images, --repeat, --queries and --search-repeat must be at least 1")
    if args.images <= WARM_UP:
        parser.error(f"--images must be more than {WARM_UP}")
    command = command_line("bench.bench_scores", argv)

    info, core = pin_to_one_core(args.core)  # before numpy is imported, here and in the peers
    env = {
        "machine": info,
        "core": core,
        "versions": ", ".join(f"{p} {version(p)}" for p in ("pillow", "numpy", "scipy")),
    }
    methods: list[Method] = []
    if not args.skip_scores:
        with tempfile.TemporaryDirectory(prefix="craft-bench-scores-") as tmp:
            methods, scores_info = bench_scores(args, Path(tmp))
        peer_versions = sorted(
            {(m.extra[0]["package"], m.extra[0]["version"]) for m in methods if m.extra}
        )
        env["versions"] += "".join(f", {name} {v}" for name, v in peer_versions)
        text = scores_section(command, args, methods, scores_info, env)
        publish(text, args.out, SCORES_SECTION)
    if not args.skip_search:
        sizes = [int(s) for s in args.search_sizes.split(",") if s.strip()]
        rows = bench_search(sizes, args.queries, args.search_repeat, args.seed)
        publish(search_section(command, args, rows, env), args.out, SEARCH_SECTION)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
