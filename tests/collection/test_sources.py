"""Image sources: Wikimedia Commons (API-shaped loopback responder), URL manifests, folders."""

import asyncio
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from craft_dag.collection.downloader import Downloader
from craft_dag.collection.records import Candidate, EntityRef
from craft_dag.collection.sources import (
    ImageSource,
    LocalFolderSource,
    UrlManifestSource,
    WikimediaCommonsSource,
)
from tests.collection.conftest import config
from tests.support.image_server import ImageServer

GAGARIN = EntityRef(
    "yuri_gagarin",
    "famous_personalities",
    "Юрий Гагарин",
    "Yuri Gagarin",
    ("космонавт Гагарин", "Гагарин в скафандре"),
)


def distinct(server: ImageServer, name: str, like: str = "photo.jpg") -> str:
    """Register another name for a served image: real Commons files have distinct URLs."""
    server.add_image(name, *server.images[like])
    return name


def candidates(source: ImageSource, entity: EntityRef, per_query: int) -> list[Candidate]:
    async def run() -> list[Candidate]:
        async with Downloader(config()) as downloader:
            return await source.candidates(entity, per_query, downloader)

    return asyncio.run(run())


def test_commons_search_with_continuation_licence_and_author(server: ImageServer) -> None:
    for i in range(3):
        server.add_commons_file(
            "космонавт Гагарин",
            f"File:Gagarin {i}.jpg",
            distinct(server, f"g{i}.jpg"),
            licence="CC BY-SA 4.0",
            author="Jane Doe",
        )
    server.add_commons_file(
        "Гагарин в скафандре", "File:Gagarin suit.png", "photo.png", licence="Public domain"
    )
    source = WikimediaCommonsSource(api_url=server.url("/w/api.php"), thumb_width=640, page_size=2)
    found = candidates(source, GAGARIN, per_query=5)

    assert [c.title for c in found] == [
        "File:Gagarin 0.jpg",
        "File:Gagarin 1.jpg",
        "File:Gagarin 2.jpg",
        "File:Gagarin suit.png",
    ]
    assert [c.query for c in found] == ["космонавт Гагарин"] * 3 + ["Гагарин в скафандре"]
    assert [c.rank for c in found] == [0, 1, 2, 3]
    assert found[0].licence == "CC BY-SA 4.0" and found[0].author == "Jane Doe"  # HTML stripped
    assert found[3].licence == "Public domain"
    assert all(c.page_url for c in found)

    api = [r for r in server.requests_to("/w/api.php")]
    assert len(api) == 3  # two pages for the first query, one for the second
    assert all("maxlag=5" in r.path and "iiurlwidth=640" in r.path for r in api)
    assert all("craft_dag-tests" in r.headers.get("User-Agent", "") for r in api)


def test_commons_waits_out_maxlag(server: ImageServer) -> None:
    server.add_commons_file("космонавт Гагарин", "File:G.jpg", "photo.jpg")
    server.commons_maxlag_failures = 1
    source = WikimediaCommonsSource(api_url=server.url("/w/api.php"))
    found = candidates(source, GAGARIN, per_query=3)
    assert [c.title for c in found] == ["File:G.jpg"]
    assert len(server.requests_to("/w/api.php")) == 3  # lagged, retried, then the second query


def test_commons_respects_the_per_query_quota(server: ImageServer) -> None:
    for i in range(5):
        server.add_commons_file(
            "космонавт Гагарин", f"File:G{i}.jpg", distinct(server, f"g{i}.jpg")
        )
    source = WikimediaCommonsSource(api_url=server.url("/w/api.php"))
    assert len(candidates(source, GAGARIN, per_query=2)) == 2


def test_url_manifest_csv_and_parquet(tmp_path: Path) -> None:
    rows = [
        {
            "entity_id": "yuri_gagarin",
            "url": "https://example.org/a.jpg",
            "licence": "CC0",
            "author": "A",
        },
        {"entity_id": "other", "url": "https://example.org/b.jpg", "licence": "", "author": ""},
        {
            "entity_id": "yuri_gagarin",
            "url": "https://example.org/c.jpg",
            "licence": "",
            "author": "",
        },
    ]
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "urls.parquet")
    found = candidates(UrlManifestSource(str(tmp_path / "urls.parquet")), GAGARIN, per_query=10)
    assert [c.url for c in found] == ["https://example.org/a.jpg", "https://example.org/c.jpg"]
    assert found[0].licence == "CC0" and found[0].source == "manifest"

    (tmp_path / "bad.csv").write_text("entity,link\nx,y\n", encoding="utf-8")
    with pytest.raises(ValueError, match="lacks column"):
        UrlManifestSource(str(tmp_path / "bad.csv"))


def test_local_folder_with_provenance_manifest(tmp_path: Path) -> None:
    folder = tmp_path / "famous_personalities" / "yuri_gagarin"
    folder.mkdir(parents=True)
    for name in ("b.jpg", "a.png", "notes.txt"):
        (folder / name).write_bytes(b"x")
    (tmp_path / "manifest.csv").write_text(
        "path,licence,author\nfamous_personalities/yuri_gagarin/a.png,CC0-1.0,Someone\n",
        encoding="utf-8",
    )
    found = candidates(LocalFolderSource(str(tmp_path)), GAGARIN, per_query=10)
    assert [c.title for c in found] == ["a.png", "b.jpg"]
    assert (found[0].licence, found[0].author) == ("CC0-1.0", "Someone")
    assert found[1].licence == ""
    assert found[0].url.startswith("file://")


def test_missing_local_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="craft samples build"):
        LocalFolderSource(str(tmp_path / "nowhere"))
