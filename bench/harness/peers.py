"""Peers: the reference tools a benchmark compares with, run by another interpreter.

The peers (img2dataset, cleanvision, imagededup) live in their own virtualenv,
``.venv-bench`` (``bench/requirements.txt``), so their dependency pins never touch the
project's environment. A benchmark checks that the interpreter can import them
(``peer_available``), then gives it a whole program as ``-c`` with its parameters as one JSON
argument; the program prints its answer as one line, ``MARKER {json}``, which
``run_peer_program`` returns.
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.harness.report import REPO, shown

PEER_PYTHON = REPO / ".venv-bench" / "bin" / "python"


def loopback_env(**extra: str) -> dict[str, str]:
    """This environment without any proxy setting (so clients connect to 127.0.0.1 themselves),
    and ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    env.update(NO_PROXY="127.0.0.1,localhost", no_proxy="127.0.0.1,localhost", **extra)
    return env


def peer_available(python: Path, *modules: str, env: dict[str, str] | None = None) -> str:
    """An empty string if ``python`` exists and imports every one of ``modules``; else why not."""
    if not python.exists():
        return f"not available: no interpreter at {shown(python)} (see bench/README.md)"
    statement = "import " + ", ".join(modules)
    probe = subprocess.run([str(python), "-c", statement], capture_output=True, text=True, env=env)
    if probe.returncode != 0:
        last = (probe.stderr.strip().splitlines() or ["?"])[-1]
        return f"not available: `{statement}` failed in {shown(python)}: {last}"
    return ""


@dataclass
class PeerRun:
    """What a peer's program gave back: its answer (``None`` if it printed none), exit status
    and standard error."""

    answer: dict[str, Any] | None
    returncode: int
    stderr: str

    def failure(self, who: str, lines: int = 3) -> str:
        """Why there is no answer: ``not available: <who> exited <n>: <last lines of stderr>``."""
        tail = " | ".join(self.stderr.strip().splitlines()[-lines:])
        return f"not available: {who} exited {self.returncode}: {tail}"


def run_peer_program(
    python: Path,
    program: str,
    params: dict[str, Any],
    *,
    marker: str,
    cwd: Path,
    env: dict[str, str] | None = None,
    timeout: float = 900,
    log: Path | None = None,
) -> PeerRun:
    """Run ``python -c program json(params)`` and read its last ``marker`` line's JSON.

    ``log``, if given, receives the program's standard error as well.
    """
    done = subprocess.run(
        [str(python), "-c", program, json.dumps(params)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if log is not None:
        log.write_text(done.stderr, encoding="utf-8")
    prefix = marker + " "
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith(prefix)]
    answer = json.loads(lines[-1].removeprefix(prefix)) if done.returncode == 0 and lines else None
    return PeerRun(answer, done.returncode, done.stderr)
