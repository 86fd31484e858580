"""raw_images and image_scores materialised through Dagster with the Ray executor: the
in-process rows, and the shards' counts in each materialisation's metadata."""

from pathlib import Path

import pytest
from dagster import materialize

pytest.importorskip("ray")

from craft_dag.assets.catalog import entities, pack_files
from craft_dag.assets.collection import raw_images
from craft_dag.assets.curation import curation_assets, curation_checks
from craft_dag.catalog.pack import load_pack
from craft_dag.collection.samples import build_sample_set
from craft_dag.resources import DownloaderResource, LocalFolderSourceResource
from craft_dag.resources.curation import CurationScorersResource
from craft_dag.resources.executor import ExecutorResource
from craft_dag.storage import Storage
from tests.collection.test_collect import settled
from tests.orchestration.helpers import resources
from tests.parallel.helpers import assert_same_rows

pytestmark = pytest.mark.slow
ASSETS = [pack_files, entities, raw_images, *curation_assets, *curation_checks]
CATEGORY = "national_cuisine"
SHARDED = ("raw_images", "image_scores")


def _materialise(pack: Path, samples: Path, store: Path, executor: ExecutorResource):
    res = {
        **resources(pack, str(store)),
        "image_source": LocalFolderSourceResource(root=str(samples)),
        "downloader": DownloaderResource(),
        # OCR and the tiny relevance model: built on each worker (they do not pickle).
        "scorers": CurationScorersResource(ocr="on"),
        "executor": executor,
    }
    result = materialize(
        ASSETS,
        partition_key=CATEGORY,
        resources=res,
        selection=["entities", "raw_images", "image_scores"],
    )
    assert result.success
    return {s: result.asset_materializations_for_node(s)[0].metadata for s in SHARDED}


def test_image_scores_through_ray(ray_cluster: str, ru_pack_copy: Path, tmp_path: Path) -> None:
    pack = load_pack(ru_pack_copy)
    samples = tmp_path / "samples"
    build_sample_set(samples, {CATEGORY: [e.id for e in pack.entities[CATEGORY]]})
    _materialise(ru_pack_copy, samples, tmp_path / "a", ExecutorResource())
    md = _materialise(
        ru_pack_copy,
        samples,
        tmp_path / "b",
        ExecutorResource(engine="ray", address=ray_cluster, num_shards=3),
    )
    for stage in SHARDED:
        assert md[stage]["shards"].value == 3 and md[stage]["shards_done"].value == 3, stage
        assert md[stage]["shards_failed"].value == 0
    a, b = Storage(str(tmp_path / "a")), Storage(str(tmp_path / "b"))
    assert settled(b.read_table("raw_images", CATEGORY)) == settled(
        a.read_table("raw_images", CATEGORY)
    )
    assert_same_rows(
        Storage(str(tmp_path / "b")).read_table("image_scores", CATEGORY),
        Storage(str(tmp_path / "a")).read_table("image_scores", CATEGORY),
    )
