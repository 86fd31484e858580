"""The loopback image server does what the downloader's tests rely on."""

import io
import itertools
import socket
import struct
import threading
import time
from collections.abc import Iterator

import httpx
import numpy as np
import pytest
from PIL import Image, ImageOps

from tests.support import image_server as support
from tests.support.image_server import ImageServer, builtin_images

image_server = support.image_server  # the fixture, made visible to this module

TEN_GIB = 10 * 1024**3


@pytest.fixture
def client(image_server: ImageServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=image_server.base_url, timeout=5.0, follow_redirects=False) as http:
        yield http


def api_params(query: str, **extra: str | int) -> dict[str, str | int]:
    return {
        "action": "query",
        "format": "json",
        "formatversion": 2,
        "generator": "search",
        "gsrsearch": query,
        "gsrnamespace": 6,
        "gsrlimit": 10,
        "prop": "imageinfo",
        "iiprop": "url|size|mime|extmetadata",
        "iiurlwidth": 320,
        "maxlag": 5,
        **extra,
    }


# --- Life cycle and request log ----------------------------------------------------------------


def test_binds_loopback_only_and_stops(image_server: ImageServer) -> None:
    host, port = image_server.address
    assert host == "127.0.0.1" and port > 0
    assert image_server.base_url == f"http://127.0.0.1:{port}"
    assert image_server.url("img/x.jpg") == image_server.url("/img/x.jpg")

    other = ImageServer().start()
    other_port = other.address[1]
    # A request stalled for 10 s must not hold up stop().
    stalled = socket.create_connection(("127.0.0.1", other_port), timeout=5)
    stalled.sendall(b"GET /slow/photo.jpg?stall=10 HTTP/1.1\r\nHost: x\r\n\r\n")
    assert stalled.recv(4096).startswith(b"HTTP/1.1 200")
    started = time.monotonic()
    other.stop()
    other.stop()  # twice is harmless
    assert time.monotonic() - started < 2
    stalled.close()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", other_port), timeout=1).close()


def test_request_log_and_reset(image_server: ImageServer, client: httpx.Client) -> None:
    before = time.monotonic()
    client.get("/img/photo.jpg?width=10", headers={"User-Agent": "craft-test/1.0"})
    client.head("/img/photo.png")
    client.get("/robots.txt")
    records = image_server.requests_to("/img/")
    assert [(r.method, r.path) for r in records] == [
        ("GET", "/img/photo.jpg?width=10"),
        ("HEAD", "/img/photo.png"),
    ]
    assert records[0].header("user-agent") == "craft-test/1.0"
    assert records[0].route == "/img/photo.jpg" and records[0].query == {"width": "10"}
    assert before <= records[0].time <= records[1].time <= time.monotonic()
    assert len(image_server.requests) == 3
    image_server.reset()
    assert image_server.requests == []


# --- Images ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "fmt", "mode"),
    [
        ("photo.jpg", "JPEG", "RGB"),
        ("photo.png", "PNG", "RGB"),
        ("photo.webp", "WEBP", "RGB"),
        ("anim.gif", "GIF", "P"),
        ("cmyk.jpg", "JPEG", "CMYK"),
        ("gray16.png", "PNG", "I;16"),
        ("exif_rotated.jpg", "JPEG", "RGB"),
    ],
)
def test_served_images_decode(client: httpx.Client, name: str, fmt: str, mode: str) -> None:
    response = client.get(f"/img/{name}")
    assert response.status_code == 200
    assert response.content == builtin_images()[name][0]
    assert response.headers["content-type"] == builtin_images()[name][1]
    assert int(response.headers["content-length"]) == len(response.content)
    with Image.open(io.BytesIO(response.content)) as image:
        assert (image.format, image.mode, image.size) == (fmt, mode, (640, 480))
        assert len(np.unique(np.asarray(image))) > 10  # structure, not one flat colour
        if name == "anim.gif":
            assert image.n_frames == 3


def test_exif_rotated_needs_rotating() -> None:
    with Image.open(io.BytesIO(builtin_images()["exif_rotated.jpg"][0])) as image:
        assert image.getexif()[0x0112] == 6
        upright = ImageOps.exif_transpose(image)
    assert upright.size == (480, 640)
    assert upright.getpixel((470, 10))[0] > 200  # the red marker, now top right


def test_bomb_png_is_small_and_refused_by_pillow(client: httpx.Client) -> None:
    data = client.get("/img/bomb.png").content
    assert len(data) < 2_000_000
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    assert width >= 20000 and height >= 20000
    with pytest.raises(Image.DecompressionBombError):
        Image.open(io.BytesIO(data))


