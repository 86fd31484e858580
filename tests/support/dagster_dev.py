"""`dagster dev` for a test: webserver, daemon and code server on 127.0.0.1, torn down after.

`dagster_dev` starts ``dagster dev -w workspace.yaml`` from the project's virtualenv (the
``dagster`` next to ``sys.executable``) on a free loopback port, with a fresh DAGSTER_HOME (the
laptop instance's ``deploy/local/dagster.yaml`` copied into it) and a fresh CRAFT_HOME, and
waits until the GraphQL API answers with the code location loaded. It yields a `DagsterDev`
whose `graphql` posts a query. On exit it sends SIGINT to the process group that ``dagster
dev`` leads (started in a session of its own: from a non-interactive shell it ignores a lone
SIGINT or SIGTERM), which shuts its webserver, daemon and code servers down; SIGKILL follows
after a grace period, so no process outlives the test.

A process started in the background by a shell without job control inherits SIGINT as
*ignored*, and Python then installs no KeyboardInterrupt handler: dagster dev would shrug the
SIGINT off. So it starts through a two-line launcher that sets SIGINT and SIGTERM back to their
defaults and execs it (a ``preexec_fn`` would do the same, but is unsafe in a threaded test).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[2]
INSTANCE_YAML = ROOT / "deploy" / "local" / "dagster.yaml"
WORKSPACE_YAML = ROOT / "workspace.yaml"
# A developer's own deployment variables must not leak into the test's code location.
CLEARED = (
    "CRAFT_PACK",
    "CRAFT_STORAGE_URI",
    "CRAFT_PROFILE",
    "CRAFT_IMAGE_SOURCE",
    "CRAFT_IMAGES_ROOT",
    "CRAFT_URL_MANIFEST",
    "DAGSTER_HOME",
    "CRAFT_HOME",
)

# Reset the signals a background shell ignores, then become `dagster dev ...` (argv[1:]).
LAUNCHER = (
    "import os, signal, sys\n"
    "for s in (signal.SIGINT, signal.SIGTERM): signal.signal(s, signal.SIG_DFL)\n"
    "os.execv(sys.argv[1], sys.argv[1:])\n"
)

LOCATION_QUERY = """
query {
  workspaceOrError {
    __typename
    ... on Workspace {
      locationEntries {
        name
        loadStatus
        locationOrLoadError {
          __typename
          ... on PythonError { message stack }
        }
      }
    }
  }
}
"""


class DagsterDevError(RuntimeError):
    """dagster dev did not come up, or a GraphQL call failed; the message carries its output."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class DagsterDev:
    url: str
    dagster_home: Path
    craft_home: Path
    log_path: Path
    process: subprocess.Popen[bytes]
    env: dict[str, str]

    def output(self, tail: int = 20_000) -> str:
        """The last ``tail`` characters of what dagster dev (and its children) wrote."""
        try:
            text = self.log_path.read_text("utf-8", errors="replace")
        except OSError:
            return "(no output)"
        return text[-tail:]

    def graphql(
        self, query: str, variables: Mapping[str, Any] | None = None, timeout: float = 60
    ) -> dict[str, Any]:
        """POST a query to /graphql; its ``data``, or DagsterDevError with the errors."""
        response = httpx.post(
            f"{self.url}/graphql",
            json={"query": query, "variables": dict(variables or {})},
            timeout=timeout,
        )
        if response.status_code != 200:
            raise DagsterDevError(f"GraphQL HTTP {response.status_code}: {response.text[:2000]}")
        body = response.json()
        if body.get("errors"):
            raise DagsterDevError(f"GraphQL errors: {body['errors']}")
        return body["data"]


