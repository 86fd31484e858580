"""Collection by shard (in process): the in-process rows, shard reuse, retries, a failed shard."""

import csv
from pathlib import Path

import pytest

from craft_dag.collection.collect_category import FETCH_LOG, IMAGES, collect_category
from craft_dag.collection.downloader import DownloaderConfig
from craft_dag.collection.sources import UrlManifestSource
from craft_dag.parallel.engines import InProcessEngine
from craft_dag.parallel.fetching import (
    IMAGE_PARTS,
    collect_category_sharded,
    shared_config,
)
from craft_dag.parallel.shards import shard_of
from craft_dag.storage import Storage
from tests.collection.conftest import config
from tests.collection.run_collect import entities_of
from tests.collection.test_collect import settled, write_manifest
from tests.parallel import hooks
from tests.support.image_server import ImageServer

SHARDS = 4


@pytest.fixture
def server(image_server: ImageServer) -> ImageServer:
    return image_server


def mixed_manifest(server: ImageServer, path: Path) -> str:
    """Three entities, every outcome, and the same bytes under many URLs of one entity (so the
    better-ranked copy must win across shards)."""
    u = server.url
    rows = []
    for e in ("e0", "e1", "e2"):
        rows += [(e, u(f"/img/photo.jpg?copy={e}{n}")) for n in range(6)]
        rows += [(e, u(f"/img/photo.png?e={e}")), (e, u(f"/img/photo.webp?e={e}"))]
    rows += [
        ("e0", u("/html-as-jpeg")),
        ("e1", u("/img/bomb.png")),
        ("e1", u("/status/404")),
        ("e2", u("/noai/photo.jpg")),
        ("e2", u("/redirect-to?location=http://169.254.169.254/latest/")),
    ]
    return write_manifest(path, rows)


def collect(store: Path, manifest: str, **kwargs):
    return collect_category_sharded(
        "cat", entities_of("cat"), UrlManifestSource(manifest), kwargs.pop("cfg", config()),
        Storage(str(store)), InProcessEngine(), num_shards=SHARDS, log=lambda _: None, **kwargs,
    )  # fmt: skip


def test_sharded_collection_gives_the_in_process_rows(server: ImageServer, tmp_path: Path) -> None:
    manifest = mixed_manifest(server, tmp_path / "urls.csv")
    whole = collect_category(
        "cat",
        entities_of("cat"),
        UrlManifestSource(manifest),
        config(),
        Storage(str(tmp_path / "a")),
    )
    sharded = collect(tmp_path / "b", manifest)
    assert sharded.report.count("done") == SHARDS
    # The six copies of one entity fall into more than one shard, so the merge decides.
    copies = {shard_of(server.url(f"/img/photo.jpg?copy=e0{n}"), SHARDS) for n in range(6)}
    assert len(copies) > 1
    assert settled(sharded.result.images) == settled(whole.images)
    assert settled(sharded.result.fetch_log) == settled(whole.fetch_log)
    assert sharded.result.outcomes == whole.outcomes
    stored = Storage(str(tmp_path / "b"))
    assert settled(stored.read_table(IMAGES, "cat")) == settled(whole.images)
    assert settled(stored.read_table(FETCH_LOG, "cat")) == settled(whole.fetch_log)
    assert sharded.report.summary()["shards_done"] == SHARDS


def test_a_second_run_reuses_every_shard_without_a_request(
    server: ImageServer, tmp_path: Path
) -> None:
    manifest = mixed_manifest(server, tmp_path / "urls.csv")
    first = collect(tmp_path / "s", manifest)
    before = len(server.requests)
    again = collect(tmp_path / "s", manifest)
    assert again.report.count("reused") == SHARDS
    assert len(server.requests) == before
    assert settled(again.result.images) == settled(first.result.images)
    assert again.result.fetched == 0 and again.result.reused == first.result.fetched


def test_only_the_shard_with_a_retryable_failure_runs_again(
    server: ImageServer, tmp_path: Path
) -> None:
    flaky = server.url("/flaky/k1/photo.jpg?fail=1")
    manifest = write_manifest(
        tmp_path / "urls.csv",
        [("e0", flaky)] + [("e1", server.url(f"/img/photo.png?n={n}")) for n in range(12)],
    )
    first = collect(tmp_path / "s", manifest, cfg=config(max_retries=0))
    reasons = [r["reason"] for r in first.result.fetch_log.to_pylist()]
    assert sorted(reasons) == ["duplicate"] * 11 + ["server_error"]
    shards = {o.shard for o in first.report.outcomes}
    again = collect(tmp_path / "s", manifest, cfg=config(max_retries=0))
    rerun = {o.shard for o in again.report.outcomes if o.status == "done"}
    assert rerun == {shard_of(flaky, SHARDS)}
    assert {o.shard for o in again.report.outcomes if o.status == "reused"} == shards - rerun
    assert again.result.fetched == 1  # the flaky URL alone: its shard carried the rest over
    assert {r["reason"] for r in again.result.fetch_log.to_pylist()} == {"duplicate"}
    assert again.result.images.num_rows == 2  # photo.jpg, and photo.png once


