"""Benchmark: the caption linter's precision and recall on hand-labelled captions (not a test).

Run from the repository root::

    .venv/bin/python -m bench.bench_caption_lint [--out docs/benchmarks.md]

The sets are ``tests/captioning/data/lint_labelled.yaml`` (development: the linter was improved
where it fell short on it, after its labels were committed) and ``lint_heldout.yaml`` (written
after those improvements, committed before the linter first ran on it). Both are labelled by
hand from the CRAFT paper's section 4.3; their headers say how each rule was read.

Two linters run over the same captions:

- **craft**: ``craft_dag.captioning.lint.lint_captions`` with the default rules;
- **baseline**: what a first script does with the same phrase lists: casefolded substring
  search of each phrase, sentences split at ``.``, ``!`` or ``?`` followed by a space, the
  entity found when a casefolded name is a substring of the caption, and ``templated`` by the
  first three casefolded words.

Per rule and micro-averaged, precision, recall and F1 of both, the F1 ratio, and captions per
second of both (median of ``--repeat`` timed runs) go to the
``## Captioning: guideline linter quality`` section of ``--out``.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path

from bench.harness import (
    add_out_argument,
    command_line,
    machine,
    measured,
    median_seconds,
    publish,
    say,
)
from craft_dag.captioning.lint import RULE_IDS
from craft_dag.captioning.lint_calibration import (
    LabelledCaption,
    Linter,
    RuleCounts,
    Scores,
    craft_linter,
    evaluate,
    lint_rows,
    load_labelled,
)
from craft_dag.catalog.caption_rules import DEFAULT_RULES

SECTION = "## Captioning: guideline linter quality"
DATA = Path(__file__).resolve().parent.parent / "tests" / "captioning" / "data"
SETS = {"development": DATA / "lint_labelled.yaml", "held-out": DATA / "lint_heldout.yaml"}
_NAIVE_BOUNDARY = re.compile(r"[.!?]+\s+")


def baseline_linter(rows: Sequence[Mapping[str, object]]) -> list[list[str]]:
    """The substring baseline described in the module docstring."""
    rules = DEFAULT_RULES
    out: list[list[str]] = []
    openings: dict[str, list[tuple[int, str]]] = defaultdict(list)
    counts: Counter[str] = Counter()
    for i, row in enumerate(rows):
        caption = str(row["caption"])
        text = caption.casefold()
        lists = rules.for_language(str(row["language"]))
        flagged: list[str] = []
        sentences = [s for s in _NAIVE_BOUNDARY.split(caption.strip()) if s.strip()]
        if len(sentences) < rules.min_sentences:
            flagged.append("too_few_sentences")
        elif len(sentences) > rules.max_sentences:
            flagged.append("too_many_sentences")
        names = [str(n).casefold() for n in row["names"]]  # type: ignore[union-attr]
        if names and not any(n in text for n in names):
            flagged.append("missing_entity")
        for rule, phrases in (
            ("viewing_phrase", lists.viewing_phrases),
            ("hedging", lists.hedging),
            ("usage_guess", lists.usage_guess),
        ):
            if any(p.lstrip("=").replace(" =", " ") in text for p in phrases):
                flagged.append(rule)
        out.append(flagged)
        entity = str(row["entity"])
        counts[entity] += 1
        words = text.split()[: rules.templated_prefix_words]
        if len(words) == rules.templated_prefix_words:
            openings[entity].append((i, " ".join(words)))
    for entity, started in openings.items():
        if counts[entity] < rules.templated_min_captions:
            continue
        shared = Counter(key for _, key in started)
        for i, key in started:
            if shared[key] > rules.templated_share * counts[entity]:
                out[i].append("templated")
    return out


def _f1(c: RuleCounts) -> float:
    p, r = c.precision, c.recall
    return 2 * p * r / (p + r) if p + r else 0.0


def _speed(linter: Linter, captions: Sequence[LabelledCaption], repeat: int) -> float:
    rows = lint_rows(captions)
    linter(rows)  # warm-up: lemma caches, razdel and pymorphy loading
    return len(rows) / median_seconds(lambda: linter(rows), repeat)


def _row(name: str, craft: RuleCounts, base: RuleCounts) -> str:
    # A baseline that finds none of a rule has no ratio to speak of.
    ratio = f"{_f1(craft) / _f1(base):.2f}×" if _f1(base) else "—"
    return (
        f"| {name} | {craft.positives} | {craft.precision:.2f} | {craft.recall:.2f} | "
        f"{_f1(craft):.2f} | {base.precision:.2f} | {base.recall:.2f} | {_f1(base):.2f} | "
        f"{ratio} |"
    )


def _table(craft: Scores, base: Scores) -> list[str]:
    lines = [
        "| rule | labelled | craft P | craft R | craft F1 | baseline P | baseline R | "
        "baseline F1 | F1 ÷ baseline |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    lines += [_row(rule, craft.rules[rule], base.rules[rule]) for rule in RULE_IDS]
    lines.append(_row("**micro**", craft.micro, base.micro))
    return lines


def _wrong(scores: Scores) -> str:
    parts = [
        f"{rule}: false alarms {', '.join(c.false_positives) or 'none'}; "
        f"missed {', '.join(c.false_negatives) or 'none'}"
        for rule, c in scores.rules.items()
        if c.fp or c.fn
    ]
    return "; ".join(parts) or "none"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.bench_caption_lint",
        description="Precision and recall of the caption linter against a substring baseline.",
    )
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per linter (default 5)")
    add_out_argument(parser)
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    command = command_line("bench.bench_caption_lint", argv)

    sets = {name: load_labelled(path) for name, path in SETS.items()}
    sets["both"] = [c for captions in list(sets.values()) for c in captions]
    results = {}
    for name, captions in sets.items():
        craft, base = evaluate(captions, craft_linter), evaluate(captions, baseline_linter)
        results[name] = (craft, base)
        say(
            f"{name}: {len(captions)} captions, craft P {craft.micro.precision:.3f} "
            f"R {craft.micro.recall:.3f}; baseline P {base.micro.precision:.3f} "
            f"R {base.micro.recall:.3f}"
        )
    both = sets["both"]
    craft_speed = _speed(craft_linter, both, args.repeat)
    base_speed = _speed(baseline_linter, both, args.repeat)

    info = machine()
    languages = Counter(c.language for c in both)
    clean = sum(1 for c in both if not c.breaks)
    lines = [
        SECTION,
        "",
        f"{measured(info)}, {info['system']}, Python {info['python']}.",
        "",
        "```",
        command,
        "```",
        "",
        f"Workload: {len(both)} hand-labelled captions ({languages['ru']} Russian, "
        f"{languages['en']} English; {clean} clean, many of them near misses: look-alike words, "
        "characterising phrases, inflected names, abbreviations, quoted titles with ! or ?), "
        "each labelled with exactly the rules of the paper's section 4.3 it breaks. "
        f"Development set: {len(sets['development'])} captions "
        "(`tests/captioning/data/lint_labelled.yaml`); the linter was improved where it fell "
        "short on it, after its labels were committed (the linter before that, at commit "
        "abf1140: micro P 0.98, R 0.78 on it). Held-out set: "
        f"{len(sets['held-out'])} captions on other entities "
        "(`tests/captioning/data/lint_heldout.yaml`), written after those improvements and "
        "committed (bbfa58f) before the linter first ran on it: micro P 0.97, R 0.92 on that "
        "first run; its three misses were then fixed in general form (9a98c2f). "
        "**The baseline** uses the same phrase lists by casefolded substring, sentences split "
        "at `.!?` + space, names by substring, openings by the first three words. Target "
        "(issue 12): recall ≥ 0.95 at precision ≥ 0.9, asserted by "
        "`tests/captioning/test_lint_calibration.py`.",
        "",
    ]
    for name in ("both", "development", "held-out"):
        craft, base = results[name]
        lines += [
            f"{name.capitalize()} ({len(sets[name])} captions; {craft.exact} with exactly the "
            f"labelled rules flagged by craft, {base.exact} by the baseline):",
            "",
            *_table(craft, base),
            "",
        ]
    craft, base = results["both"]
    lines += [
        f"Micro-averaged over both sets, the linter finds {craft.micro.recall:.1%} of the "
        f"labelled violations at {craft.micro.precision:.1%} precision (baseline: "
        f"{base.micro.recall:.1%} at {base.micro.precision:.1%}).",
        "",
        "Details:",
        "",
        f"- craft got wrong: {_wrong(craft)}",
        f"- baseline got wrong on the held-out set: {_wrong(results['held-out'][1])}",
        f"- speed over all {len(both)} captions, median of {args.repeat} runs after a warm-up: "
        f"craft {craft_speed:,.0f} captions/s, baseline {base_speed:,.0f} captions/s "
        f"({craft_speed / base_speed:.3f}× the baseline's speed)",
        "",
    ]
    publish("\n".join(lines), args.out, SECTION)
    return 0


if __name__ == "__main__":
    sys.exit(main())
