"""A loopback HTTP server of images, for the tests of the image downloader.

`ImageServer` listens on 127.0.0.1 (an ephemeral port, nothing else is ever bound) in a daemon
thread, and answers GET and HEAD with real, decodable images and with the awkward behaviours a
downloader must survive. Every loop in it is bounded in count, and every wait in time (at most
10 s, cut short when the server stops). The `image_server` fixture starts one per test.

Endpoints (HEAD answers the same status and headers without a body, and skips the body's
stalls; query parameters are clamped to the stated limits):

- ``/img/<name>``: the image (404 if unknown); ``?delay=S`` sleeps S s (max 10) first;
  other parameters (``?width=W`` of a Commons thumbnail) are ignored.
- ``/flaky/<key>/<name>``: the first ``?fail=N`` requests (default 1, max 10) for the key
  answer ``?status=`` (default 500, 400-599), later ones the image.
- ``/ratelimited/<key>/<name>``: the first ``?fail=N`` requests (default 1, max 10) for the
  key answer 429 with ``Retry-After: 1`` (or ``?retry_after=``, seconds or an HTTP date).
- ``/slow/<name>``: status, headers (the full Content-Length) and the first 100 bytes, then a
  stall of ``?stall=S`` s (default 5, max 10), then the rest.
- ``/trickle/<name>``: the body in small chunks about 50 ms apart, spread over ``?total=S`` s
  (default 6, max 10): every read is quick, the whole transfer slow.
- ``/truncated/<name>``: the full Content-Length, 60% of the bytes, then the connection closes.
- ``/html-as-jpeg``: an HTML page served as ``image/jpeg``.
- ``/huge``: ``Content-Length: 10737418240`` (10 GiB), then zero bytes in 64 KiB chunks until
  the client goes away or 64 MiB are sent; then the connection closes.
- ``/huge-chunked``: the same without a Content-Length (chunked transfer encoding); at 64 MiB
  the connection closes without the final chunk.
- ``/redirect/<n>/<name>``: n (max 50) 302 redirects ending at ``/img/<name>`` (the query is
  kept along the chain).
- ``/redirect-loop`` and ``/redirect-loop-b``: 302 to each other, forever.
- ``/redirect-to?location=URL``: 302 (or ``?status=`` 301/303/307/308) to URL, however
  forbidden (``http://169.254.169.254/...``, ``http://10.1.2.3/x.jpg``).
- ``/noai/<name>``: the image with ``X-Robots-Tag: noai, noimageai``.
- ``/robots.txt``: ``User-agent: *`` / ``Disallow: /private/``; ``/private/<name>``: the image.
- ``/status/<code>``: that status (200-599) with a short text body.
- ``/w/api.php``: a Wikimedia Commons search (``action=query&generator=search&prop=imageinfo``,
  formatversion 2 or 1) over the files added with `ImageServer.add_commons_file`; 403 without
  a User-Agent; the first `commons_maxlag_failures` requests answer a maxlag error.
- ``/wiki/<title>``: a small HTML description page (the ``descriptionurl`` of a file).
"""

from __future__ import annotations

import contextlib
import functools
import html
import io
import json
import math
import re
import socket
import socketserver
import struct
import sys
import threading
import time
import warnings
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

import numpy as np
import pytest
from PIL import Image, ImageDraw

HOST = "127.0.0.1"
MAX_WAIT_S = 10.0
MAX_FAILURES = 10
MAX_REDIRECTS = 50
HUGE_CLAIMED_BYTES = 10 * 1024**3
HUGE_MAX_SENT = 64 * 1024**2
HUGE_CHUNK = 64 * 1024
SLOW_HEAD_BYTES = 100
TRICKLE_GAP_S = 0.05
TRUNCATED_FRACTION = 0.6
MAX_REQUESTS_PER_CONNECTION = 1000
SOCKET_TIMEOUT_S = 15.0  # an idle keep-alive connection, or a client that stops reading
BOMB_SIDE = 20000
ORIENTATION_TAG = 0x0112
MAXLAG_ERROR = {
    "code": "maxlag",
    "info": "Waiting for a database server: 7 seconds lagged.",
    "host": "db1001",
    "lag": 7,
    "type": "db",
}


