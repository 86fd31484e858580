"""The downloader against a loopback server that misbehaves in every way the web does."""

import asyncio
import time

import pytest

from craft_dag.collection.downloader import Downloader
from craft_dag.collection.records import FetchFailure
from craft_dag.imaging.decode import ImageRejected, decode_image
from tests.collection.conftest import UA, config, fetch
from tests.support.image_server import ImageServer


def failure(url: str, **overrides: object) -> FetchFailure:
    with pytest.raises(FetchFailure) as excinfo:
        fetch(url, **overrides)
    return excinfo.value


@pytest.mark.parametrize(
    ("name", "fmt", "mode"),
    [
        ("photo.jpg", "JPEG", "RGB"),
        ("photo.png", "PNG", "RGB"),
        ("photo.webp", "WEBP", "RGB"),
        ("anim.gif", "GIF", None),
        ("cmyk.jpg", "JPEG", "CMYK"),
        ("gray16.png", "PNG", None),
    ],
)
def test_valid_images(server: ImageServer, name: str, fmt: str, mode: str | None) -> None:
    fetched = fetch(server.url(f"/img/{name}"))
    assert fetched.attempts == 1 and fetched.http_status == 200
    decoded = decode_image(fetched.data)
    assert decoded.format == fmt
    if mode:
        assert decoded.mode == mode
    assert server.requests_to("/img/")[-1].headers.get("User-Agent") == UA


def test_exif_rotated_image_is_stored_upright(server: ImageServer) -> None:
    decoded = decode_image(fetch(server.url("/img/exif_rotated.jpg")).data)
    assert decoded.reoriented and (decoded.width, decoded.height) == (480, 640)


def test_500_then_success_is_retried(server: ImageServer) -> None:
    fetched = fetch(server.url("/flaky/a/photo.jpg"))
    assert fetched.attempts == 2
    assert len(server.requests_to("/flaky/a/")) == 2


def test_persistent_5xx_gives_up_after_the_retries(server: ImageServer) -> None:
    f = failure(server.url("/status/503"))
    assert f.reason == "server_error" and f.retryable and f.http_status == 503
    assert f.attempts == 3  # one try and max_retries=2 retries


def test_429_honours_retry_after(server: ImageServer) -> None:
    fetched = fetch(server.url("/ratelimited/b/photo.jpg?retry_after=1"))
    assert fetched.attempts == 2
    first, second = server.requests_to("/ratelimited/b/")
    assert second.time - first.time >= 0.95


def test_retry_after_over_the_limit_is_not_waited_for(server: ImageServer) -> None:
    f = failure(server.url("/ratelimited/c/photo.jpg?retry_after=9"), max_retry_after=2.0)
    assert f.reason == "rate_limited" and "over the 2s limit" in f.detail


def test_stalled_body_is_a_read_timeout(server: ImageServer) -> None:
    started = time.monotonic()
    f = failure(server.url("/slow/photo.jpg?stall=5"), max_retries=0)
    assert f.reason == "timeout" and f.retryable
    assert time.monotonic() - started < 3


def test_trickling_body_hits_the_whole_transfer_limit(server: ImageServer) -> None:
    f = failure(server.url("/trickle/photo.jpg?total=6"), max_retries=0, total_timeout=2.0)
    assert f.reason == "timeout" and "whole transfer" in f.detail


def test_truncated_body(server: ImageServer) -> None:
    f = failure(server.url("/truncated/photo.jpg"), max_retries=1)
    assert f.reason == "truncated" and f.retryable and f.attempts == 2


def test_html_served_as_jpeg_is_not_an_image(server: ImageServer) -> None:
    fetched = fetch(server.url("/html-as-jpeg"))
    assert "image/jpeg" in fetched.content_type
    with pytest.raises(ImageRejected) as excinfo:
        decode_image(fetched.data)
    assert excinfo.value.reason == "not_an_image"


def test_declared_huge_body_is_refused_before_reading(server: ImageServer) -> None:
    f = failure(server.url("/huge"))
    assert f.reason == "too_large" and "Content-Length 10737418240" in f.detail
    assert not f.retryable


