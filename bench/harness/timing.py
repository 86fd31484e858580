"""Timing for the benchmarks: timed calls, named methods with repeated runs, one pinned core.

A benchmark compares *methods* (ways of doing the same work) over ``--repeat`` timed runs and
reports each one's median; ``Method`` holds one method's runs (wall and CPU seconds) and what
the report says of it. ``timed`` and ``timed_block`` time a call or a block, ``median_seconds``
a call repeated. ``pin_to_one_core`` gives a benchmark one core and one thread per library, so
its figures are per core and hardly move when other work shares the host; the two notes say
how much the runs of one method differed.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

from bench.harness.report import machine

T = TypeVar("T")

# One thread for every numerical library (ours, torch's and the peers'): the process has one core.
ONE_THREAD = {
    name: "1"
    for name in (
        "OMP_NUM_THREADS",
        "OPENBLAS_NUM_THREADS",
        "MKL_NUM_THREADS",
        "NUMEXPR_NUM_THREADS",
    )
}


def timed(fn: Callable[[], T]) -> tuple[float, float, T]:
    """Call ``fn`` once: (wall seconds, CPU seconds of this process, its answer)."""
    wall, cpu = time.perf_counter(), time.process_time()
    answer = fn()
    return time.perf_counter() - wall, time.process_time() - cpu, answer


@contextmanager
def timed_block(phases: dict[str, list[float]], name: str) -> Iterator[None]:
    """Record ``[wall s, CPU s]`` of the block under ``phases[name]`` (a list, for JSON)."""
    cpu, start = time.process_time(), time.perf_counter()
    yield
    phases[name] = [time.perf_counter() - start, time.process_time() - cpu]


def median(values: Sequence[float]) -> float:
    """The median of ``values``; NaN when there are none (a table cell, not an error)."""
    return statistics.median(values) if values else float("nan")


def median_seconds(fn: Callable[[], Any], repeat: int) -> float:
    """Median wall seconds of ``repeat`` calls of ``fn`` (warm it up first, if it needs it)."""
    return statistics.median(timed(fn)[0] for _ in range(repeat))


@dataclass
class Method:
    """One way of doing a benchmark's work: wall and CPU seconds of each timed run.

    ``count`` is how many items (images, captions) one run handles, for ``rate``; ``error``
    says why the method could not run (its table row shows it instead of figures); ``extra``
    holds what a peer's own program answered, per run.
    """

    name: str
    label: str = ""  # a short name, for progress lines and lists of runs; ``name`` if empty
    count: int = 0
    runs: list[tuple[float, float]] = field(default_factory=list)  # (wall s, CPU s)
    error: str = ""
    notes: list[str] = field(default_factory=list)
    extra: list[dict] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.label = self.label or self.name

    def time(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` once, timed, as one more run of this method; its answer."""
        wall, cpu, answer = timed(fn)
        self.runs.append((wall, cpu))
        return answer

    @property
    def seconds(self) -> float | None:
        """Median wall seconds of the runs."""
        return statistics.median(w for w, _ in self.runs) if self.runs else None

    @property
    def cpu(self) -> float | None:
        """Median CPU seconds of the runs."""
        return statistics.median(c for _, c in self.runs) if self.runs else None

    @property
    def rate(self) -> float | None:
        """Items per second of the median run."""
        return self.count / self.seconds if self.seconds else None

    @property
    def spread(self) -> float:
        """Slowest run over fastest, minus one."""
        walls = [w for w, _ in self.runs]
        return max(walls) / min(walls) - 1 if len(walls) > 1 else 0.0

    def rates(self, digits: int = 0) -> str:
        """Items per second of every run, in order: ``"412, 398, 405"``."""
        return ", ".join(f"{self.count / w:.{digits}f}" for w, _ in self.runs)


def shared_host_note(methods: Sequence[Method]) -> str:
    """Whether other work shared the host: the widest spread, and CPU time under 90% of wall."""
    timed_ = [m for m in methods if len(m.runs) > 1]
    worst = max(timed_, key=lambda m: m.spread, default=None)
    stolen = [m for m in timed_ if m.cpu and m.seconds and m.cpu / m.seconds < 0.9]
    text = (
        "The host was shared with other work while this ran"
        if (worst and worst.spread > 0.1) or stolen
        else "The host may have been shared with other work while this ran"
    )
    if worst is not None:
        text += (
            f"; the widest spread between runs of one method was {worst.spread:.0%} ({worst.name})"
        )
    if stolen:
        text += "; CPU time under 90% of wall time for " + ", ".join(m.name for m in stolen)
    return text + "."


def spread_note(methods: Sequence[Method]) -> str:
    """Whether other work on the host disturbed the runs: their spread, slowest over fastest."""
    spread = max((m.spread for m in methods), default=0.0)
    if spread > 0.25:
        return (
            f"Runs of one method differed by up to {spread:.0%}: the host was shared with other "
            "work; the medians are the figures to compare."
        )
    return f"Runs of one method differed by at most {spread:.0%}."


def add_core_argument(parser: argparse.ArgumentParser) -> None:
    """``--core N``: the core ``pin_to_one_core`` pins to."""
    parser.add_argument("--core", type=int, help="the core to pin to (default: the last one)")


def pin_to_one_core(core: int | None) -> tuple[dict[str, str], int]:
    """One thread per library and this process (and its children) on one core.

    Call it before numpy or torch is imported: their thread pools read ``ONE_THREAD`` then.
    ``core`` ``None`` means the last usable one. Returns ``machine()``, read before pinning
    (it counts the usable cores), and the core.
    """
    os.environ.update(ONE_THREAD)
    info = machine()
    chosen = core if core is not None else max(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {chosen})
    return info, chosen