def _wait_until_ready(dev: DagsterDev, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    last = "no answer yet"
    while time.monotonic() < deadline:
        if dev.process.poll() is not None:
            raise DagsterDevError(
                f"dagster dev exited with {dev.process.returncode}:\n{dev.output()}"
            )
        try:
            data = dev.graphql(LOCATION_QUERY, timeout=10)
        except (httpx.HTTPError, DagsterDevError, ValueError) as error:
            last = repr(error)
        else:
            workspace = data["workspaceOrError"]
            entries = workspace.get("locationEntries") or []
            loaded = [e for e in entries if e["loadStatus"] == "LOADED"]
            if entries and len(loaded) == len(entries):
                errors = [
                    e for e in entries if e["locationOrLoadError"]["__typename"] == "PythonError"
                ]
                if errors:
                    raise DagsterDevError(
                        f"the code location failed to load: {errors}\n{dev.output()}"
                    )
                return
            last = f"locations: {entries or workspace}"
        time.sleep(0.5)
    raise DagsterDevError(
        f"dagster dev did not answer within {timeout:.0f} s ({last}):\n{dev.output()}"
    )


def stop(process: subprocess.Popen[bytes], grace: float = 30) -> None:
    """SIGINT to the process group, SIGKILL to whatever of it is left after ``grace`` s."""
    pgid = process.pid  # start_new_session: the leader's pid is the group's id
    deadline = time.monotonic() + grace
    with suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGINT)
    with suppress(subprocess.TimeoutExpired):
        process.wait(timeout=grace)
    # The leader may be gone while a child lingers: the group outlives its leader.
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.2)
    else:
        with suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)
    with suppress(subprocess.TimeoutExpired):
        process.wait(timeout=10)
    # A SIGKILLed process is gone only once it is reaped (the leader's children by init), which
    # on a loaded machine is not instant: wait for the group to empty, so that "no process
    # outlives the test" holds when the caller checks it.
    settle = time.monotonic() + 15
    while time.monotonic() < settle:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)


@contextmanager
def dagster_dev(
    tmp_path: Path,
    env: Mapping[str, str] | None = None,
    *,
    timeout: float = 120,
    before_start: Any = None,
) -> Iterator[DagsterDev]:
    """Run ``dagster dev`` for the block; ``env`` adds to (or overrides) the environment.

    ``before_start(dev_env)`` runs, if given, once the folders exist and before dagster dev
    starts (to prepare data the code location reads, with the same environment).
    """
    dagster_home = tmp_path / "dagster_home"
    craft_home = tmp_path / "craft"
    dagster_home.mkdir(parents=True, exist_ok=True)
    craft_home.mkdir(parents=True, exist_ok=True)
    shutil.copy(INSTANCE_YAML, dagster_home / "dagster.yaml")
    dev_env = {k: v for k, v in os.environ.items() if k not in CLEARED}
    dev_env.update(
        {
            "DAGSTER_HOME": str(dagster_home),
            "CRAFT_HOME": str(craft_home),
            "CRAFT_PROFILE": "tiny",
            "PYTHONWARNINGS": "ignore",
            "DAGSTER_DISABLE_TELEMETRY": "1",
        }
    )
    dev_env.update(env or {})
    if before_start is not None:
        before_start(dev_env)
    port = free_port()
    dagster = Path(sys.executable).parent / "dagster"
    log_path = tmp_path / "dagster_dev.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-c",
                LAUNCHER,
                str(dagster),
                "dev",
                "-w",
                str(WORKSPACE_YAML),
                "-h",
                "127.0.0.1",
                "-p",
                str(port),
            ],
            cwd=ROOT,
            env=dev_env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    dev = DagsterDev(
        url=f"http://127.0.0.1:{port}",
        dagster_home=dagster_home,
        craft_home=craft_home,
        log_path=log_path,
        process=process,
        env=dev_env,
    )
    try:
        _wait_until_ready(dev, timeout)
        # A fresh instance greets every page with a "Join the Dagster community" modal until
        # this has run once.
        dev.graphql("mutation { setNuxSeen }")
        yield dev
    finally:
        stop(process)