def test_img_unknown_delay_and_head(image_server: ImageServer, client: httpx.Client) -> None:
    assert client.get("/img/nope.jpg").status_code == 404
    assert client.get("/nothing/here").status_code == 404
    started = time.monotonic()
    assert client.get("/img/photo.jpg?delay=0.4").status_code == 200
    assert time.monotonic() - started >= 0.35
    assert client.get("/img/photo.jpg?delay=soon").status_code == 400
    head = client.head("/img/photo.png")
    assert head.status_code == 200 and head.content == b""
    assert int(head.headers["content-length"]) == len(image_server.images["photo.png"][0])


def test_add_image(image_server: ImageServer, client: httpx.Client) -> None:
    image_server.add_image("note.txt", b"not an image", "text/plain")
    response = client.get("/img/note.txt")
    assert response.content == b"not an image"
    assert response.headers["content-type"] == "text/plain"


# --- Failures and limits -----------------------------------------------------------------------


def test_flaky(image_server: ImageServer, client: httpx.Client) -> None:
    assert client.get("/flaky/a/photo.jpg").status_code == 500
    assert client.get("/flaky/a/photo.jpg").status_code == 200
    assert client.get("/flaky/b/photo.jpg").status_code == 500  # keys are independent
    codes = [client.get("/flaky/c/photo.jpg?fail=2&status=503").status_code for _ in range(3)]
    assert codes == [503, 503, 200]
    image_server.reset()
    assert client.get("/flaky/a/photo.jpg").status_code == 500


def test_ratelimited(client: httpx.Client) -> None:
    first = client.get("/ratelimited/k/photo.jpg")
    assert first.status_code == 429 and first.headers["retry-after"] == "1"
    second = client.get("/ratelimited/k/photo.jpg")
    assert second.status_code == 200 and second.content.startswith(b"\xff\xd8")
    assert client.get("/ratelimited/j/photo.jpg?retry_after=3").headers["retry-after"] == "3"


def test_slow_stalls_after_100_bytes(client: httpx.Client) -> None:
    with pytest.raises(httpx.ReadTimeout):
        client.get("/slow/photo.jpg?stall=3", timeout=httpx.Timeout(5.0, read=0.3))
    response = client.get("/slow/photo.jpg?stall=0.3", timeout=httpx.Timeout(5.0, read=1.0))
    assert response.content == builtin_images()["photo.jpg"][0]


def test_trickle_reads_fast_but_takes_total(client: httpx.Client) -> None:
    started = time.monotonic()
    arrivals, body = [], b""
    with client.stream(
        "GET", "/trickle/photo.png?total=1", timeout=httpx.Timeout(5, read=0.5)
    ) as r:
        for chunk in r.iter_raw():
            arrivals.append(time.monotonic())
            body += chunk
    assert body == builtin_images()["photo.png"][0]
    assert time.monotonic() - started >= 0.9
    gaps = [later - earlier for earlier, later in itertools.pairwise(arrivals)]
    assert len(arrivals) > 5 and max(gaps) < 0.4


def test_truncated(client: httpx.Client) -> None:
    full = len(builtin_images()["photo.jpg"][0])
    received = b""
    with client.stream("GET", "/truncated/photo.jpg") as response:
        assert int(response.headers["content-length"]) == full
        try:
            for chunk in response.iter_raw():
                received += chunk
        except httpx.RemoteProtocolError:
            pass  # httpx notices the short body: the expected outcome
    assert len(received) < full


def test_html_as_jpeg(client: httpx.Client) -> None:
    response = client.get("/html-as-jpeg")
    assert response.headers["content-type"] == "image/jpeg"
    assert response.content.startswith(b"<")


@pytest.mark.parametrize("path", ["/huge", "/huge-chunked"])
def test_huge_streams_until_the_client_leaves(client: httpx.Client, path: str) -> None:
    read = 0
    with client.stream("GET", path) as response:
        if path == "/huge":
            assert int(response.headers["content-length"]) == TEN_GIB
        else:
            assert "content-length" not in response.headers
            assert response.headers["transfer-encoding"] == "chunked"
        for chunk in response.iter_raw():
            read += len(chunk)
            if read >= 1024 * 1024:
                break
    assert read >= 1024 * 1024
    assert client.get("/robots.txt").status_code == 200  # still serving


# --- Redirects and headers ---------------------------------------------------------------------


def test_redirect_chain(image_server: ImageServer, client: httpx.Client) -> None:
    locations, path = [], "/redirect/3/photo.jpg"
    for _ in range(3):
        response = client.get(path)
        assert response.status_code == 302
        path = response.headers["location"].removeprefix(image_server.base_url)
        locations.append(path)
    assert locations == ["/redirect/2/photo.jpg", "/redirect/1/photo.jpg", "/img/photo.jpg"]
    followed = client.get("/redirect/3/photo.jpg", follow_redirects=True)
    assert followed.status_code == 200 and len(followed.history) == 3


