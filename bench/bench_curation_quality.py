"""Benchmark: is ``craft images score`` right on real photos? (issue 12; not a test).

Run from the repository root::

    .venv/bin/python -m bench.bench_curation_quality [--size full] [--repeat 2] [--out docs/benchmarks.md]

It builds the labelled calibration corpus (``craft_dag.curation.calibration``: photos from
scikit-image's wheel with planted copies, overlays and problems, and flat images, documents,
screenshots and broken files) in a temporary folder and runs the real CLI on it,
``craft images score DIR --out scores.csv`` with default settings (``craft_dag.cli.main``). From
its rows: per reason precision and recall, the share of near-duplicate groups whose undegraded
original is not the one marked ``duplicate``, the broken files that give a row with a reason,
and how many clean photos are flagged ``text`` or ``watermark``.

The baselines run on the same files (a flat copy of the folder, broken files left out) from the
separate virtualenv ``.venv-bench`` through ``bench_scores.run_peer``: cleanvision's dark, light,
blurry, low_information and near_duplicates issue types (mapped to underexposed, overexposed,
blurry, low_information and duplicate; cleanvision flags *every* member of a near-duplicate set,
so its originals count against its duplicate precision) and imagededup's ``PHash``
``find_duplicates`` at its default distance 10, with the files its ``get_files_to_remove``
would remove taken as ``duplicate``.

Cost per image (one core, medians of ``--repeat`` runs): the decode-only floor, ``cpu_scores``,
the cheap path (``score_images`` with no costly scorer: CPU rules and near-duplicate grouping),
and each costly detector the CLI builds by default, alone on top of the cheap path.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import tempfile
import time
from dataclasses import fields, replace
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path

import pyarrow.csv as pacsv

from bench.bench_scores import PEERS, craft_scores, decode_floor, run_peer
from bench.harness import (
    PEER_PYTHON,
    Method,
    add_core_argument,
    add_out_argument,
    command_line,
    median_seconds,
    peer_available,
    pin_to_one_core,
    publish,
    say,
)

SECTION = "## Curation: quality on the calibration corpus"
FLOOR_TARGET = 1.5
IMAGEDEDUP_RADIUS = 10  # imagededup's own default max_distance_threshold
CLEANVISION_TYPES = ("dark", "light", "blurry", "low_information", "near_duplicates")
CLEANVISION_REASON = {
    "dark": "underexposed",
    "light": "overexposed",
    "blurry": "blurry",
    "low_information": "low_information",
    "near_duplicates": "duplicate",
}
# Which score column says a costly scorer ran on an image.
_SCORER_OUTPUT = {
    "text": "text_words",
    "watermark": "watermark",
    "relevance": "relevance",
    "nsfw": "nsfw",
    "overlay": "tiled_overlay",
}


def run_cli(root: Path, out: Path) -> tuple[dict[str, dict], str, float]:
    """``craft images score root --out out`` as a user runs it: rows by path, stderr, seconds."""
    from craft_dag.cli import main as craft

    err, std = io.StringIO(), io.StringIO()
    started = time.perf_counter()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(std):
        code = craft(["images", "score", str(root), "--out", str(out)])
    seconds = time.perf_counter() - started
    if code != 0:
        raise SystemExit(f"craft images score exited {code}: {err.getvalue()}")
    rows = {r["path"]: r for r in pacsv.read_csv(out).to_pylist()}
    return rows, err.getvalue() + std.getvalue(), seconds


def costs(corpus, repeat: int) -> dict:
    """Seconds per image of the floor, cpu_scores, the cheap path and each default detector."""
    from craft_dag.catalog.pack import bundled_pack_path, load_pack
    from craft_dag.cli import print_warning
    from craft_dag.curation.policy import effective
    from craft_dag.curation.score import ScoreItem, Scorers, score_images
    from craft_dag.curation.scorers import text_detector_for

    files = [f for f in corpus if f.role != "broken"]
    datas = [(corpus.root / f.path).read_bytes() for f in files]
    items = [
        ScoreItem(f.path, f.path.split("/")[0], lambda d=d: d)
        for f, d in zip(files, datas, strict=True)
    ]
    pack = load_pack(bundled_pack_path("ru"))
    thresholds = effective(pack.curation, "", {})
    n = len(datas)
    decode_floor(datas[:8])  # warm-up: imports and first-call costs out of the timings
    craft_scores(datas[:8])
    out = {
        "images": n,
        "floor": median_seconds(lambda: decode_floor(datas), repeat) / n,
        "cpu_scores": median_seconds(lambda: craft_scores(datas), repeat) / n,
        "cheap": median_seconds(lambda: score_images(items, thresholds, Scorers()), repeat) / n,
        "detectors": {},
    }
    default = text_detector_for(pack.meta.source_language, "auto", warn=print_warning)
    costly = [f.name for f in fields(Scorers) if f.name in _SCORER_OUTPUT]
    for name in costly:
        if getattr(default, name) is None:
            continue
        alone = replace(default, **{o: None for o in costly if o != name})
        result: list = []
        seconds = median_seconds(
            lambda alone=alone, result=result: result.append(
                score_images(items, thresholds, alone)
            ),
            repeat,
        )
        reached = sum(getattr(s.scores, _SCORER_OUTPUT[name]) is not None for s in result[-1])
        extra = max(0.0, seconds / n - out["cheap"])
        out["detectors"][name] = {
            "class": type(getattr(default, name)).__name__,
            "per_image": extra,
            "reached": reached,
            "per_reached": extra * n / reached if reached else None,
        }
    return out


# --- the peers -------------------------------------------------------------------------------


def _flat_name(path: str) -> str:
    return path.replace("/", "__")


def run_peers(corpus, work: Path, python: Path) -> dict[str, dict[str, set[str]] | str]:
    """path -> reasons for cleanvision and imagededup (or why a peer could not run)."""
    why = peer_available(python, *PEERS)
    if why:
        return {"cleanvision": why, "imagededup": why}
    flat, warm = work / "flat", work / "warm"
    flat.mkdir()
    warm.mkdir()
    names = {}
    for f in corpus:
        if f.role == "broken":
            continue
        name = _flat_name(f.path)
        names[name] = f.path
        (flat / name).write_bytes((corpus.root / f.path).read_bytes())
    for name in sorted(names)[:4]:
        (warm / name).write_bytes((flat / name).read_bytes())
    out: dict[str, dict[str, set[str]] | str] = {}
    for peer in ("cleanvision", "imagededup:PHash"):
        method = Method(peer, peer)
        say(f"running {peer} on {len(names)} files ...")
        run_peer(
            peer,
            python,
            flat,
            warm,
            method,
            radius=IMAGEDEDUP_RADIUS,
            issue_types=CLEANVISION_TYPES,
            per_file=True,
        )
        key = peer.split(":")[0]
        if method.error:
            out[key] = method.error
            continue
        answer = method.extra[-1]
        reasons: dict[str, set[str]] = {path: set() for path in names.values()}
        if key == "cleanvision":
            for issue, flagged in answer["issues"].items():
                for name in flagged:
                    reasons[names[name]].add(CLEANVISION_REASON[issue])
        else:
            for name in answer["to_remove"]:
                reasons[names[name]].add("duplicate")
        out[key] = reasons
        out[key + ":version"] = f"{answer['package']} {answer['version']}"  # type: ignore[assignment]
    return out


# --- the report ------------------------------------------------------------------------------


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


def quality_table(ours, peers: dict) -> str:
    from craft_dag.curation.calibration import MEASURED_REASONS

    peer_names = [p for p in ("cleanvision", "imagededup") if p + ":eval" in peers]
    head = "| reason | labelled | craft P | craft R | craft not kept | "
    head += " | ".join(f"{p} P | {p} R" for p in peer_names) + " |"
    rule = "|---|---:|---:|---:|---:|" + "---:|---:|" * len(peer_names)
    lines = [head, rule]
    covered = {
        "cleanvision": set(CLEANVISION_REASON.values()),
        "imagededup": {"duplicate"},
    }
    for reason in MEASURED_REASONS:
        r = ours.reasons[reason]
        cells = [
            reason,
            str(r.expected),
            _pct(r.precision),
            _pct(r.recall),
            f"{r.caught}/{r.expected}",
        ]
        for p in peer_names:
            ev = peers.get(p + ":eval")
            if ev is None or reason not in covered[p]:
                cells += ["–", "–"]
            else:
                cells += [_pct(ev.reasons[reason].precision), _pct(ev.reasons[reason].recall)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def section(command: str, corpus, ours, peers, cost, cli_seconds, notes: str, env) -> str:
    m = env["machine"]
    lines = [
        SECTION,
        "",
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {m['cpu']} ({m['nproc']} usable "
        f"CPUs; pinned to one), Python {m['python']}, {m['system']}; {env['versions']}.",
        "",
        f"Command: `{command}`",
        "",
        f"Corpus: `craft_dag.curation.calibration.build_corpus(size={env['size']!r}, "
        f"seed={env['seed']})`: {len(corpus)} files, {ours.groups} near-duplicate groups (one "
        "undegraded original and its copies per sub-folder), singles and broken files; photos "
        "from scikit-image's wheel only. Scored by `craft images score DIR --out scores.csv` "
        f"with default settings (bundled ru pack; {cli_seconds:.1f} s for the whole folder).",
        "",
        quality_table(ours, peers),
        "",
        "P and R: precision and recall of each reason over the non-broken files; 'not kept': "
        "labelled files that were rejected or sent to review for any reason (a file rejected "
        "by a cheaper rule never reaches OCR). Peers: cleanvision flags every member of a "
        "near-duplicate set (the original too); imagededup's duplicates are the files its "
        f"`get_files_to_remove` removes (PHash, distance {IMAGEDEDUP_RADIUS}).",
        "",
        f"- Near-duplicate groups whose undegraded original is not marked `duplicate`: "
        f"craft {ours.original_kept}/{ours.groups} ({_pct(ours.original_kept_share)})"
        + (
            f", imagededup {peers['imagededup:eval'].original_kept}/{ours.groups}"
            if "imagededup:eval" in peers
            else ""
        )
        + " (target >= 0.95; imagededup keeps whichever member comes first in its encoding "
        "map, here the file names' order, so its figure says little).",
        f"- Broken files with a row, status `error` and a reason: "
        f"{ours.broken_with_reason}/{ours.broken}.",
        f"- Clean photos (originals and their crops, downscales, JPEG copies; "
        f"{ours.clean_photos}) flagged `text`: {ours.clean_flagged['text']} "
        f"({_pct(ours.clean_flag_rate('text'))}), `watermark`: {ours.clean_flagged['watermark']} "
        f"({_pct(ours.clean_flag_rate('watermark'))}) (target <= 0.05 each).",
    ]
    for name in ("cleanvision", "imagededup"):
        if isinstance(peers.get(name), str):
            lines.append(f"- {name}: {peers[name]}")
    floor = cost["floor"]
    lines += [
        "",
        f"Cost per image ({cost['images']} decodable files, medians of {env['repeat']} runs, one "
        "core):",
        "",
        "| path | ms / image | x decode-only floor |",
        "|---|---:|---:|",
        f"| decode-only floor (`Image.open().load()`) | {floor * 1e3:.2f} | 1.00 |",
        f"| `cpu_scores` (metrics + hashes) | {cost['cpu_scores'] * 1e3:.2f} | "
        f"{cost['cpu_scores'] / floor:.2f} |",
        f"| cheap path (`score_images`, no costly scorer) | {cost['cheap'] * 1e3:.2f} | "
        f"{cost['cheap'] / floor:.2f} |",
    ]
    for name, d in cost["detectors"].items():
        per_reached = (
            f"; {d['per_reached'] * 1e3:.1f} ms per image it ran on ({d['reached']})"
            if d["per_reached"] is not None
            else f"; it ran on {d['reached']} images"
        )
        lines.append(
            f"| + {name} ({d['class']}) on the survivors | {d['per_image'] * 1e3:.2f}"
            f"{per_reached} | {d['per_image'] / floor:.2f} extra |"
        )
    verdict = "within" if cost["cheap"] <= FLOOR_TARGET * floor else "OVER"
    lines += [
        "",
        f"The cheap path is {verdict} the {FLOOR_TARGET}x decode-only target "
        f"({cost['cheap'] / floor:.2f}x). The corpus is mostly small PNGs, where the floor is a "
        "full decode and the hashes and grouping weigh more than on large JPEGs "
        "(`bench.bench_scores` measures those).",
    ]
    if notes.strip():
        lines += [
            "",
            "What `craft images score` printed (the one undecodable file beyond the broken "
            "ones is the corpus's own `labels.csv`, which it rightly reports):",
            "",
            "```",
            notes.strip(),
            "```",
        ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.bench_curation_quality",
        description="Precision and recall of craft images score on the calibration corpus, "
        "beside cleanvision and imagededup.",
    )
    parser.add_argument("--size", choices=("small", "full"), default="full")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeat", type=int, default=2, help="timed runs per cost (default 2)")
    add_core_argument(parser)
    parser.add_argument("--peer-python", type=Path, default=PEER_PYTHON)
    parser.add_argument("--skip-peers", action="store_true")
    add_out_argument(parser)
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    command = command_line("bench.bench_curation_quality", argv)

    from craft_dag.curation.calibration import build_corpus, evaluate

    info, _core = pin_to_one_core(args.core)
    env = {
        "machine": info,
        "size": args.size,
        "seed": args.seed,
        "repeat": args.repeat,
        "versions": ", ".join(f"{p} {version(p)}" for p in ("pillow", "numpy", "tesserocr")),
    }
    with tempfile.TemporaryDirectory(prefix="craft-bench-quality-") as tmp:
        work = Path(tmp)
        say(f"building the {args.size} corpus ...")
        corpus = build_corpus(work / "corpus", seed=args.seed, size=args.size)
        say(f"craft images score on {len(corpus)} files ...")
        rows, notes, cli_seconds = run_cli(corpus.root, work / "scores.csv")
        ours = evaluate(corpus, rows)
        peers: dict = {}
        if not args.skip_peers:
            peers = run_peers(corpus, work, args.peer_python)
            for name in ("cleanvision", "imagededup"):
                if isinstance(peers.get(name), dict):
                    answers = {
                        path: {"reasons": sorted(r), "decision": "reject" if r else "keep"}
                        for path, r in peers[name].items()
                    }
                    peers[name + ":eval"] = evaluate(corpus, answers)
                    env["versions"] += ", " + peers[name + ":version"]
        say("timing ...")
        cost = costs(corpus, args.repeat)
    text = section(command, corpus, ours, peers, cost, cli_seconds, notes, env)
    publish(text, args.out, SECTION)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
