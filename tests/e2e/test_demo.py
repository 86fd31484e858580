"""The demo entry point, end to end, in a subprocess: a fresh Dagster instance, a small pack."""

import os
import subprocess
import sys
from pathlib import Path

from dagster import DagsterInstance, DagsterRunStatus, RunsFilter

from craft_dag.storage import Storage
from tests.conftest import MINI_PACK


def test_demo_materialises_every_category_and_records_runs(tmp_path: Path) -> None:
    home = tmp_path / "dagster_home"
    home.mkdir()
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "CRAFT_HOME": str(tmp_path / "craft"),
        "CRAFT_PACK": str(MINI_PACK),
        "PYTHONWARNINGS": "ignore",
    }
    done = subprocess.run(
        [sys.executable, "-m", "craft_dag.jobs.demo"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "3/3 categories materialised" in done.stdout
    assert str(tmp_path / "craft" / "storage") in done.stdout

    store = Storage(str(tmp_path / "craft" / "storage"))
    assert store.partitions("entities") == ["crafts", "cuisine", "landmarks"]
    assert store.read_table("entities", "cuisine")["entity_id"].to_pylist() == [
        "moussaka",
        "souvlaki",
    ]

    assert "sample images:" in done.stdout
    assert store.partitions("raw_images") == ["crafts", "cuisine", "landmarks"]
    images = store.read_table("raw_images", "cuisine")
    assert images.num_rows >= 2
    assert all(store.has_blob(i) for i in images["image_id"].to_pylist())
    assert (tmp_path / "craft" / "samples" / "manifest.csv").exists()

    with DagsterInstance.from_config(str(home)) as instance:
        runs = instance.get_runs(RunsFilter(job_name="category_job"))
        assert sorted(r.tags["dagster/partition"] for r in runs) == [
            "crafts",
            "cuisine",
            "landmarks",
        ]
        assert {r.status for r in runs} == {DagsterRunStatus.SUCCESS}
