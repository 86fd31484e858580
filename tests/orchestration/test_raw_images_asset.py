"""The ``raw_images`` asset through Dagster: the sample set, a URL list on a loopback server."""

import csv
from pathlib import Path

import pytest
from dagster import materialize

from craft_dag.assets.catalog import entities, pack_files
from craft_dag.assets.collection import collection_checks, raw_images
from craft_dag.catalog.pack import bundled_pack_path, load_pack
from craft_dag.collection.collect_category import FETCH_LOG, IMAGES
from craft_dag.collection.samples import build_sample_set, read_manifest
from craft_dag.resources import (
    DownloaderResource,
    LocalFolderSourceResource,
    UrlManifestSourceResource,
)
from craft_dag.storage import Storage
from tests.orchestration.helpers import resources
from tests.support.image_server import ImageServer, image_server  # noqa: F401

RU = bundled_pack_path("ru")
ASSETS = [pack_files, entities, raw_images, *collection_checks]


@pytest.fixture(scope="module")
def samples(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pack = load_pack(RU)
    root = tmp_path_factory.mktemp("samples")
    build_sample_set(root, {c: [e.id for e in pack.entities[c]] for c in pack.category_ids})
    return root


def test_raw_images_from_the_sample_set(samples: Path, tmp_path: Path) -> None:
    category = "fauna"
    res = {
        **resources(RU, str(tmp_path / "store")),
        "image_source": LocalFolderSourceResource(root=str(samples)),
        "downloader": DownloaderResource(),
    }
    result = materialize(ASSETS, partition_key=category, resources=res)
    assert result.success

    planted = [s for s in read_manifest(samples) if s.category == category]
    broken = {"truncated", "empty", "not_an_image", "too_small"} & {s.planted for s in planted}
    store = Storage(str(tmp_path / "store"))
    images = store.read_table(IMAGES, category)
    log = store.read_table(FETCH_LOG, category)
    assert images.num_rows + log.num_rows == len(planted)
    assert {r["licence"] for r in images.to_pylist()} <= {s.licence for s in planted}

    mat = result.asset_materializations_for_node("raw_images")[0]
    md = mat.metadata
    assert md["dagster/row_count"].value == images.num_rows
    assert "| ok |" in md["outcomes"].value
    assert md["sample"].value.startswith("![sample of collected images](data:image/png;base64,")
    assert len(md["entities_without_images"].value) == len(load_pack(RU).entities[category]) - 2
    checks = {
        c.check_name: c
        for c in result.get_asset_check_evaluations()
        if c.asset_key.path == ["raw_images"]
    }
    assert checks["raw_images_rows_and_blobs"].passed
    assert checks["raw_images_provenance"].passed
    assert not checks["raw_images_coverage"].passed  # the sample set covers 2 entities a category
    if broken:
        assert log.num_rows >= 1


def test_raw_images_from_a_url_list(image_server: ImageServer, tmp_path: Path) -> None:  # noqa: F811
    pack = load_pack(RU)
    first, second = (e.id for e in pack.entities["technic"][:2])
    manifest = tmp_path / "urls.csv"
    with manifest.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["entity_id", "url", "licence", "author"])
        w.writerow([first, image_server.url("/img/photo.jpg"), "CC0-1.0", "A"])
        w.writerow([first, image_server.url("/flaky/x/photo.png"), "CC0-1.0", "B"])
        w.writerow([second, image_server.url("/status/404"), "", ""])
    res = {
        **resources(RU, str(tmp_path / "store")),
        "image_source": UrlManifestSourceResource(path=str(manifest)),
        "downloader": DownloaderResource(allow_networks=["127.0.0.1/32"], max_retries=1),
    }
    result = materialize(ASSETS, partition_key="technic", resources=res)
    assert result.success
    store = Storage(str(tmp_path / "store"))
    assert store.read_table(IMAGES, "technic")["entity_id"].to_pylist() == [first, first]
    assert store.read_table(FETCH_LOG, "technic")["reason"].to_pylist() == ["http_error"]
    ua = image_server.requests_to("/img/")[0].headers["User-Agent"]
    assert ua.startswith("craft_dag/") and "+https://" in ua
