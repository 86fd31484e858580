"""The demo entry point, end to end, in a subprocess: a fresh Dagster instance, a small pack."""

import json
import os
import subprocess
import sys
from pathlib import Path

from dagster import DagsterInstance, DagsterRunStatus, RunsFilter

from craft_dag.storage import Storage

REPO = Path(__file__).resolve().parents[2]


def tick_nightly(env: dict[str, str]) -> dict:
    done = subprocess.run(
        [sys.executable, "-m", "tests.e2e.tick_nightly"],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_demo_materialises_every_category_and_records_runs(tmp_path: Path, mini_pack: Path) -> None:
    home = tmp_path / "dagster_home"
    home.mkdir()
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "CRAFT_HOME": str(tmp_path / "craft"),
        "CRAFT_PACK": str(mini_pack),
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

    # Curation: every category scored, its review tasks written, the simulated reviewers'
    # export applied, and some images through.
    assert store.partitions("image_scores") == ["crafts", "cuisine", "landmarks"]
    assert store.partitions("filtered_images") == ["crafts", "cuisine", "landmarks"]
    assert store.list_files("review_tasks", "cuisine") == ["tasks.json"]
    assert store.list_files("review_exports", "cuisine") == ["sample_review.json"]
    filtered = sum(
        store.read_table("filtered_images", k).num_rows for k in store.partitions("filtered_images")
    )
    assert (
        0
        < filtered
        < sum(store.read_table("raw_images", k).num_rows for k in store.partitions("raw_images"))
    )
    assert f"{filtered} images passed automatic and human filtering" in done.stdout
    assert {
        r["decided_by"]
        for k in ("crafts", "cuisine", "landmarks")
        for r in store.read_table("filtered_images", k).to_pylist()
    } == {"human"}

    # Captioning: every category captioned and translated, the noise said to be noise.
    for asset in ("captions", "translated_captions"):
        assert store.partitions(asset) == ["crafts", "cuisine", "landmarks"], asset
    assert "their text is noise" in done.stdout
    captions = store.read_table("captions", "cuisine").to_pylist()
    assert captions and {r["caption_source"] for r in captions} == {
        "auto"
    }  # a Greek pack: no sample captions

    with DagsterInstance.from_config(str(home)) as instance:
        for job in ("score_job", "filter_job"):
            runs = instance.get_runs(RunsFilter(job_name=job))
            assert sorted(r.tags["dagster/partition"] for r in runs) == [
                "crafts",
                "cuisine",
                "landmarks",
            ], job
            assert {r.status for r in runs} == {DagsterRunStatus.SUCCESS}

    # The nightly schedule after the demo: nothing to do. After a one-entity edit to the
    # cuisine file: the pack sensor sees it, and the schedule asks for one run, cuisine's, of
    # every category-partitioned asset (a new query means new images, so everything after).
    assert tick_nightly(env) == {
        "observed": [],
        "skip": "every category partition is up to date",
        "runs": {},
    }
    cuisine = mini_pack / "entities" / "cuisine.yaml"
    cuisine.write_text(
        cuisine.read_text(encoding="utf-8").replace(
            "      - μουσακάς\n", "      - μουσακάς\n      - μουσακάς σπιτικός\n", 1
        ),
        encoding="utf-8",
    )
    night = tick_nightly(env)
    assert night["observed"] == ["pack_files/cuisine"]
    assert list(night["runs"]) == ["cuisine"]
    assert night["runs"]["cuisine"][0] == "captions"
    assert {"entities", "raw_images", "filtered_images", "training_shards"} <= set(
        night["runs"]["cuisine"]
    )
