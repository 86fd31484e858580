"""A real PostgreSQL server for the cluster instance's tests, started once per session.

Debian's server binaries (``/usr/lib/postgresql/<version>/bin``; ``make setup`` installs the
``postgresql`` package as root) run a throw-away cluster on 127.0.0.1 on a free port, with a
password, in a temporary folder; it is stopped (``pg_ctl stop -m fast``) and removed at the end.
``initdb`` refuses to run as root, so as root the server runs as the ``postgres`` user the
package creates (or ``nobody``). Without the binaries the tests fail; ``CRAFT_SKIP_POSTGRES=1``
skips them.
"""

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

USER = "craft"
PASSWORD = "craft-pg-secret"  # a password, so the instance's password setting is exercised
DB = "dagster_test"
START_TIMEOUT_S = 30


def _bin_dir() -> Path | None:
    """The newest installed server's bin folder, or the one on PATH."""
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0,
    )
    if found:
        return Path(found[-1]).parent
    on_path = shutil.which("initdb")
    return Path(on_path).parent if on_path else None


def _server_account() -> pwd.struct_passwd | None:
    """Whom to run the server as: ourselves, or as root a user that is not root."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    pytest.skip("running as root and no 'postgres' or 'nobody' user to run PostgreSQL as")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[dict[str, str]]:
    """A running PostgreSQL with an empty database; yields host, port, user, password, db."""
    if os.environ.get("CRAFT_SKIP_POSTGRES") == "1":
        pytest.skip("CRAFT_SKIP_POSTGRES=1")
    bin_dir = _bin_dir()
    if bin_dir is None:
        # A failure, not a skip: CI must not pass without having run the cluster instance.
        pytest.fail(
            "no PostgreSQL server binaries (initdb, pg_ctl): install Debian's postgresql "
            "package (make setup does as root), or set CRAFT_SKIP_POSTGRES=1 to skip"
        )
    account = _server_account()
    # Not under pytest's tmp_path: its base folder is private to us, and the server may run as
    # another user. mkdtemp's folder is 0700, handed over to that user.
    root = Path(tempfile.mkdtemp(prefix="craft-pg-"))
    data, pwfile, log = root / "data", root / "pwfile", root / "server.log"
    pwfile.write_text(PASSWORD + "\n")
    run_as: dict[str, object] = {}
    if account is not None:
        for path in (root, pwfile):
            os.chown(path, account.pw_uid, account.pw_gid)
        run_as = {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": []}
    port = _free_port()

    def pg(*args: str, timeout: float = START_TIMEOUT_S) -> None:
        proc = subprocess.run(
            [str(bin_dir / args[0]), *args[1:]],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            **run_as,  # type: ignore[arg-type]
        )
        if proc.returncode != 0:
            server_log = log.read_text() if log.exists() else ""
            raise RuntimeError(
                f"{args[0]} failed ({proc.returncode}): {proc.stderr or proc.stdout}\n{server_log}"
            )

    try:
        pg(
            "initdb", "-D", str(data), "-U", USER, f"--pwfile={pwfile}",
            "--auth=scram-sha-256", "--no-sync", "--no-locale", "-E", "UTF8",
        )  # fmt: skip
        # TCP on loopback only; the Unix socket in our own folder, not /var/run/postgresql.
        options = f"-c listen_addresses=127.0.0.1 -p {port} -k {root} -c fsync=off"
        pg("pg_ctl", "-D", str(data), "-o", options, "-l", str(log), "-w", "start")
        try:
            import psycopg2

            conn = psycopg2.connect(
                host="127.0.0.1", port=port, user=USER, password=PASSWORD, dbname="postgres"
            )
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute(f"CREATE DATABASE {DB}")
            conn.close()
            yield {
                "host": "127.0.0.1",
                "port": str(port),
                "user": USER,
                "password": PASSWORD,
                "db": DB,
            }
        finally:
            pg("pg_ctl", "-D", str(data), "-m", "fast", "-w", "stop")
    finally:
        shutil.rmtree(root, ignore_errors=True)
