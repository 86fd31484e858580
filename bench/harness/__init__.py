"""The harness every benchmark in bench/ uses; each benchmark keeps its workload and comparison.

- ``report``: the machine, the command line and first words of a section, ``--out``, and
  docs/benchmarks.md (``publish`` prints a section and rewrites it in the file);
- ``timing``: timed calls, ``Method`` (a named method's repeated runs, median, rate), the
  notes on how much runs differed, one pinned core with one thread per library;
- ``peers``: the reference tools, run by ``.venv-bench``'s interpreter;
- ``server``: the loopback HTTP image server with a latency model, in its own process.
"""

from bench.harness.peers import (
    PEER_PYTHON,
    PeerRun,
    loopback_env,
    peer_available,
    run_peer_program,
)
from bench.harness.report import (
    REPO,
    add_out_argument,
    command_line,
    machine,
    measured,
    publish,
    ratio,
    say,
    shown,
    write_doc,
)
from bench.harness.server import HOST, ServerProcess, free_port
from bench.harness.timing import (
    ONE_THREAD,
    Method,
    add_core_argument,
    median,
    median_seconds,
    pin_to_one_core,
    shared_host_note,
    spread_note,
    timed,
    timed_block,
)

__all__ = [
    "HOST",
    "ONE_THREAD",
    "PEER_PYTHON",
    "REPO",
    "Method",
    "PeerRun",
    "ServerProcess",
    "add_core_argument",
    "add_out_argument",
    "command_line",
    "free_port",
    "loopback_env",
    "machine",
    "measured",
    "median",
    "median_seconds",
    "peer_available",
    "pin_to_one_core",
    "publish",
    "ratio",
    "run_peer_program",
    "say",
    "shared_host_note",
    "shown",
    "spread_note",
    "timed",
    "timed_block",
    "write_doc",
]
