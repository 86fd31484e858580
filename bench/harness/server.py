"""A loopback HTTP image server with a latency model, in its own process.

``ServerProcess(folder, latency_ms)`` starts ``python -m bench.harness.server FOLDER`` (a
server in the benchmark's own process would take the GIL from the clients under test): a
``ThreadingHTTPServer`` on 127.0.0.1, an ephemeral port, that holds ``FOLDER/*.jpg`` in memory
and serves each as ``/img/NAME`` and ``/warm/NAME`` (other URLs, same bytes, for warm-ups). It
answers HTTP/1.1 with keep-alive, headers and body in one write with Nagle off (as a real server
does), and waits ``latency`` ms before every answer, robots.txt included, as a remote host
would: on loopback a transfer takes microseconds. ``/__stats`` reports the requests it saw and
the most in flight at once. It never looks a name up.
"""

from __future__ import annotations

import argparse
import json
import socketserver
import subprocess
import sys
import threading
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

from bench.harness.report import REPO

HOST = "127.0.0.1"


class _Server(ThreadingHTTPServer):
    """The images in memory, the wait before each answer, and counts of the requests."""

    daemon_threads = True
    request_queue_size = 256  # the default 5 drops SYNs when 32 clients connect at once

    def __init__(self, port: int, images: dict[str, bytes], latency: float) -> None:
        self.images = images
        self.latency = latency
        self._lock = threading.Lock()
        self.in_flight = 0
        self.peak = 0
        self.requests = 0
        super().__init__((HOST, port), _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind would look the address up with socket.getfqdn: no lookups here.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = HOST, self.server_address[1]

    def enter(self) -> None:
        with self._lock:
            self.requests += 1
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)

    def leave(self) -> None:
        with self._lock:
            self.in_flight -= 1

    def stats(self, reset: bool) -> dict[str, int]:
        with self._lock:
            answer = {"requests": self.requests, "peak": self.peak}
            if reset:
                self.requests = self.peak = 0
            return answer


class _Handler(BaseHTTPRequestHandler):
    """``GET /img/NAME``, ``/warm/NAME`` (the same bytes), ``/robots.txt``, ``/__stats``."""

    protocol_version = "HTTP/1.1"  # keep-alive, as any real image host
    timeout = 30
    # Headers and body leave in one write (see _answer), without Nagle's delay, as a real
    # server's would: otherwise delayed ACKs can add tens of ms to an answer on loopback.
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _answer(self, status: int, content_type: str, body: bytes) -> None:
        head = (
            f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\n"
            f"Date: {self.date_time_string()}\r\n"
            f"Content-Type: {content_type}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        )
        self.wfile.write(head.encode("ascii") + body)

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        if parts.path == "/__stats":
            stats = self.server.stats(reset="reset" in parts.query)
            self._answer(200, "application/json", json.dumps(stats).encode())
            return
        self.server.enter()
        try:
            time.sleep(self.server.latency)
            if parts.path == "/robots.txt":
                self._answer(200, "text/plain", b"User-agent: *\nAllow: /\n")
                return
            folder, _, name = parts.path.rpartition("/")
            data = self.server.images.get(name) if folder in ("/img", "/warm") else None
            if data is None:
                self._answer(404, "text/plain", b"not found\n")
            else:
                self._answer(200, "image/jpeg", data)
        finally:
            self.server.leave()


def serve(folder: Path, latency_ms: float, port: int) -> None:
    """Serve ``folder/*.jpg`` from memory until standard input closes; print the port first."""
    images = {p.name: p.read_bytes() for p in sorted(folder.glob("*.jpg"))}
    server = _Server(port, images, latency_ms / 1000)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    print(f"PORT {server.server_port}", flush=True)
    sys.stdin.read()  # the parent closes our stdin (or dies) to stop us
    server.shutdown()
    server.server_close()


class ServerProcess:
    """The image server in a child process; ``restart`` keeps the same port (and so the URLs)."""

    def __init__(self, folder: Path, latency_ms: float) -> None:
        self.folder = folder
        self.latency_ms = latency_ms
        self.port = 0
        self._process: subprocess.Popen[str] | None = None

    def start(self) -> None:
        """Start the child and read its port (the same one again after a ``restart``)."""
        self._process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bench.harness.server",
                str(self.folder),
                "--latency",
                str(self.latency_ms),
                "--port",
                str(self.port),
            ],
            cwd=REPO,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self._process.stdout is not None
        line = self._process.stdout.readline()
        if not line.startswith("PORT "):
            self.stop()
            raise RuntimeError(f"the image server did not start: {line!r}")
        self.port = int(line.split()[1])

    def stop(self) -> None:
        """Close the child's standard input, which stops it; kill it if it lingers."""
        process, self._process = self._process, None
        if process is None:
            return
        assert process.stdin is not None
        process.stdin.close()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def restart(self) -> None:
        """A fresh server (no open connections, counts at zero) on the same port."""
        self.stop()
        self.start()

    def url(self, path: str) -> str:
        """``http://127.0.0.1:<port><path>``."""
        return f"http://{HOST}:{self.port}{path}"

    def stats(self, reset: bool = False) -> dict[str, int]:
        """Requests seen and the most in flight at once since the last reset (then reset)."""
        import httpx

        with httpx.Client(trust_env=False, timeout=10) as client:
            answer = client.get(self.url("/__stats" + ("?reset=1" if reset else "")))
            return answer.json()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now (for a launcher's rendezvous)."""
    import socket

    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def main(argv: list[str] | None = None) -> int:
    """The child process: serve FOLDER until standard input closes."""
    parser = argparse.ArgumentParser(prog="python -m bench.harness.server")
    parser.add_argument("folder", type=Path, help="the *.jpg files to serve")
    parser.add_argument("--latency", type=float, default=50.0, help="wait per request, ms")
    parser.add_argument("--port", type=int, default=0, help="0: an ephemeral one")
    args = parser.parse_args(argv)
    serve(args.folder, args.latency, args.port)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