def test_redirect_loop_alternates(image_server: ImageServer, client: httpx.Client) -> None:
    path, seen = "/redirect-loop", []
    for _ in range(4):
        response = client.get(path)
        assert response.status_code == 302
        path = response.headers["location"].removeprefix(image_server.base_url)
        seen.append(path)
    assert seen == ["/redirect-loop-b", "/redirect-loop"] * 2
    with pytest.raises(httpx.TooManyRedirects):
        client.get("/redirect-loop", follow_redirects=True)


def test_redirect_to_forbidden_address(client: httpx.Client) -> None:
    for target in ("http://169.254.169.254/latest/meta-data/", "http://10.1.2.3/x.jpg"):
        response = client.get("/redirect-to", params={"location": target})
        assert response.status_code == 302 and response.headers["location"] == target
    assert client.get("/redirect-to").status_code == 400


def test_noai_robots_private_status(client: httpx.Client) -> None:
    assert client.get("/noai/photo.jpg").headers["x-robots-tag"] == "noai, noimageai"
    assert client.get("/robots.txt").text == "User-agent: *\nDisallow: /private/\n"
    assert client.get("/private/photo.jpg").content == builtin_images()["photo.jpg"][0]
    for code in (404, 403, 410, 500):
        assert client.get(f"/status/{code}").status_code == code


# --- Wikimedia Commons -------------------------------------------------------------------------


def test_commons_pagination(image_server: ImageServer, client: httpx.Client) -> None:
    for index in range(3):
        image_server.add_commons_file("borscht", f"Borscht {index}.jpg", "photo.jpg")
    first = client.get("/w/api.php", params=api_params("borscht", gsrlimit=2)).json()
    assert first["batchcomplete"] is True
    assert first["continue"] == {"gsroffset": 2, "continue": "gsroffset||"}
    pages = first["query"]["pages"]
    assert [page["title"] for page in pages] == ["File:Borscht 0.jpg", "File:Borscht 1.jpg"]
    assert [page["index"] for page in pages] == [1, 2]
    info = pages[0]["imageinfo"][0]
    assert info["url"] == image_server.url("/img/photo.jpg")
    assert (info["width"], info["height"], info["mime"]) == (640, 480, "image/jpeg")
    assert (info["thumbwidth"], info["thumbheight"]) == (320, 240)
    assert info["extmetadata"]["LicenseShortName"]["value"] == "CC BY-SA 4.0"
    assert "Jane Doe</a>" in info["extmetadata"]["Artist"]["value"]
    assert client.get(info["thumburl"]).content == builtin_images()["photo.jpg"][0]
    assert info["descriptionurl"] == image_server.url("/wiki/File:Borscht_0.jpg")
    assert client.get(info["descriptionurl"]).status_code == 200

    second = client.get("/w/api.php", params=api_params("borscht", gsrlimit=2, gsroffset=2))
    body = second.json()
    assert "continue" not in body
    assert [page["title"] for page in body["query"]["pages"]] == ["File:Borscht 2.jpg"]

    empty = client.get("/w/api.php", params=api_params("unregistered")).json()
    assert empty == {"batchcomplete": True}


def test_commons_maxlag_then_success(image_server: ImageServer, client: httpx.Client) -> None:
    image_server.add_commons_file("pelmeni", "Pelmeni.jpg", "photo.jpg")
    image_server.commons_maxlag_failures = 2
    for _ in range(2):
        response = client.get("/w/api.php", params=api_params("pelmeni"))
        assert response.status_code == 200 and response.headers["retry-after"] == "1"
        assert response.json()["error"]["code"] == "maxlag"
        assert response.json()["error"]["lag"] == 7
    response = client.get("/w/api.php", params=api_params("pelmeni"))
    assert response.json()["query"]["pages"][0]["title"] == "File:Pelmeni.jpg"


def test_commons_needs_a_user_agent(client: httpx.Client) -> None:
    del client.headers["User-Agent"]
    response = client.get("/w/api.php", params=api_params("borscht"))
    assert response.status_code == 403
    assert "error" in response.json()


def test_threads_serve_concurrently(client: httpx.Client) -> None:
    results: list[int] = []

    def fetch() -> None:
        results.append(client.get("/img/photo.jpg?delay=0.5").status_code)

    started = time.monotonic()
    threads = [threading.Thread(target=fetch) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=5)
    assert results == [200] * 4
    assert time.monotonic() - started < 1.5