def test_undeclared_huge_body_is_cut_while_streaming(server: ImageServer) -> None:
    f = failure(server.url("/huge-chunked"), max_bytes=2**20)
    assert f.reason == "too_large" and "body over" in f.detail


def test_redirect_chain_is_followed(server: ImageServer) -> None:
    fetched = fetch(server.url("/redirect/3/photo.jpg"))
    assert decode_image(fetched.data).format == "JPEG"
    assert fetched.url == server.url("/redirect/3/photo.jpg")


def test_redirect_loop(server: ImageServer) -> None:
    f = failure(server.url("/redirect-loop"))
    assert f.reason == "too_many_redirects" and f.attempts == 1


def test_too_long_redirect_chain(server: ImageServer) -> None:
    assert (
        failure(server.url("/redirect/9/photo.jpg"), max_redirects=3).reason == "too_many_redirects"
    )


@pytest.mark.parametrize(
    "target",
    ["http://169.254.169.254/latest/meta-data/", "http://10.1.2.3/x.jpg", "http://[::1]/x.jpg"],
)
def test_redirect_to_a_forbidden_address_is_refused(server: ImageServer, target: str) -> None:
    f = failure(server.url(f"/redirect-to?location={target}"))
    assert f.reason == "forbidden_address"
    assert len(server.requests) == 1 + 1  # robots.txt and the redirecting request only


def test_loopback_is_refused_unless_allowed(server: ImageServer) -> None:
    f = failure(server.url("/img/photo.jpg"), allow_networks=())
    assert f.reason == "forbidden_address" and "127.0.0.1" in f.detail
    assert server.requests == []


def test_localhost_name_resolving_to_loopback_is_refused(server: ImageServer) -> None:
    url = server.url("/img/photo.jpg").replace("127.0.0.1", "localhost")
    assert failure(url, allow_networks=()).reason == "forbidden_address"


@pytest.mark.parametrize("url", ["ftp://example.org/a.jpg", "file:///etc/passwd", "not a url"])
def test_only_http_urls(url: str) -> None:
    assert failure(url).reason == "bad_url"


def test_decompression_bomb(server: ImageServer) -> None:
    fetched = fetch(server.url("/img/bomb.png"))
    with pytest.raises(ImageRejected) as excinfo:
        decode_image(fetched.data)
    assert excinfo.value.reason == "decompression_bomb"


def test_x_robots_tag_noai(server: ImageServer) -> None:
    assert failure(server.url("/noai/photo.jpg")).reason == "noai"
    assert fetch(server.url("/noai/photo.jpg"), respect_noai=False).http_status == 200


def test_robots_txt(server: ImageServer) -> None:
    assert failure(server.url("/private/photo.jpg")).reason == "robots_disallowed"
    assert len(server.requests_to("/private/")) == 0
    assert fetch(server.url("/private/photo.jpg"), respect_robots=False).http_status == 200


def test_4xx_is_final_and_not_retried(server: ImageServer) -> None:
    f = failure(server.url("/status/404"))
    assert f.reason == "http_error" and not f.retryable and f.attempts == 1


def test_per_host_rate_limit_spaces_requests(server: ImageServer) -> None:
    async def run() -> None:
        async with Downloader(config(per_host_rate=10.0, respect_robots=False)) as d:
            await asyncio.gather(*(d.fetch(server.url(f"/img/photo.jpg?n={i}")) for i in range(6)))

    asyncio.run(run())
    times = sorted(r.time for r in server.requests_to("/img/"))
    assert times[-1] - times[0] >= 0.45  # 6 starts at 10/s: at least 5 intervals of 0.1 s


def test_per_host_concurrency_bounds_requests_in_flight(server: ImageServer) -> None:
    async def run() -> float:
        async with Downloader(config(per_host_concurrency=2, respect_robots=False)) as d:
            started = time.monotonic()
            await asyncio.gather(
                *(d.fetch(server.url(f"/img/photo.jpg?delay=0.3&n={i}")) for i in range(6))
            )
            return time.monotonic() - started

    assert asyncio.run(run()) >= 0.85  # 6 requests of 0.3 s, 2 at a time: 3 rounds
