"""Image scoring on a real two-node Ray cluster: same rows, a raising shard, a killed worker."""

import os
import signal
import threading
import time
from pathlib import Path

import pytest

ray = pytest.importorskip("ray")

from craft_dag.curation.policy import CurationPolicy, effective  # noqa: E402
from craft_dag.curation.score import Scorers  # noqa: E402
from craft_dag.curation.score_category import score_category  # noqa: E402
from craft_dag.parallel.engines import RayEngine  # noqa: E402
from craft_dag.parallel.scoring import score_category_sharded  # noqa: E402
from tests.parallel import hooks  # noqa: E402
from tests.parallel.helpers import assert_same_rows, sample_category  # noqa: E402

pytestmark = pytest.mark.slow

ray.cloudpickle.register_pickle_by_value(hooks)


@pytest.fixture
def category(tmp_path: Path):
    return sample_category(tmp_path)


def test_shards_run_on_both_nodes_and_give_the_in_process_rows(ray_cluster: str, category) -> None:
    assert sum(n["Alive"] for n in ray.nodes()) == 2
    thresholds = effective(CurationPolicy(), "all")
    whole = score_category(category, "all", thresholds, Scorers()).table
    sharded = score_category_sharded(
        category, "all", thresholds, Scorers(), RayEngine(address=ray_cluster), num_shards=4
    )
    assert sharded.report.count("done") == 4
    alive = {n["NodeID"] for n in ray.nodes() if n["Alive"]}
    assert sharded.report.nodes() == alive, sharded.report.outcomes  # both nodes ran shards
    assert sharded.report.summary()["shard_nodes"] == 2
    assert_same_rows(sharded.result.table, whole)


def test_a_raising_shard_is_recorded_and_counted(
    ray_cluster: str, category, tmp_path: Path
) -> None:
    thresholds = effective(CurationPolicy(), "all")
    lines: list[str] = []
    sharded = score_category_sharded(
        category,
        "all",
        thresholds,
        Scorers(),
        RayEngine(address=ray_cluster),
        num_shards=4,
        shard_scorers=hooks.RaiseOnce(str(tmp_path / "raised")),
        log=lines.append,
    )
    assert sharded.report.count("failed") == 1, sharded.report.outcomes
    [error] = sharded.report.failures().values()
    assert "planted shard failure" in error
    assert any("failed" in line and "planted shard failure" in line for line in lines)


def test_a_killed_worker_fails_one_shard_and_the_rerun_redoes_only_it(
    ray_cluster: str, category, tmp_path: Path
) -> None:
    thresholds = effective(CurationPolicy(), "all")
    reference = score_category(category, "all", thresholds, Scorers()).table
    marker = tmp_path / "hang"
    pid_file = marker / "pid"
    killed: list[int] = []

    def kill_when_ready() -> None:
        deadline = time.monotonic() + 120
        while not pid_file.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        pid = int(pid_file.read_text())
        os.kill(pid, signal.SIGKILL)
        killed.append(pid)

    killer = threading.Thread(target=kill_when_ready, daemon=True)
    killer.start()
    first = score_category_sharded(
        category, "all", thresholds, Scorers(), RayEngine(address=ray_cluster), num_shards=4,
        shard_scorers=hooks.HangOnce(str(marker)),
    )  # fmt: skip
    killer.join(5)
    assert killed
    [failed] = [o for o in first.report.outcomes if o.status == "failed"]
    assert first.report.count("done") == 3

    again = score_category_sharded(
        category, "all", thresholds, Scorers(), RayEngine(address=ray_cluster), num_shards=4
    )
    assert [o.shard for o in again.report.outcomes if o.status == "done"] == [failed.shard]
    assert again.report.count("reused") == 3
    assert_same_rows(again.result.table, reference)
