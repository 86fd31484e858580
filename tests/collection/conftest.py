import asyncio
from collections.abc import Callable

import pytest

from craft_dag.collection.downloader import Downloader, DownloaderConfig
from craft_dag.collection.records import Fetched
from tests.support.image_server import ImageServer, image_server  # noqa: F401  (fixture)

UA = "craft_dag-tests/1 (+https://example.org/craft-tests)"


def config(**overrides: object) -> DownloaderConfig:
    """Short timeouts and backoff so misbehaviour shows in seconds; loopback allowed explicitly."""
    values: dict[str, object] = dict(
        user_agent=UA,
        concurrency=8,
        per_host_concurrency=8,
        per_host_rate=0,
        connect_timeout=2.0,
        read_timeout=1.0,
        total_timeout=3.0,
        max_retries=2,
        backoff_base=0.05,
        max_bytes=4 * 2**20,
        allow_networks=("127.0.0.1/32",),
    )
    values.update(overrides)
    return DownloaderConfig(**values)  # type: ignore[arg-type]


def fetch(url: str, **overrides: object) -> Fetched:
    async def run() -> Fetched:
        async with Downloader(config(**overrides)) as downloader:
            return await downloader.fetch(url)

    return asyncio.run(run())


@pytest.fixture
def server(image_server: ImageServer) -> ImageServer:  # noqa: F811
    return image_server


Fetch = Callable[..., Fetched]
