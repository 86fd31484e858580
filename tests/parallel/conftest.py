"""A real two-node Ray cluster on 127.0.0.1 for the session: a head and a worker node.

Each node is a separate ``ray start`` (its own raylet), one CPU each, a small object store.
The finaliser stops this cluster's processes only, and checks none is left: ``ray stop`` would
kill every Ray process of the user on the machine, another suite's cluster or a developer's
included. Its own processes are those whose command line names its temp dir (the head's and
the worker node's share one session dir there) or its GCS port, and their descendants (the
agents and workers the raylets start). Its ports are free ones, not Ray's fixed defaults
(client server 10001, dashboard 8265).
"""

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from tests.support.image_server import image_server  # noqa: F401  (a fixture of the fetch tests)

RAY = str(Path(sys.executable).with_name("ray"))
OBJECT_STORE = str(200 * 1024 * 1024)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _cluster_processes(temp: Path, port: int) -> list[psutil.Process]:
    """The processes of the cluster with this temp dir and GCS port, and their descendants."""
    found: dict[int, psutil.Process] = {}
    for process in psutil.process_iter(["cmdline"]):
        args = process.info["cmdline"] or []
        if any(str(temp) in a or a.endswith(f":{port}") for a in args):
            found[process.pid] = process
            with contextlib.suppress(psutil.Error):
                found.update({c.pid: c for c in process.children(recursive=True)})
    found.pop(os.getpid(), None)  # this driver's own command line names neither, but be safe
    return list(found.values())


def _stop(temp: Path, port: int) -> list[str]:
    """Terminate the cluster's processes, then kill what is left; what is still alive."""
    processes = _cluster_processes(temp, port)
    for process in processes:
        with contextlib.suppress(psutil.Error):
            process.terminate()
    _, alive = psutil.wait_procs(processes, timeout=20)
    for process in alive:
        with contextlib.suppress(psutil.Error):
            process.kill()
    psutil.wait_procs(alive, timeout=10)
    left = []
    for process in _cluster_processes(temp, port):
        with contextlib.suppress(psutil.Error):
            left.append(" ".join(process.cmdline())[:160])
    return left


def _start(command: list[str], env: dict[str, str]) -> None:
    """Run one ``ray start``; on failure, fail with the tail of Ray's own output."""
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    if done.returncode:
        tail = (done.stdout + done.stderr).strip().splitlines()[-15:]
        raise RuntimeError(f"{' '.join(command[1:3])} failed:\n" + "\n".join(tail))


@pytest.fixture(scope="session")
def ray_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    pytest.importorskip("ray")
    port = _free_port()
    address = f"127.0.0.1:{port}"
    # Ray's socket paths must stay short (107 bytes): a short temp dir, not pytest's.
    temp = Path(f"/tmp/ray_t{os.getpid()}")
    # A token left in ~/.ray/auth_token (by `ray get-auth-token --generate`, or another
    # cluster) is picked up by the head but not sent by a joining worker, which then fails
    # with InvalidAuthToken: the test cluster runs without token auth, whatever the home holds.
    env = {
        **os.environ,
        "RAY_USAGE_STATS_ENABLED": "0",
        "RAY_AUTH_MODE": "disabled",
        "RAY_AUTH_TOKEN_PATH": str(temp / "no-auth-token"),
    }
    common = [
        "--num-cpus",
        "1",
        "--object-store-memory",
        OBJECT_STORE,
        "--node-ip-address",
        "127.0.0.1",
    ]
    head = [RAY, "start", "--head", "--port", str(port), "--include-dashboard=false",
            "--dashboard-port", str(_free_port()),
            "--ray-client-server-port", str(_free_port()),
            "--disable-usage-stats", "--temp-dir", str(temp), *common]  # fmt: skip
    worker = [RAY, "start", "--address", address, *common]
    try:
        _start(head, env)
        _start(worker, env)
        import ray

        # The drivers in this process (the fixture's and the executor's) join the same way.
        saved = {k: os.environ.get(k) for k in ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN_PATH")}
        os.environ.update({k: env[k] for k in saved})
        ray.init(address=address, log_to_driver=False)
        deadline = time.monotonic() + 60
        while sum(n["Alive"] for n in ray.nodes()) < 2:
            assert time.monotonic() < deadline, "the worker node never joined"
            time.sleep(0.5)
        yield address
    finally:
        for key, value in locals().get("saved", {}).items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        try:
            import ray

            ray.shutdown()
        except ImportError:
            pass
        left = _stop(temp, port)
        shutil.rmtree(temp, ignore_errors=True)
        assert not left, f"Ray processes left: {left}"