# --- Images -----------------------------------------------------------------------------------


def _scene(width: int = 640, height: int = 480, phase: int = 0) -> Image.Image:
    """A deterministic RGB picture: colour gradients, a checker band and a few shapes."""
    y, x = np.mgrid[0:height, 0:width]
    red = (x * 255 // max(width - 1, 1)).astype(np.uint8)
    green = (y * 255 // max(height - 1, 1)).astype(np.uint8)
    blue = ((((x // 40) + (y // 40)) % 2) * 96 + 64).astype(np.uint8)
    image = Image.fromarray(np.dstack([red, green, blue]))
    draw = ImageDraw.Draw(image)
    dx = phase * 60
    draw.ellipse((120 + dx, 140, 280 + dx, 300), fill=(250, 220, 40), outline=(0, 0, 0), width=4)
    draw.rectangle((380, 80 + dx // 2, 560, 220 + dx // 2), fill=(30, 60, 200))
    draw.polygon([(320, 460), (420, 300), (520, 460)], fill=(20, 160, 70))
    draw.line((0, 0, width - 1, height - 1), fill=(255, 255, 255), width=3)
    return image


def _encode(image: Image.Image, fmt: str, **options: Any) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def _bomb_png(side: int = BOMB_SIDE) -> bytes:
    """A valid 1-bit greyscale PNG of side x side black pixels (about 50 KB).

    The image data is one block of rows deflated once and repeated: after a full flush the
    compressor starts afresh, so each repeat is valid, and only the Adler-32 of the whole (cheap)
    is computed over all of it. Nothing of the ~50 MB of raw rows is held at once.
    """
    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)  # 1 bit, greyscale
    row = b"\x00" * (1 + (side + 7) // 8)  # filter byte 0, then the packed pixels
    rows_per_block = 500
    blocks, remainder = divmod(side, rows_per_block)
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)  # raw deflate; zlib framing by hand
    parts, checksum = [], 1
    for rows, repeat in ((rows_per_block, blocks), (remainder, 1 if remainder else 0)):
        if not repeat:
            continue
        block = row * rows
        piece = compressor.compress(block) + compressor.flush(zlib.Z_FULL_FLUSH)
        parts.append(piece * repeat)
        for _ in range(repeat):
            checksum = zlib.adler32(block, checksum)
    parts.append(compressor.flush())
    stream = b"\x78\xda" + b"".join(parts) + struct.pack(">I", checksum)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", stream)
        + _png_chunk(b"IEND", b"")
    )


@functools.cache
def builtin_images() -> dict[str, tuple[bytes, str]]:
    """The images every server starts with, made once per process: name -> (bytes, type)."""
    photo = _scene()
    frames = [
        _scene(phase=phase).quantize(colors=64, method=Image.Quantize.FASTOCTREE)
        for phase in range(3)
    ]
    gif = io.BytesIO()
    frames[0].save(gif, "GIF", save_all=True, append_images=frames[1:], duration=120, loop=0)
    gray = (np.mgrid[0:480, 0:640][1] * 65535 // 639).astype(np.uint16)
    gray[160:320, 220:420] = 40000
    rotated = _scene()
    # A pure red block in the stored top-left corner: top-right once rotated for display.
    ImageDraw.Draw(rotated).rectangle((0, 0, 79, 79), fill=(255, 0, 0))
    exif = Image.Exif()
    exif[ORIENTATION_TAG] = 6
    return {
        "photo.jpg": (_encode(photo, "JPEG", quality=90), "image/jpeg"),
        "photo.png": (_encode(photo, "PNG"), "image/png"),
        "photo.webp": (_encode(photo, "WEBP", quality=85), "image/webp"),
        "anim.gif": (gif.getvalue(), "image/gif"),
        "cmyk.jpg": (_encode(photo.convert("CMYK"), "JPEG", quality=90), "image/jpeg"),
        "gray16.png": (_encode(Image.fromarray(gray), "PNG"), "image/png"),
        "exif_rotated.jpg": (_encode(rotated, "JPEG", quality=90, exif=exif), "image/jpeg"),
        "bomb.png": (_bomb_png(), "image/png"),
    }


def image_dimensions(data: bytes) -> tuple[int, int]:
    """Width and height as displayed (EXIF rotation applied), without decoding pixels.

    A PNG's are read from its IHDR, so a decompression bomb is measured, not opened.
    """
    if data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR":
        width, height = struct.unpack(">II", data[16:24])
        return width, height
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                width, height = image.size
                orientation = image.getexif().get(ORIENTATION_TAG)
    except Exception:
        return 0, 0
    return (height, width) if orientation in (5, 6, 7, 8) else (width, height)


# --- State ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RequestRecord:
    """One request as the server saw it."""

    method: str
    path: str  # the request target: path and query, as sent
    headers: dict[str, str]
    time: float  # time.monotonic() on arrival

    @property
    def route(self) -> str:
        """The path without the query."""
        return urlsplit(self.path).path

    @property
    def query(self) -> dict[str, str]:
        return {key: values[-1] for key, values in parse_qs(urlsplit(self.path).query).items()}

    def header(self, name: str, default: str | None = None) -> str | None:
        """A header by case-insensitive name."""
        lowered = name.lower()
        for key, value in self.headers.items():
            if key.lower() == lowered:
                return value
        return default


@dataclass(frozen=True)
class CommonsFile:
    query: str
    title: str  # "File:..."
    image_name: str
    licence: str
    author: str
    description: str
    pageid: int


class ImageServer:
    """A loopback HTTP server of test images; see the module docstring for its endpoints."""

    def __init__(self) -> None:
        self.images: dict[str, tuple[bytes, str]] = dict(builtin_images())
        self.commons_maxlag_failures = 0
        self._lock = threading.Lock()
        self._requests: list[RequestRecord] = []
        self._counters: dict[tuple[str, str], int] = {}
        self._maxlag_served = 0
        self._commons: dict[str, list[CommonsFile]] = {}
        self._pageids: dict[str, int] = {}
        self._stopping = threading.Event()
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None

    # Life cycle

    def start(self) -> ImageServer:
        """Bind 127.0.0.1 on an ephemeral port and serve in a daemon thread."""
        if self._httpd is not None:
            raise RuntimeError("the image server is already running")
        httpd = _Server((HOST, 0), _Handler, self)
        if httpd.server_address[0] != HOST:  # pragma: no cover - a guard, never expected
            httpd.server_close()
            raise RuntimeError(f"bound {httpd.server_address!r}, not {HOST}")
        self._stopping.clear()
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"image-server-{httpd.server_address[1]}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, cut open connections and cancel every wait; safe to call twice."""
        httpd, thread = self._httpd, self._thread
        if httpd is None:
            return
        self._stopping.set()
        httpd.shutdown()
        httpd.close_connections()
        httpd.server_close()
        if thread is not None:
            thread.join(timeout=5)
        self._httpd = self._thread = None

    def __enter__(self) -> ImageServer:
        return self.start() if self._httpd is None else self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._httpd is not None

    @property
    def address(self) -> tuple[str, int]:
        if self._httpd is None:
            raise RuntimeError("the image server is not running")
        host, port = self._httpd.server_address[:2]
        return str(host), int(port)

    @property
    def base_url(self) -> str:
        host, port = self.address
        return f"http://{host}:{port}"

    def url(self, path: str) -> str:
        return self.base_url + (path if path.startswith("/") else "/" + path)

    # Request log and counters

    @property
    def requests(self) -> list[RequestRecord]:
        """A snapshot of every request so far, oldest first."""
        with self._lock:
            return list(self._requests)

    def requests_to(self, prefix: str) -> list[RequestRecord]:
        """The requests whose target (path and query) starts with prefix."""
        return [record for record in self.requests if record.path.startswith(prefix)]

    def reset(self) -> None:
        """Forget the request log, the flaky and rate-limit counters and the maxlag count."""
        with self._lock:
            self._requests.clear()
            self._counters.clear()
            self._maxlag_served = 0

    def _record(self, method: str, path: str, headers: dict[str, str]) -> None:
        with self._lock:
            self._requests.append(RequestRecord(method, path, headers, time.monotonic()))

    def _bump(self, kind: str, key: str) -> int:
        with self._lock:
            count = self._counters.get((kind, key), 0) + 1
            self._counters[(kind, key)] = count
            return count

    def _take_maxlag_failure(self) -> bool:
        with self._lock:
            if self._maxlag_served < self.commons_maxlag_failures:
                self._maxlag_served += 1
                return True
            return False

    def _wait(self, seconds: float) -> bool:
        """Sleep up to seconds (max 10); True if the server is stopping."""
        return self._stopping.wait(min(max(seconds, 0.0), MAX_WAIT_S))

    # Content

    def add_image(self, name: str, data: bytes, content_type: str) -> None:
        self.images[name] = (bytes(data), content_type)

    def add_commons_file(
        self,
        query: str,
        title: str,
        image_name: str,
        *,
        licence: str = "CC BY-SA 4.0",
        author: str = "Jane Doe",
        description: str = "A test image.",
    ) -> None:
        """Make a Commons search for exactly `query` also return this file (in call order)."""
        if image_name not in self.images:
            raise KeyError(f"no image {image_name!r}: add it with add_image first")
        if not title.startswith("File:"):
            title = "File:" + title
        with self._lock:
            pageid = self._pageids.setdefault(title, 1000 + len(self._pageids))
            entry = CommonsFile(query, title, image_name, licence, author, description, pageid)
            self._commons.setdefault(query, []).append(entry)

    def _commons_files(self, query: str) -> list[CommonsFile]:
        with self._lock:
            return list(self._commons.get(query, ()))


@pytest.fixture
def image_server() -> Iterator[ImageServer]:
    """A running `ImageServer` for one test."""
    server = ImageServer().start()
    try:
        yield server
    finally:
        server.stop()


# --- HTTP -------------------------------------------------------------------------------------


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = 64

    def __init__(
        self,
        address: tuple[str, int],
        handler: type[BaseHTTPRequestHandler],
        owner: ImageServer,
    ) -> None:
        self.owner = owner
        self._connections_lock = threading.Lock()
        self._connections: set[socket.socket] = set()
        super().__init__(address, handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind without its reverse DNS look-up (socket.getfqdn) of the host.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], OSError):
            return  # a client that went away, or the server stopping under it
        super().handle_error(request, client_address)


class _BadRequest(Exception):
    pass


def _number(query: dict[str, str], name: str, default: float, low: float, high: float) -> float:
    raw = query.get(name)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise _BadRequest(f"{name} must be a number") from None
    if not math.isfinite(value):
        raise _BadRequest(f"{name} must be finite")
    return min(max(value, low), high)


def _integer(query: dict[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise _BadRequest(f"{name} must be an integer") from None
    return min(max(value, low), high)


def _header_safe(value: str) -> bool:
    return len(value) <= 2000 and not any(ch in value for ch in "\r\n\x00")


_CC_LICENCE = re.compile(r"^CC (BY(?:-SA)?) (\d\.\d)$", re.IGNORECASE)


def _licence_terms(licence: str) -> tuple[str | None, str, bool]:
    """(licence URL or None, machine code, attribution required) as Commons reports them."""
    match = _CC_LICENCE.match(licence.strip())
    if match:
        kind, version = match.group(1).lower(), match.group(2)
        return (
            f"https://creativecommons.org/licenses/{kind}/{version}",
            f"cc-{kind}-{version}",
            True,
        )
    if licence.strip().upper() == "CC0":
        return "https://creativecommons.org/publicdomain/zero/1.0/deed.en", "cc0", False
    if licence.strip().lower() == "public domain":
        return None, "pd", False
    return None, licence.strip().lower().replace(" ", "-"), True


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "CraftTestImageServer/1.0"
    sys_version = ""
    timeout = SOCKET_TIMEOUT_S
    disable_nagle_algorithm = True  # headers and body go out as separate writes
    server: _Server

    # Plumbing

    def handle(self) -> None:
        self.close_connection = True
        self.handle_one_request()
        for _ in range(MAX_REQUESTS_PER_CONNECTION - 1):
            if self.close_connection or self.owner._stopping.is_set():
                return
            self.handle_one_request()

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep test output quiet; the request log is ImageServer.requests

    @property
    def owner(self) -> ImageServer:
        return self.server.owner

    def do_GET(self) -> None:
        self._dispatch(head=False)

    def do_HEAD(self) -> None:
        self._dispatch(head=True)

    def _dispatch(self, *, head: bool) -> None:
        self.head = head
        self.owner._record(self.command, self.path, dict(self.headers.items()))
        if self.headers.get("Content-Length", "0") != "0" or "Transfer-Encoding" in self.headers:
            self.close_connection = True  # an unexpected request body: never read, so close
        url = urlsplit(self.path)
        query = {key: values[-1] for key, values in parse_qs(url.query).items()}
        try:
            self._route(url.path, url.query, query)
        except _BadRequest as error:
            self._send_text(400, f"bad request: {error}\n")
        except OSError:
            self.close_connection = True  # the client went away, or the server is stopping

    def _route(self, path: str, raw_query: str, query: dict[str, str]) -> None:
        exact = {
            "/robots.txt": self._robots,
            "/html-as-jpeg": self._html_as_jpeg,
            "/huge": self._huge,
            "/huge-chunked": self._huge_chunked,
            "/redirect-loop": lambda _query: self._redirect(self.owner.url("/redirect-loop-b")),
            "/redirect-loop-b": lambda _query: self._redirect(self.owner.url("/redirect-loop")),
            "/redirect-to": self._redirect_to,
            "/w/api.php": self._commons_api,
        }
        if path in exact:
            exact[path](query)
            return
        parts = [unquote(part) for part in path.split("/")[1:]]
        head, rest = (parts[0], parts[1:]) if parts else ("", [])
        if head in ("img", "noai", "private", "slow", "trickle", "truncated") and len(rest) == 1:
            getattr(self, f"_{head}")(rest[0], query)
        elif head in ("flaky", "ratelimited") and len(rest) == 2:
            getattr(self, f"_{head}")(rest[0], rest[1], query)
        elif head == "redirect" and len(rest) == 2:
            self._redirect_chain(rest[0], rest[1], raw_query, query)
        elif head == "status" and len(rest) == 1:
            self._status(rest[0])
        elif head == "wiki" and rest:
            self._wiki("/".join(rest))
        else:
            self._send_text(404, f"not found: {path}\n")

    # Response helpers

    def _start(self, status: int, headers: dict[str, str]) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()

    def _send_body(self, status: int, body: bytes, content_type: str, **extra: str) -> None:
        headers = {"Content-Type": content_type, "Content-Length": str(len(body)), **extra}
        if status in (204, 304):
            headers.pop("Content-Length")
            body = b""
        self._start(status, headers)
        if not self.head:
            self.wfile.write(body)

    def _send_text(self, status: int, text: str, **extra: str) -> None:
        self._send_body(status, text.encode(), "text/plain; charset=utf-8", **extra)

    def _send_json(self, status: int, payload: object, **extra: str) -> None:
        body = json.dumps(payload, ensure_ascii=False).encode()
        self._send_body(status, body, "application/json; charset=utf-8", **extra)

    def _image(self, name: str) -> tuple[bytes, str] | None:
        found = self.owner.images.get(name)
        if found is None:
            self._send_text(404, f"no such image: {name}\n")
        return found

    def _send_image(self, name: str, **extra: str) -> None:
        found = self._image(name)
        if found is not None:
            self._send_body(200, found[0], found[1], **extra)

    def _redirect(self, location: str, status: int = 302) -> None:
        self._send_text(status, f"redirecting to {location}\n", Location=location)

    # Endpoints

    def _img(self, name: str, query: dict[str, str]) -> None:
        if self.owner._wait(_number(query, "delay", 0.0, 0.0, MAX_WAIT_S)):
            self.close_connection = True
            return
        self._send_image(name)

    def _noai(self, name: str, query: dict[str, str]) -> None:
        self._send_image(name, **{"X-Robots-Tag": "noai, noimageai"})

    def _private(self, name: str, query: dict[str, str]) -> None:
        self._send_image(name)

    def _robots(self, query: dict[str, str]) -> None:
        self._send_text(200, "User-agent: *\nDisallow: /private/\n")

    def _html_as_jpeg(self, query: dict[str, str]) -> None:
        page = (
            "<!DOCTYPE html>\n<html><head><title>Just a moment...</title></head>"
            "<body><p>Please enable JavaScript to view this image.</p></body></html>\n"
        )
        self._send_body(200, page.encode(), "image/jpeg")

    def _flaky(self, key: str, name: str, query: dict[str, str]) -> None:
        failures = _integer(query, "fail", 1, 0, MAX_FAILURES)
        status = _integer(query, "status", 500, 0, 999)
        if not 400 <= status <= 599:
            raise _BadRequest("status must be 400-599")
        if self._image(name) is None:  # answers 404 itself
            return
        count = self.owner._bump("flaky", key)
        if count <= failures:
            self._send_text(status, f"flaky failure {count} of {failures}\n")
        else:
            self._send_image(name)

    def _ratelimited(self, key: str, name: str, query: dict[str, str]) -> None:
        failures = _integer(query, "fail", 1, 0, MAX_FAILURES)
        retry_after = query.get("retry_after", "1")
        if not _header_safe(retry_after):
            raise _BadRequest("retry_after is not a header value")
        if self._image(name) is None:  # answers 404 itself
            return
        count = self.owner._bump("ratelimited", key)
        if count <= failures:
            self._send_text(429, "too many requests\n", **{"Retry-After": retry_after})
        else:
            self._send_image(name)

    def _slow(self, name: str, query: dict[str, str]) -> None:
        stall = _number(query, "stall", 5.0, 0.0, MAX_WAIT_S)
        found = self._image(name)
        if found is None:
            return
        data, content_type = found
        self._start(200, {"Content-Type": content_type, "Content-Length": str(len(data))})
        if self.head:
            return
        self.wfile.write(data[:SLOW_HEAD_BYTES])
        self.wfile.flush()
        if self.owner._wait(stall):
            self.close_connection = True
            return
        self.wfile.write(data[SLOW_HEAD_BYTES:])

    def _trickle(self, name: str, query: dict[str, str]) -> None:
        total = _number(query, "total", 6.0, 0.0, MAX_WAIT_S)
        found = self._image(name)
        if found is None:
            return
        data, content_type = found
        self._start(200, {"Content-Type": content_type, "Content-Length": str(len(data))})
        if self.head:
            return
        steps = max(1, min(len(data), round(total / TRICKLE_GAP_S) + 1))  # at most 201
        size = math.ceil(len(data) / steps) if data else 0
        gap = total / (steps - 1) if steps > 1 else 0.0
        for index in range(steps):
            self.wfile.write(data[index * size : (index + 1) * size])
            self.wfile.flush()
            if index < steps - 1 and self.owner._wait(gap):
                self.close_connection = True
                return

    def _truncated(self, name: str, query: dict[str, str]) -> None:
        found = self._image(name)
        if found is None:
            return
        data, content_type = found
        self._start(200, {"Content-Type": content_type, "Content-Length": str(len(data))})
        if self.head:
            return
        self.wfile.write(data[: int(len(data) * TRUNCATED_FRACTION)])
        self.wfile.flush()
        self.close_connection = True

    def _huge(self, query: dict[str, str]) -> None:
        self._start(200, {"Content-Type": "image/jpeg", "Content-Length": str(HUGE_CLAIMED_BYTES)})
        if not self.head:
            self._stream_zeros(chunked=False)

    def _huge_chunked(self, query: dict[str, str]) -> None:
        self._start(200, {"Content-Type": "image/jpeg", "Transfer-Encoding": "chunked"})
        if not self.head:
            self._stream_zeros(chunked=True)

    def _stream_zeros(self, *, chunked: bool) -> None:
        zeros = bytes(HUGE_CHUNK)
        piece = b"%x\r\n" % HUGE_CHUNK + zeros + b"\r\n" if chunked else zeros
        self.close_connection = True  # the body never completes: close once the bound is hit
        for _ in range(HUGE_MAX_SENT // HUGE_CHUNK):
            if self.owner._stopping.is_set():
                return
            self.wfile.write(piece)

    def _redirect_chain(self, hops: str, name: str, raw_query: str, query: dict[str, str]) -> None:
        try:
            remaining = int(hops)
        except ValueError:
            raise _BadRequest("the hop count must be an integer") from None
        if not 0 <= remaining <= MAX_REDIRECTS:
            raise _BadRequest(f"the hop count must be 0-{MAX_REDIRECTS}")
        if remaining == 0:
            self._img(name, query)
            return
        quoted = quote(name)
        target = f"/img/{quoted}" if remaining == 1 else f"/redirect/{remaining - 1}/{quoted}"
        self._redirect(self.owner.url(target + (f"?{raw_query}" if raw_query else "")))

    def _redirect_to(self, query: dict[str, str]) -> None:
        location = query.get("location")
        if not location or not _header_safe(location):
            raise _BadRequest("location must be given, on one line")
        status = _integer(query, "status", 302, 0, 999)
        if status not in (301, 302, 303, 307, 308):
            raise _BadRequest("status must be 301, 302, 303, 307 or 308")
        self._redirect(location, status)

    def _status(self, code: str) -> None:
        try:
            status = int(code)
        except ValueError:
            raise _BadRequest("the status must be an integer") from None
        if not 200 <= status <= 599:
            raise _BadRequest("the status must be 200-599")
        self._send_text(status, f"status {status}\n")

    def _wiki(self, title: str) -> None:
        name = html.escape(title.replace("_", " "))
        page = f"<!DOCTYPE html>\n<html><head><title>{name}</title></head><body><h1>{name}</h1></body></html>\n"
        self._send_body(200, page.encode(), "text/html; charset=utf-8")

    # Wikimedia Commons

    def _api_error(self, code: str, info: str, **extra: str) -> None:
        payload = {"error": {"code": code, "info": info}, "servedby": "mw-test"}
        self._send_json(200, payload, **{"MediaWiki-API-Error": code, **extra})

    def _commons_api(self, query: dict[str, str]) -> None:
        if not (self.headers.get("User-Agent") or "").strip():
            info = "Please set a user-agent and respect our robot policy https://w.wiki/4wJS."
            self._send_json(403, {"error": {"code": "useragent-required", "info": info}})
            return
        if self.owner._take_maxlag_failure():
            self._send_json(
                200,
                {"error": MAXLAG_ERROR, "servedby": "mw-test"},
                **{"Retry-After": "1", "X-Database-Lag": "7", "MediaWiki-API-Error": "maxlag"},
            )
            return
        for name, expected in (("action", "query"), ("format", "json"), ("generator", "search")):
            if query.get(name) != expected:
                self._api_error(
                    "badvalue",
                    f'Unrecognized value for parameter "{name}": this test server needs {expected}.',
                )
                return
        search = query.get("gsrsearch")
        if not search:
            self._api_error("missingparam", 'The "gsrsearch" parameter must be set.')
            return
        limit_raw = query.get("gsrlimit", "10")
        try:
            limit = 500 if limit_raw == "max" else min(max(int(limit_raw), 1), 500)
            offset = max(int(query.get("gsroffset", "0")), 0)
            width = int(query["iiurlwidth"]) if "iiurlwidth" in query else None
        except ValueError:
            self._api_error("badinteger", "gsrlimit, gsroffset and iiurlwidth must be integers.")
            return
        namespaces = set(query.get("gsrnamespace", "0").split("|"))
        files = self.owner._commons_files(search) if "6" in namespaces else []
        props = set(query.get("prop", "").split("|"))
        iiprop = set(query.get("iiprop", "timestamp|user").split("|"))
        version2 = query.get("formatversion") in ("2", "latest")

        result: dict[str, Any] = {"batchcomplete": True if version2 else ""}
        window = files[offset : offset + limit]
        if offset + limit < len(files):
            result["continue"] = {"gsroffset": offset + limit, "continue": "gsroffset||"}
        if window:
            pages = []
            for position, entry in enumerate(window, start=offset + 1):
                page: dict[str, Any] = {
                    "pageid": entry.pageid,
                    "ns": 6,
                    "title": entry.title,
                    "index": position,
                }
                if "imageinfo" in props:
                    page["imagerepository"] = "local"
                    page["imageinfo"] = [self._imageinfo(entry, iiprop, width)]
                pages.append(page)
            if version2:
                result["query"] = {"pages": pages}
            else:
                result["query"] = {"pages": {str(page["pageid"]): page for page in pages}}
        self._send_json(200, result)

    def _imageinfo(self, entry: CommonsFile, iiprop: set[str], width: int | None) -> dict:
        data, content_type = self.owner.images.get(entry.image_name, (b"", "image/jpeg"))
        full_width, full_height = image_dimensions(data)
        base = self.owner.base_url
        info: dict[str, Any] = {}
        if "timestamp" in iiprop:
            info["timestamp"] = "2024-01-01T00:00:00Z"
        if "user" in iiprop:
            info["user"] = entry.author
        if "size" in iiprop:
            info.update(size=len(data), width=full_width, height=full_height)
        if "url" in iiprop:
            url = f"{base}/img/{quote(entry.image_name)}"
            if width is not None and width > 0:
                if width < full_width:
                    info["thumburl"] = f"{url}?width={width}"
                    info["thumbwidth"] = width
                    info["thumbheight"] = max(1, round(full_height * width / full_width))
                else:  # Commons does not upscale: the "thumbnail" is the original
                    info.update(thumburl=url, thumbwidth=full_width, thumbheight=full_height)
            info["url"] = url
            info["descriptionurl"] = (
                f"{base}/wiki/{quote(entry.title.replace(' ', '_'), safe=':/(),')}"
            )
            info["descriptionshorturl"] = f"{base}/w/index.php?curid={entry.pageid}"
        if "mime" in iiprop:
            info["mime"] = content_type.split(";")[0].strip()
        if "extmetadata" in iiprop:
            info["extmetadata"] = self._extmetadata(entry)
        return info

    def _extmetadata(self, entry: CommonsFile) -> dict[str, dict[str, str]]:
        def field(value: str, source: str = "commons-desc-page") -> dict[str, str]:
            return {"value": value, "source": source}

        base = self.owner.base_url
        licence_url, code, attribution = _licence_terms(entry.licence)
        user_page = f"{base}/wiki/User:{quote(entry.author.replace(' ', '_'))}"
        artist = (
            f'<a href="{html.escape(user_page)}" title="User:{html.escape(entry.author)}">'
            f"{html.escape(entry.author)}</a>"
        )
        name = entry.title.removeprefix("File:").rsplit(".", 1)[0]
        metadata = {
            "DateTime": field("2024-01-01 00:00:00", "mediawiki-metadata"),
            "ObjectName": field(name),
            "ImageDescription": field(entry.description),
            "Artist": field(artist),
            "LicenseShortName": field(entry.licence),
            "License": field(code),
            "UsageTerms": field(entry.licence),
            "AttributionRequired": field("true" if attribution else "false"),
            "Copyrighted": field("False" if code in ("cc0", "pd") else "True"),
        }
        if licence_url is not None:
            metadata["LicenseUrl"] = field(licence_url)
        return metadata
