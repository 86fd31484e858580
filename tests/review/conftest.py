"""A real Label Studio server on 127.0.0.1 for the round-trip tests, started once per session.

The server lives in its own virtualenv, ``.venv-labelstudio`` (``make test`` builds it from
``review/requirements.txt``), because its Django stack pins things the project's ``.venv`` must
not share. Its database and media go to a temporary folder; it is stopped (its whole process
group) when the session ends.

Authentication is set up the way Label Studio >= 1.20 expects: legacy API tokens are disabled
by default, so each user logs in through the web form (a session with its CSRF token) and
creates a *personal access token* (``POST /api/token/``), a JWT refresh token the SDK then
exchanges for short-lived access tokens. The first user comes from ``LABEL_STUDIO_USERNAME`` /
``LABEL_STUDIO_PASSWORD`` at start; the second signs up with the organisation's invite link,
so both are members and the conflict rule can be tested end to end.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

REPO = Path(__file__).resolve().parents[2]
LS_VENV = REPO / ".venv-labelstudio"
LS_BIN = LS_VENV / "bin" / "label-studio"
SKIP_ENV = "CRAFT_SKIP_LABEL_STUDIO"
# Measured: the first start (migrations into a new SQLite database) answers /health in about
# 25 s on 2 cores; the bound leaves room for a slow CI machine without hanging forever.
START_TIMEOUT_S = 180.0
PASSWORD = "craft-review-test-pw"  # a throwaway server on loopback, gone after the session
USERS = ("reviewer_a@example.org", "reviewer_b@example.org")


@dataclass(frozen=True)
class LabelStudioServer:
    url: str
    tokens: dict[str, str]  # email -> personal access token
    log: Path
    start_s: float  # seconds from launch to a healthy /health


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _log_tail(log: Path, lines: int = 40) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _personal_access_token(
    url: str, email: str, password: str, *, invite_token: str | None = None
) -> str:
    """Log in (or sign up with an invite token) through the web form and create a PAT."""
    path = "/user/signup/" if invite_token else "/user/login/"
    params = {"token": invite_token} if invite_token else {}
    with httpx.Client(base_url=url, follow_redirects=True, timeout=60) as web:
        web.get(path, params=params).raise_for_status()  # sets the csrftoken cookie
        form = {
            "email": email,
            "password": password,
            "csrfmiddlewaretoken": web.cookies["csrftoken"],
        }
        page = web.post(path, params=params, data=form, headers={"Referer": url + path})
        page.raise_for_status()
        if page.url.path.rstrip("/") == path.rstrip("/"):
            raise RuntimeError(f"{path} did not accept {email}: {page.text[:500]}")
        # Django rotates the CSRF token at login; DRF checks it for session-authenticated POSTs.
        reply = web.post(
            "/api/token/",
            headers={"X-CSRFToken": web.cookies["csrftoken"], "Referer": url + "/"},
        )
        reply.raise_for_status()
        return str(reply.json()["token"])


def _access_headers(url: str, pat: str) -> dict[str, str]:
    reply = httpx.post(f"{url}/api/token/refresh/", json={"refresh": pat}, timeout=30)
    reply.raise_for_status()
    return {"Authorization": f"Bearer {reply.json()['access']}"}


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


@pytest.fixture(scope="session")
def label_studio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabelStudioServer]:
    """A running Label Studio with two users and their personal access tokens."""
    if os.environ.get(SKIP_ENV) == "1":
        pytest.skip(f"{SKIP_ENV}=1: the Label Studio round-trip tests are switched off")
    if not LS_BIN.exists():
        pytest.fail(
            f"{LS_BIN.relative_to(REPO)} is missing: `make test` builds the Label Studio "
            f"virtualenv (or run `make {LS_VENV.name}/.installed`); set {SKIP_ENV}=1 to skip "
            "these tests",
            pytrace=False,
        )

    root = tmp_path_factory.mktemp("label_studio")
    log = root / "server.log"
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    # A clean environment for the server: nothing of a developer's own Label Studio settings,
    # no phoning home (version check, analytics, Sentry) from a test.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LABEL_STUDIO_", "DJANGO_"))}
    env.update(
        LABEL_STUDIO_BASE_DATA_DIR=str(root / "data"),
        LABEL_STUDIO_USERNAME=USERS[0],
        LABEL_STUDIO_PASSWORD=PASSWORD,
        LABEL_STUDIO_DISABLE_SIGNUP_WITHOUT_LINK="true",
        LABEL_STUDIO_LATEST_VERSION_CHECK="false",
        LABEL_STUDIO_COLLECT_ANALYTICS="false",
        SENTRY_DSN="",
        FRONTEND_SENTRY_DSN="",
    )
    command = [str(LS_BIN), "start", "--internal-host", "127.0.0.1", "--port", str(port)]
    command += ["--no-browser"]
    started = time.monotonic()
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, cwd=root, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        deadline = started + START_TIMEOUT_S
        while True:
            if process.poll() is not None:
                pytest.fail(
                    f"label-studio exited with {process.returncode}:\n{_log_tail(log)}",
                    pytrace=False,
                )
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            if time.monotonic() > deadline:
                pytest.fail(
                    f"label-studio not healthy after {START_TIMEOUT_S:.0f} s:\n{_log_tail(log)}",
                    pytrace=False,
                )
            time.sleep(0.5)
        start_s = time.monotonic() - started

        tokens = {USERS[0]: _personal_access_token(url, USERS[0], PASSWORD)}
        invite = httpx.get(
            f"{url}/api/invite", headers=_access_headers(url, tokens[USERS[0]]), timeout=30
        )
        invite.raise_for_status()
        tokens[USERS[1]] = _personal_access_token(
            url, USERS[1], PASSWORD, invite_token=invite.json()["token"]
        )
        yield LabelStudioServer(url=url, tokens=tokens, log=log, start_s=start_s)
    finally:
        _stop(process)
