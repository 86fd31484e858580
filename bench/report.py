"""What every benchmark shares for its report: the machine it ran on, and docs/benchmarks.md.

Each benchmark keeps its own ``## ...`` sections of the Markdown file; ``write_doc`` rewrites one
section and leaves every other one alone.
"""

from __future__ import annotations

import os
import platform
from pathlib import Path

DOC_HEADER = """# Benchmarks

The latest figures of every stage's benchmark, each with the command that produced it and the
machine it ran on. Benchmarks are not tests: re-run a section's command to refresh it. Each stage
keeps one `## ...` section here; a benchmark's `--out` rewrites only its own section.
"""


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
