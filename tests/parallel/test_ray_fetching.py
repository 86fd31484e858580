"""Collection on a real two-node Ray cluster: the in-process rows, and a killed worker's shard."""

import os
import signal
import threading
import time
from pathlib import Path

import pytest

ray = pytest.importorskip("ray")

from craft_dag.collection.collect_category import collect_category  # noqa: E402
from craft_dag.collection.sources import UrlManifestSource  # noqa: E402
from craft_dag.parallel.engines import RayEngine  # noqa: E402
from craft_dag.parallel.fetching import collect_category_sharded  # noqa: E402
from craft_dag.storage import Storage  # noqa: E402
from tests.collection.conftest import config  # noqa: E402
from tests.collection.run_collect import entities_of  # noqa: E402
from tests.collection.test_collect import settled  # noqa: E402
from tests.parallel import hooks  # noqa: E402
from tests.parallel.test_fetching import SHARDS, mixed_manifest  # noqa: E402
from tests.support.image_server import ImageServer  # noqa: E402

pytestmark = pytest.mark.slow

ray.cloudpickle.register_pickle_by_value(hooks)


def test_shards_fetch_on_both_nodes_and_give_the_in_process_rows(
    ray_cluster: str,
    image_server: ImageServer,
    tmp_path: Path,
) -> None:
    manifest = mixed_manifest(image_server, tmp_path / "urls.csv")
    whole = collect_category(
        "cat", entities_of("cat"), UrlManifestSource(manifest), config(),
        Storage(str(tmp_path / "a")), log=lambda _: None,
    )  # fmt: skip
    sharded = collect_category_sharded(
        "cat", entities_of("cat"), UrlManifestSource(manifest), config(),
        Storage(str(tmp_path / "b")), RayEngine(address=ray_cluster), num_shards=SHARDS,
        log=lambda _: None,
    )  # fmt: skip
    assert sharded.report.count("done") == SHARDS
    assert sharded.report.summary()["shard_nodes"] == 2
    assert settled(sharded.result.images) == settled(whole.images)
    assert settled(sharded.result.fetch_log) == settled(whole.fetch_log)


def test_a_killed_fetch_worker_fails_one_shard_and_the_rerun_redoes_only_it(
    ray_cluster: str,
    image_server: ImageServer,
    tmp_path: Path,
) -> None:
    manifest = mixed_manifest(image_server, tmp_path / "urls.csv")
    reference = collect_category(
        "cat", entities_of("cat"), UrlManifestSource(manifest), config(),
        Storage(str(tmp_path / "ref")), log=lambda _: None,
    )  # fmt: skip
    marker = tmp_path / "hang"
    killed: list[int] = []

    def kill_when_ready() -> None:
        deadline = time.monotonic() + 120
        while not (marker / "pid").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        pid = int((marker / "pid").read_text())
        os.kill(pid, signal.SIGKILL)
        killed.append(pid)

    killer = threading.Thread(target=kill_when_ready, daemon=True)
    killer.start()
    store = Storage(str(tmp_path / "s"))
    first = collect_category_sharded(
        "cat", entities_of("cat"), hooks.HangingManifest(manifest, str(marker)), config(), store,
        RayEngine(address=ray_cluster), num_shards=SHARDS, log=lambda _: None,
    )  # fmt: skip
    killer.join(5)
    assert killed
    [failed] = [o for o in first.report.outcomes if o.status == "failed"]
    assert first.report.count("done") == SHARDS - 1
    requests = len(image_server.requests)

    again = collect_category_sharded(
        "cat", entities_of("cat"), UrlManifestSource(manifest), config(), store,
        RayEngine(address=ray_cluster), num_shards=SHARDS, log=lambda _: None,
    )  # fmt: skip
    assert [o.shard for o in again.report.outcomes if o.status == "done"] == [failed.shard]
    assert again.report.count("reused") == SHARDS - 1
    assert len(image_server.requests) - requests <= failed.items + 1  # its URLs (+ robots.txt)
    assert settled(again.result.images) == settled(reference.images)
    assert settled(again.result.fetch_log) == settled(reference.fetch_log)
