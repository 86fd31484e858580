"""What every benchmark shares for its report: the machine it ran on, and docs/benchmarks.md.

Besides the file itself: the command line a section quotes (``command_line``), its first words
(``measured``), paths and ratios as sections show them (``shown``, ``ratio``), and progress on
stderr (``say``). Each benchmark keeps its own ``## ...`` sections of the Markdown file; ``write_doc`` rewrites one
section and leaves every other one alone. ``make bench`` ends with ``python -m bench.report
--stamp docs/benchmarks.md``, which records, above the sections, when every benchmark last ran
in one go and on which machine (make stops at the first benchmark that fails, so the line is
only rewritten after all of them succeeded).
"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

DOC_HEADER = """# Benchmarks

The latest figures of every stage's benchmark, each with the command that produced it and the
machine it ran on. Benchmarks are not tests: re-run a section's command to refresh it. Each stage
keeps one `## ...` section here; a benchmark's `--out` rewrites only its own section.
"""

STAMP_PREFIX = "Last run of every benchmark in `make bench`, one after another:"
REPO = Path(__file__).resolve().parents[2]


def machine() -> dict[str, str]:
    """CPU model, usable cores, Python and OS of this machine, for a report's first line."""
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


def measured(info: dict[str, str]) -> str:
    """A section's first words: ``Measured <UTC time> UTC on <n> CPUs (<cpu>)``."""
    return (
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {info['nproc']} CPUs ({info['cpu']})"
    )


def command_line(module: str, argv: Sequence[str] | None = None) -> str:
    """The command a section quotes: ``.venv/bin/python -m <module> <argv>``.

    ``argv`` is what ``main`` was given; ``None`` (a run from the shell) means ``sys.argv[1:]``.
    """
    args = sys.argv[1:] if argv is None else list(argv)
    return shlex.join([".venv/bin/python", "-m", module, *args])


def add_out_argument(parser: argparse.ArgumentParser) -> None:
    """Every benchmark's ``--out FILE``: the Markdown file whose section it rewrites."""
    parser.add_argument("--out", type=Path, help="write the section into this Markdown file")


def shown(path: Path) -> str:
    """``path`` relative to the repository when it is inside it (no home folders in docs)."""
    try:
        return str(path.absolute().relative_to(REPO))
    except ValueError:
        return str(path)


def ratio(value: float | None, reference: float | None) -> str:
    """``value / reference`` as a table cell (``1.23×``, four decimals under 0.01; ``n/a``)."""
    if value is None or not reference:
        return "n/a"
    answer = value / reference
    return f"{answer:.2f}×" if answer >= 0.01 else f"{answer:.4f}×"


def write_doc(path: Path, heading: str, text: str) -> None:
    """Replace (or append) the section ``heading`` of ``path`` with ``text``.

    A section runs from its ``## `` heading line to the next one (or the end); ``text`` starts
    with the heading itself. Every other section is left as it was.
    """
    old = path.read_text(encoding="utf-8") if path.exists() else DOC_HEADER
    lines = old.splitlines()
    try:
        start = lines.index(heading)
    except ValueError:
        new = old.rstrip("\n") + "\n\n" + text
    else:
        end = next(
            (i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines)
        )
        before = "\n".join(lines[:start]).rstrip("\n")
        after = "\n".join(lines[end:])
        new = before + "\n\n" + text.rstrip("\n") + "\n" + ("\n" + after if after else "")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(new.rstrip("\n") + "\n", encoding="utf-8")


def say(message: str) -> None:
    """Progress on stderr, so that stdout holds the report alone."""
    print(message, file=sys.stderr, flush=True)


def publish(text: str, out: Path | None, heading: str) -> None:
    """Print a benchmark's section, and write it into ``out`` (docs/benchmarks.md) if given.

    ``heading`` is the section's ``## ...`` line, the first line of ``text``.
    """
    print(text)
    if out:
        write_doc(out, heading, text)
        say(f"wrote {out}")


def stamp_doc(path: Path) -> str:
    """Write (or replace) the line above the sections that says when ``make bench`` ran."""
    info = machine()
    line = (
        f"{STAMP_PREFIX} {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {info['nproc']} CPUs "
        f"({info['cpu']}), {info['system']}, Python {info['python']}. Each section's first "
        "line says when it was measured: a section re-run on its own since, or one that "
        "`make bench` does not write (the longer URL list), keeps its own date."
    )
    old = path.read_text(encoding="utf-8") if path.exists() else DOC_HEADER
    lines = [x for x in old.splitlines() if not x.startswith(STAMP_PREFIX)]
    first = next((i for i, x in enumerate(lines) if x.startswith("## ")), len(lines))
    head = "\n".join(lines[:first]).rstrip("\n")
    rest = "\n".join(lines[first:])
    path.parent.mkdir(parents=True, exist_ok=True)
    text = head + "\n\n" + line + "\n" + ("\n" + rest if rest else "")
    path.write_text(text.rstrip("\n") + "\n", encoding="utf-8")
    return line


def main(argv: list[str] | None = None) -> int:
    """``python -m bench.report --stamp FILE``: the line ``make bench`` writes last."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.report", description="Stamp docs/benchmarks.md after `make bench`."
    )
    parser.add_argument("--stamp", type=Path, required=True, help="the Markdown file to stamp")
    args = parser.parse_args(argv)
    print(stamp_doc(args.stamp))
    return 0


if __name__ == "__main__":
    sys.exit(main())
