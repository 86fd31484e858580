"""Benchmark: batched against one-at-a-time translation with the same model (not a test).

Run from the repository root::

    .venv/bin/python -m bench.bench_translate [--texts N] [--repeat R] [--out docs/benchmarks.md]

The workload is the bundled ru pack's evaluation prompts (their ``source`` texts: real
captions of cultural entities, 10-100 characters), translated by ``tiny_translator()`` (the
tiny random Marian, built in code, on the CPU) twice with the same ``TranslationSettings``:
one ``translate([text])`` call per text, then one ``translate(texts)`` call that sorts the
texts by length and generates ``batch_size`` of them at a time. The figure is the ratio of
their translations per second. The tiny model's weights are random, so it writes until
``max_new_tokens`` in both methods alike: what is compared is the cost of ``generate`` calls
and padding, which batching amortises, not translation quality. The section's details also
give what the translation stage pays once: the tiny model's build and load, and the lingua
language detector's build and per-caption cost.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from importlib.metadata import version

from bench.harness import (
    Method,
    add_out_argument,
    command_line,
    machine,
    measured,
    publish,
    say,
)

SECTION = "## Translation: batched generation"


# Builds a detector as quality.default_detector does for ru -> en, times it and its calls.
_LINGUA_PROBE = """
import os, sys, time
from craft_dag.translation.quality import LanguageDetector
def rss():
    return int(open("/proc/self/statm").read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
before = rss()
start = time.perf_counter()
detector = LanguageDetector(["en", "ru", "de", "fr", "es"], low_accuracy=sys.argv[1] == "True")
build = time.perf_counter() - start
captions = ["Yuri Gagarin in an orange spacesuit, smiling.", "Пирожки с капустой"] * 200
start = time.perf_counter()
for caption in captions:
    detector.detect(caption)
per_call = (time.perf_counter() - start) / len(captions)
print(build, per_call, rss() - before)
"""


def _one_off_costs() -> tuple[dict[str, float], dict[str, float]]:
    """Seconds of the stage's one-off costs, and MiB of memory where measured."""
    from craft_dag.models import tiny
    from craft_dag.translation.transformers_backend import tiny_translator

    costs: dict[str, float] = {}
    memory: dict[str, float] = {}
    previous = os.environ.get(tiny.TINY_MODELS_ENV)
    with tempfile.TemporaryDirectory() as cache:
        os.environ[tiny.TINY_MODELS_ENV] = cache  # a fresh cache: the build really runs
        start = time.perf_counter()
        tiny.tiny_marian(seed=1)
        costs["tiny Marian build (first, transformers already imported)"] = (
            time.perf_counter() - start
        )
        if previous is None:
            del os.environ[tiny.TINY_MODELS_ENV]
        else:
            os.environ[tiny.TINY_MODELS_ENV] = previous
    start = time.perf_counter()
    tiny_translator()
    costs["tiny translator load (cached folder)"] = time.perf_counter() - start
    # lingua caches its n-gram models per process, so each mode is measured in a fresh one.
    for low in (False, True):
        label = "low-accuracy" if low else "high-accuracy"
        done = subprocess.run(
            [sys.executable, "-c", _LINGUA_PROBE, str(low)],
            capture_output=True,
            text=True,
            check=True,
        )
        build_s, per_call_s, rss_mib = (float(x) for x in done.stdout.split())
        costs[f"lingua detector build, 5 languages, {label} (fresh process)"] = build_s
        costs[f"lingua detect per caption, {label}"] = per_call_s
        memory[f"lingua detector, 5 languages, {label}: resident memory added"] = rss_mib
    return costs, memory


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.bench_translate",
        description="Translations per second, batched against one at a time, same tiny model.",
    )
    parser.add_argument("--texts", type=int, default=64, help="captions translated (default 64)")
    parser.add_argument("--repeat", type=int, default=3, help="timed rounds (default 3)")
    parser.add_argument("--batch-size", type=int, default=16, help="batched method's batch")
    parser.add_argument("--num-beams", type=int, default=4, help="beams, both methods")
    parser.add_argument("--max-new-tokens", type=int, default=48, help="both methods")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    add_out_argument(parser)
    args = parser.parse_args(argv)
    if min(args.texts, args.repeat, args.batch_size, args.num_beams, args.max_new_tokens) < 1:
        parser.error("every count must be at least 1")
    command = command_line("bench.bench_translate", argv)

    import torch

    from craft_dag.catalog.pack import bundled_pack_path, load_pack
    from craft_dag.translation.transformers_backend import tiny_translator
    from craft_dag.translation.translator import TranslationSettings

    torch.set_num_threads(args.threads)
    prompts = [p.source for p in load_pack(bundled_pack_path("ru")).prompts]
    texts = (prompts * (args.texts // len(prompts) + 1))[: args.texts]
    settings = TranslationSettings(
        num_beams=args.num_beams, max_new_tokens=args.max_new_tokens, batch_size=args.batch_size
    )
    translator = tiny_translator()
    translator.translate(texts[:4], settings)  # warm-up: first-call allocations, lazy imports

    n = len(texts)
    one_by_one, all_at_once = Method("one at a time", count=n), Method("batched", count=n)
    same = True
    for round_ in range(args.repeat):
        one = one_by_one.time(lambda: [translator.translate([t], settings)[0] for t in texts])
        many = all_at_once.time(lambda: translator.translate(texts, settings))
        same = same and one == many
        say(
            f"round {round_ + 1}: one at a time {one_by_one.runs[-1][0]:.2f} s, "
            f"batched {all_at_once.runs[-1][0]:.2f} s"
        )
    costs, memory = _one_off_costs()

    single, batched = one_by_one.seconds or float("nan"), all_at_once.seconds or float("nan")
    ratio = single / batched
    info = machine()
    lengths = [len(t) for t in texts]
    text = "\n".join(
        [
            SECTION,
            "",
            f"{measured(info)}, {args.threads} torch thread(s); {info['system']}, Python "
            f"{info['python']}; torch {version('torch')}, transformers {version('transformers')}.",
            "",
            "```",
            command,
            "```",
            "",
            f"Workload: {n} captions, the `source` texts of the bundled ru pack's evaluation "
            f"prompts ({min(lengths)}-{max(lengths)} characters, {statistics.mean(lengths):.0f} "
            "on average), translated by `tiny_translator()` (a random 2+2-layer MarianMTModel of "
            "width 32 with a character tokenizer, built in code and loaded with "
            "`from_pretrained`) with the same `TranslationSettings(num_beams="
            f"{args.num_beams}, max_new_tokens={args.max_new_tokens}, batch_size="
            f"{args.batch_size})` for both methods. **The baseline** is one `translate([text])` "
            "call per caption; batched is one `translate(texts)` call (sorted by length, "
            f"{args.batch_size} per `generate`). Median of {args.repeat} interleaved rounds "
            "after a warm-up.",
            "",
            "| method | captions | median s | translations/s | speed ÷ one at a time |",
            "| --- | ---: | ---: | ---: | ---: |",
            f"| one at a time | {n} | {single:.3f} | {n / single:.1f} | 1.00× |",
            f"| batched ({args.batch_size}) | {n} | {batched:.3f} | {n / batched:.1f} | "
            f"{ratio:.2f}× |",
            "",
            f"Batched generation gives {ratio:.1f}× the translations per second. Outputs "
            f"identical between the two methods: {'yes' if same else 'no'} (beam search over "
            "padded batches may differ in the last bits of a score; greedy decoding is tested to "
            "give the same text). The random model writes until `max_new_tokens` in both methods, "
            "so the ratio measures the cost of `generate` calls and padding, not quality.",
            "",
            "Details:",
            "",
            "- seconds per round, one at a time: "
            + ", ".join(f"{w:.2f}" for w, _ in one_by_one.runs)
            + "; batched: "
            + ", ".join(f"{w:.2f}" for w, _ in all_at_once.runs),
            *(
                f"- {name}: {seconds * 1e3:.3f} ms"
                if seconds < 0.01
                else f"- {name}: {seconds:.2f} s"
                for name, seconds in costs.items()
            ),
            *(f"- {name}: {mib:.0f} MiB" for name, mib in memory.items()),
            "",
        ]
    )
    publish(text, args.out, SECTION)
    return 0


if __name__ == "__main__":
    sys.exit(main())
