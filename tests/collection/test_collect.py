"""Collecting a category end to end: outcomes recorded, nothing crashes, re-runs resume."""

import csv
import os
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa

from craft_dag.collection.collect_category import (
    CHECKPOINT_IMAGES,
    FETCH_LOG,
    IMAGES,
    CollectLimits,
    collect_category,
)
from craft_dag.collection.sources import UrlManifestSource
from craft_dag.storage import Storage
from tests.collection.conftest import config
from tests.collection.run_collect import entities_of
from tests.support.image_server import ImageServer

REPO = Path(__file__).resolve().parents[2]


def write_manifest(path: Path, rows: list[tuple[str, str]]) -> str:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["entity_id", "url", "licence", "author"])
        for entity_id, url in rows:
            writer.writerow([entity_id, url, "CC BY 4.0", "Test Author"])
    return str(path)


def settled(table: pa.Table) -> list[dict]:
    """Rows without their timestamps: what must be equal between runs."""
    drop = {"fetched_at", "logged_at", "attempts"}
    return [{k: v for k, v in row.items() if k not in drop} for row in table.to_pylist()]


def test_every_outcome_is_recorded_and_nothing_crashes(server: ImageServer, tmp_path: Path) -> None:
    u = server.url
    manifest = write_manifest(
        tmp_path / "urls.csv",
        [
            ("e0", u("/img/photo.jpg")),
            ("e0", u("/img/photo.png")),
            ("e0", u("/img/photo.jpg?copy=1")),  # the same bytes again: a duplicate
            ("e0", u("/html-as-jpeg")),
            ("e1", u("/img/bomb.png")),
            ("e1", u("/truncated/photo.jpg")),
            ("e1", u("/status/404")),
            ("e1", u("/redirect-to?location=http://169.254.169.254/latest/")),
            ("e1", u("/noai/photo.jpg")),
            ("e1", u("/flaky/k/photo.webp")),
        ],
    )
    storage = Storage(str(tmp_path / "store"))
    result = collect_category(
        "cat", entities_of("cat"), UrlManifestSource(manifest), config(max_retries=1), storage
    )
    images = result.images.to_pylist()
    assert [(r["entity_id"], r["format"]) for r in images] == [
        ("e0", "JPEG"),
        ("e0", "PNG"),
        ("e1", "WEBP"),
    ]
    assert {r["licence"] for r in images} == {"CC BY 4.0"}
    reasons = {
        (r["url"].split(server.base_url)[1], r["reason"]) for r in result.fetch_log.to_pylist()
    }
    assert reasons == {
        ("/img/photo.jpg?copy=1", "duplicate"),
        ("/html-as-jpeg", "not_an_image"),
        ("/img/bomb.png", "decompression_bomb"),
        ("/truncated/photo.jpg", "truncated"),
        ("/status/404", "http_error"),
        ("/redirect-to?location=http://169.254.169.254/latest/", "forbidden_address"),
        ("/noai/photo.jpg", "noai"),
    }
    assert result.coverage == {"e0": 2, "e1": 1, "e2": 0}
    assert result.outcomes["ok"] == 3 and sum(result.outcomes.values()) == 10
    # Stored once each, by content.
    assert all(storage.has_blob(r["image_id"]) for r in images)
    assert storage.read_table(IMAGES, "cat").num_rows == 3
    assert storage.read_table(FETCH_LOG, "cat").num_rows == 7
    assert not storage.has_table(CHECKPOINT_IMAGES, "cat")

    # A second run fetches only the retryable failure, and changes nothing else.
    server.reset()
    again = collect_category(
        "cat", entities_of("cat"), UrlManifestSource(manifest), config(max_retries=1), storage
    )
    assert again.fetched == 1 and again.reused == 9
    assert [r.path for r in server.requests if not r.path.startswith("/robots")] == [
        "/truncated/photo.jpg"
    ] * 2
    assert settled(again.images) == settled(result.images)
    assert settled(again.fetch_log) == settled(result.fetch_log)
    blobs = storage.fs.find(f"{storage._root}/blobs")
    assert len(blobs) == 3


def test_killed_run_resumes_to_the_same_result(server: ImageServer, tmp_path: Path) -> None:
    # Slow enough that the run can be killed part-way, after a checkpoint or two.
    rows = [(f"e{i % 3}", server.url(f"/img/photo.jpg?delay=0.3&n={i}")) for i in range(12)]
    rows += [("e1", server.url("/status/410")), ("e2", server.url("/html-as-jpeg"))]
    manifest = write_manifest(tmp_path / "urls.csv", rows)

    reference = Storage(str(tmp_path / "reference"))
    expected = collect_category(
        "cat",
        entities_of("cat"),
        UrlManifestSource(manifest),
        config(concurrency=2, per_host_concurrency=2, respect_robots=False),
        reference,
        CollectLimits(checkpoint_every=2),
    )

    store_dir = tmp_path / "killed"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.collection.run_collect",
            str(store_dir),
            manifest,
            "cat",
            "2",
        ],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    storage = Storage(str(store_dir))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        if (
            storage.has_table(CHECKPOINT_IMAGES, "cat")
            and storage.read_table(CHECKPOINT_IMAGES, "cat").num_rows >= 4
        ):
            break
        time.sleep(0.05)
    assert process.poll() is None, (
        "the run finished before it could be killed: " + process.stdout.read().decode()
    )
    process.kill()
    process.wait(timeout=10)
    assert not storage.has_table(IMAGES, "cat"), "killed before the end: no final table yet"
    done_before = storage.read_table(CHECKPOINT_IMAGES, "cat").num_rows

    server.reset()
    resumed = collect_category(
        "cat",
        entities_of("cat"),
        UrlManifestSource(manifest),
        config(concurrency=2, per_host_concurrency=2, respect_robots=False),
        storage,
        CollectLimits(checkpoint_every=2),
    )
    assert resumed.reused >= done_before
    assert resumed.fetched == 14 - resumed.reused
    assert settled(resumed.images) == settled(expected.images)
    assert settled(resumed.fetch_log) == settled(expected.fetch_log)
    # No half-written file anywhere: only final tables and blobs remain.
    leftovers = [p for p in storage.fs.find(storage._root) if ".tmp" in p or "checkpoint" in p]
    assert leftovers == []
    assert sorted(Path(p).name for p in storage.fs.find(f"{storage._root}/blobs")) == sorted(
        Path(p).name for p in reference.fs.find(f"{reference._root}/blobs")
    )


def test_per_entity_quota_bounds_list_sources_and_is_reported(
    server: ImageServer, tmp_path: Path
) -> None:
    names = [f"q{i}.png" for i in range(5)]
    for name in names:
        server.add_image(name, *server.images["photo.png"])
    manifest = write_manifest(
        tmp_path / "urls.csv", [("e0", server.url(f"/img/{n}")) for n in names]
    )
    lines: list[str] = []
    result = collect_category(
        "cat",
        entities_of("cat"),
        UrlManifestSource(manifest),
        config(),
        Storage(str(tmp_path / "store")),
        CollectLimits(per_query=1, per_entity=3),
        log=lines.append,
    )
    # per_query bounds searches only: a list gives all its rows, up to the per-entity quota.
    assert result.over_quota == 2
    assert len(server.requests_to("/img/")) == 3
    assert any("2 candidates over the per-entity quota (3)" in line for line in lines)