def test_a_failed_shard_is_counted_and_the_rerun_redoes_only_it(
    server: ImageServer, tmp_path: Path
) -> None:
    manifest = mixed_manifest(server, tmp_path / "urls.csv")
    reference = collect(tmp_path / "ref", manifest)
    broken = hooks.RaisingManifest(manifest, str(tmp_path / "raised"))
    lines: list[str] = []
    first = collect_category_sharded(
        "cat", entities_of("cat"), broken, config(), Storage(str(tmp_path / "s")),
        InProcessEngine(), num_shards=SHARDS, log=lines.append,
    )  # fmt: skip
    assert first.report.count("failed") == 1 and first.report.count("done") == SHARDS - 1
    [(shard, error)] = first.report.failures().items()
    assert "RuntimeError: planted fetch failure" in error
    assert any(f"shard {shard} failed" in line and "planted" in line for line in lines)
    failed_urls = {c for c in _urls(manifest) if shard_of(c, SHARDS) == int(shard)}
    assert not failed_urls & set(first.result.images["url"].to_pylist())  # left out this time

    again = collect(tmp_path / "s", manifest)
    assert [o.shard for o in again.report.outcomes if o.status == "done"] == [int(shard)]
    assert again.report.count("reused") == SHARDS - 1
    assert settled(again.result.images) == settled(reference.result.images)
    assert settled(again.result.fetch_log) == settled(reference.result.fetch_log)


def test_a_failed_shard_keeps_what_earlier_runs_stored(server: ImageServer, tmp_path: Path) -> None:
    manifest = mixed_manifest(server, tmp_path / "urls.csv")
    first = collect(tmp_path / "s", manifest)
    # One URL more: its shard must run again (the others are reused), and its fetch raises.
    grown = write_manifest(
        tmp_path / "grown.csv",
        [(row["entity_id"], row["url"]) for row in _rows(manifest)]
        + [("e0", server.url("/img/photo.webp?new=1"))],
    )
    broken = hooks.RaisingManifest(grown, str(tmp_path / "raised"))
    second = collect_category_sharded(
        "cat", entities_of("cat"), broken, config(), Storage(str(tmp_path / "s")),
        InProcessEngine(), num_shards=SHARDS, log=lambda _: None,
    )  # fmt: skip
    assert second.report.count("failed") == 1 and second.report.count("reused") == SHARDS - 1
    assert settled(second.result.images) == settled(first.result.images)  # nothing lost


def _rows(manifest: str) -> list[dict]:
    with open(manifest, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _urls(manifest: str) -> list[str]:
    return [row["url"] for row in _rows(manifest)]


def test_every_shard_failing_fails_the_partition(server: ImageServer, tmp_path: Path) -> None:
    manifest = mixed_manifest(server, tmp_path / "urls.csv")
    broken = hooks.RaisingManifest(manifest, str(tmp_path / "raised"), every=True)
    with pytest.raises(RuntimeError, match="every shard failed"):
        collect_category_sharded(
            "cat", entities_of("cat"), broken, config(), Storage(str(tmp_path / "s")),
            InProcessEngine(), num_shards=SHARDS, log=lambda _: None,
        )  # fmt: skip


def test_the_manifest_rows_stay_with_the_driver(server: ImageServer, tmp_path: Path) -> None:
    manifest = mixed_manifest(server, tmp_path / "urls.csv")
    source = UrlManifestSource(manifest)
    light = source.for_workers()
    assert light._by_entity == {} and source._by_entity
    assert light.path == source.path and type(light) is type(source)


def test_per_host_limits_are_shared_out_among_the_running_shards() -> None:
    cfg = DownloaderConfig(user_agent="t/1", per_host_concurrency=8, per_host_rate=10.0)
    assert shared_config(cfg, 1) is cfg
    two = shared_config(cfg, 2)
    assert (two.per_host_concurrency, two.per_host_rate) == (4, 5.0)
    many = shared_config(cfg, 16)
    assert many.per_host_concurrency == 1 and many.per_host_rate == pytest.approx(10.0 / 16)
    assert two.concurrency == cfg.concurrency  # the global limit is each worker's own


def test_the_shard_manifest_is_written(server: ImageServer, tmp_path: Path) -> None:
    import json

    manifest = mixed_manifest(server, tmp_path / "urls.csv")
    collect(tmp_path / "s", manifest)
    stored = json.loads(
        Storage(str(tmp_path / "s")).read_file((IMAGE_PARTS, "cat", "manifest.json"))
    )
    assert stored["summary"]["shards"] == SHARDS
    assert sum(s["items"] for s in stored["shards"]) == 29
