"""The Dagster UI in a real browser: a backfill through the GraphQL API, then the pages it shows.

`dagster dev` (webserver, daemon, code server) runs on 127.0.0.1 with a fresh instance and the
bundled Russian pack, the demo's sample images under its CRAFT_HOME. The test launches an asset
backfill of ``entities`` and ``raw_images`` over three categories through
``launchPartitionBackfill``, waits until the daemon reports it complete, checks the partition
statuses through GraphQL, and then has Debian's headless Chromium (Playwright) load the global
asset lineage, ``raw_images``' lineage, its partitions tab (the three partitions materialised,
the others missing; one partition's materialisation with its run and metadata) and one asset
check's partitions. Full-page screenshots go to ``test-artifacts/ui/``.

Like the side-by-side kit's browser test, it fails without Chromium unless
``CRAFT_SKIP_BROWSER=1``. It takes about a minute and a half on two cores, most of it the
backfill daemon's 30-second cadence (one tick to request the runs, one to see them finished).
"""

from __future__ import annotations

import math
import os
import re
import time
from pathlib import Path
from typing import Any

import pytest

from craft_dag.catalog.pack import bundled_pack_path, load_pack
from tests.e2e.test_sbs_browser import CHROMIUM_ARGS, chromium_path
from tests.support.dagster_dev import DagsterDev, dagster_dev

pytestmark = pytest.mark.slow

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "ui"
CATEGORIES = ["holidays", "national_cuisine", "fauna"]
ASSETS = ["entities", "raw_images"]
DETAIL = "national_cuisine"  # the partition whose materialisation the test opens
CHECK = "raw_images_rows_and_blobs"  # a blocking check: it passed, or the run had failed
BACKFILL_TIMEOUT = 300
UI_TIMEOUT_MS = 30_000

LAUNCH_BACKFILL = """
mutation($params: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $params) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PythonError { message stack }
    ... on PartitionKeysNotFoundError { message }
    ... on UnauthorizedError { message }
    ... on InvalidStepError { invalidStepKey }
    ... on InvalidOutputError { stepKey invalidOutputName }
  }
}
"""

BACKFILL_STATUS = """
query($id: String!) {
  partitionBackfillOrError(backfillId: $id) {
    __typename
    ... on PartitionBackfill {
      status
      partitionNames
      error { message stack }
      runs {
        id
        status
        tags { key value }
        assetSelection { path }
      }
    }
    ... on PythonError { message stack }
  }
}
"""

RUN_LOGS = """
query($runId: ID!) {
  logsForRun(runId: $runId, limit: 500) {
    __typename
    ... on EventConnection {
      events {
        __typename
        ... on MessageEvent { message level stepKey }
        ... on ExecutionStepFailureEvent { error { message stack } }
        ... on RunFailureEvent { error { message stack } }
      }
    }
    ... on PythonError { message }
  }
}
"""

ASSET_STATUS = """
query($key: AssetKeyInput!) {
  assetNodeOrError(assetKey: $key) {
    __typename
    ... on AssetNode {
      partitionKeys
      partitionStats { numMaterialized numPartitions numFailed numMaterializing }
      assetPartitionStatuses {
        __typename
        ... on DefaultPartitionStatuses {
          materializedPartitions
          failedPartitions
          materializingPartitions
          unmaterializedPartitions
        }
      }
      assetChecksOrError {
        __typename
        ... on AssetChecks {
          checks {
            name
            partitionStatuses {
              __typename
              ... on AssetCheckDefaultPartitionStatuses { succeededPartitions failedPartitions }
            }
          }
        }
      }
    }
  }
}
"""


def build_samples(env: dict[str, str]) -> None:
    """The demo's sample image set where the folder source looks for it (no network)."""
    from craft_dag.collection.samples import build_sample_set

    pack = load_pack(bundled_pack_path("ru"))
    build_sample_set(
        Path(env["CRAFT_HOME"]) / "samples",
        {c: [e.id for e in pack.entities[c]] for c in pack.category_ids},
    )


def run_diagnostics(dev: DagsterDev, runs: list[dict[str, Any]]) -> str:
    """The failed runs' error events and log messages, and the tail of dagster dev's output."""
    lines = []
    for run in runs:
        lines.append(f"run {run['id']}: {run['status']}")
        if run["status"] == "SUCCESS":
            continue
        try:
            logs = dev.graphql(RUN_LOGS, {"runId": run["id"]})["logsForRun"]
        except Exception as error:  # diagnostics must not hide the failure they explain
            lines.append(f"  (logs unavailable: {error!r})")
            continue
        for event in logs.get("events", [])[-60:]:
            error = event.get("error")
            if error:
                lines.append(f"  {event['__typename']}: {error['message']}\n{error['stack']}")
            elif event.get("level") in ("ERROR", "CRITICAL", "WARNING"):
                lines.append(f"  {event['level']} {event.get('stepKey')}: {event['message']}")
    lines.append("dagster dev output (tail):")
    lines.append(dev.output(8000))
    return "\n".join(lines)


def launch_backfill(dev: DagsterDev) -> str:
    params = {
        "partitionNames": CATEGORIES,
        "assetSelection": [{"path": [a]} for a in ASSETS],
        "title": "UI browser test",
    }
    result = dev.graphql(LAUNCH_BACKFILL, {"params": params})["launchPartitionBackfill"]
    assert result["__typename"] == "LaunchBackfillSuccess", result
    return result["backfillId"]


def wait_for_backfill(dev: DagsterDev, backfill_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + BACKFILL_TIMEOUT
    while True:
        backfill = dev.graphql(BACKFILL_STATUS, {"id": backfill_id})["partitionBackfillOrError"]
        assert backfill["__typename"] == "PartitionBackfill", backfill
        if backfill["status"] not in ("REQUESTED", "CANCELING", "FAILING"):
            return backfill
        if time.monotonic() > deadline:
            pytest.fail(
                f"backfill {backfill_id} still {backfill['status']} after {BACKFILL_TIMEOUT} s\n"
                + run_diagnostics(dev, backfill["runs"])
            )
        time.sleep(2)


def test_backfilled_partitions_show_in_the_ui(tmp_path: Path) -> None:
    executable = chromium_path()
    try:
        from playwright.sync_api import expect, sync_playwright
    except ImportError:
        pytest.fail("Playwright is missing: it is in the dev extra (pip install -e '.[dev]')")
    keys = load_pack(bundled_pack_path("ru")).category_ids
    assert set(CATEGORIES) <= set(keys)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for old in ARTIFACTS.glob("*.png"):
        old.unlink()
    timings: dict[str, float] = {}
    start = time.perf_counter()

    with dagster_dev(tmp_path, before_start=build_samples) as dev:
        group = dev.process.pid
        timings["dagster dev up"] = time.perf_counter() - start

        backfill_id = launch_backfill(dev)
        backfill = wait_for_backfill(dev, backfill_id)
        timings["backfill"] = time.perf_counter() - start - timings["dagster dev up"]
        runs = backfill["runs"]
        assert backfill["status"] in ("COMPLETED", "COMPLETED_SUCCESS"), (
            f"backfill {backfill['status']}: {backfill['error']}\n" + run_diagnostics(dev, runs)
        )
        assert {r["status"] for r in runs} == {"SUCCESS"}, run_diagnostics(dev, runs)
        run_of = {
            t["value"]: r["id"] for r in runs for t in r["tags"] if t["key"] == "dagster/partition"
        }
        assert sorted(run_of) == sorted(CATEGORIES)

        # What the UI will show, through the same API it reads.
        for asset in ASSETS:
            node = dev.graphql(ASSET_STATUS, {"key": {"path": [asset]}})["assetNodeOrError"]
            assert node["__typename"] == "AssetNode", node
            assert node["partitionKeys"] == keys
            stats = node["partitionStats"]
            assert (stats["numMaterialized"], stats["numPartitions"], stats["numFailed"]) == (
                len(CATEGORIES),
                len(keys),
                0,
            ), stats
            statuses = node["assetPartitionStatuses"]
            assert statuses["__typename"] == "DefaultPartitionStatuses"
            assert sorted(statuses["materializedPartitions"]) == sorted(CATEGORIES)
            assert statuses["failedPartitions"] == statuses["materializingPartitions"] == []
            if asset == "raw_images":
                checks = {c["name"]: c for c in node["assetChecksOrError"]["checks"]}
                passed = checks[CHECK]["partitionStatuses"]["succeededPartitions"]
                assert sorted(passed) == sorted(CATEGORIES), checks[CHECK]

        with sync_playwright() as pw:
            browser = pw.chromium.launch(
                executable_path=executable, headless=True, args=CHROMIUM_ARGS
            )
            page = browser.new_page(viewport={"width": 1600, "height": 1000})
            page.set_default_timeout(UI_TIMEOUT_MS)
            expect.set_options(timeout=UI_TIMEOUT_MS)
            browser_start = time.perf_counter()
            try:
                # The global asset lineage, every group expanded (the graph's own ⌥E).
                page.goto(f"{dev.url}/asset-groups")
                expect(page.get_by_text("Global asset lineage")).to_be_visible()
                for group_name in ("catalog", "collection", "curation"):
                    expect(page.get_by_role("button", name=group_name).first).to_be_visible()
                expect(page.get_by_text("Join the Dagster community")).to_have_count(0)
                page.mouse.click(1100, 300)  # focus the graph canvas
                page.keyboard.press("Alt+e")
                for asset in ("pack_files", *ASSETS, "image_scores", "checkpoint"):
                    expect(page.get_by_text(asset, exact=True).first).to_be_visible()
                page.screenshot(path=str(ARTIFACTS / "01_global_asset_lineage.png"), full_page=True)

                # raw_images and its neighbours: the graph nodes report the filled share.
                page.goto(f"{dev.url}/assets/raw_images?view=lineage")
                filled = f"{math.floor(100 * len(CATEGORIES) / len(keys))}% filled"
                expect(page.get_by_text(filled)).to_have_count(2)  # entities and raw_images
                expect(page.get_by_text("0% filled", exact=True)).to_have_count(1)  # image_scores
                expect(page.get_by_text(f"{len(keys)} partitions").first).to_be_visible()
                page.screenshot(path=str(ARTIFACTS / "02_raw_images_lineage.png"), full_page=True)

                # The partitions tab: counts, and each partition's status dot.
                page.goto(f"{dev.url}/assets/raw_images?view=partitions")
                expect(page.get_by_text(f"Materialized ({len(CATEGORIES)})")).to_be_visible()
                expect(page.get_by_text(f"Missing ({len(keys) - len(CATEGORIES)})")).to_be_visible()
                expect(page.get_by_text("Failed (0)", exact=True)).to_be_visible()
                for key in keys:
                    dot = page.locator(f'[data-tooltip="{key}"] + div')
                    colour = "green" if key in CATEGORIES else "gray"
                    expect(dot).to_have_attribute("style", re.compile(f"accent-{colour}"))
                page.screenshot(
                    path=str(ARTIFACTS / "03_raw_images_partitions.png"), full_page=True
                )
                # Only the materialised ones once "Missing" is unticked.
                page.get_by_text(f"Missing ({len(keys) - len(CATEGORIES)})").click()
                missing = next(k for k in keys if k not in CATEGORIES)
                expect(page.locator(f'[data-tooltip="{missing}"]')).to_have_count(0)
                for key in CATEGORIES:
                    expect(page.locator(f'[data-tooltip="{key}"]')).to_be_visible()
                page.screenshot(
                    path=str(ARTIFACTS / "04_raw_images_partitions_materialized_only.png"),
                    full_page=True,
                )

                # One partition: its latest materialisation, the backfill's run, its metadata.
                page.goto(f"{dev.url}/assets/raw_images?view=partitions&partition={DETAIL}")
                expect(page.get_by_text("Latest materialization")).to_be_visible()
                expect(page.get_by_text(run_of[DETAIL][:8], exact=True)).to_be_visible()
                expect(page.get_by_text("dagster/row_count")).to_be_visible()
                expect(page.get_by_text("fetched_this_run")).to_be_visible()
                page.screenshot(
                    path=str(ARTIFACTS / f"05_raw_images_partition_{DETAIL}.png"), full_page=True
                )

                # An asset check, per partition: passed for the three, missing elsewhere.
                page.goto(f"{dev.url}/assets/raw_images?view=checks&checkDetail={CHECK}")
                expect(page.get_by_text(CHECK).first).to_be_visible()
                page.get_by_role("tab", name="Partitions").last.click()
                expect(page.get_by_text(f"Passed ({len(CATEGORIES)})")).to_be_visible()
                expect(page.get_by_text(f"Missing ({len(keys) - len(CATEGORIES)})")).to_be_visible()
                expect(page.get_by_text("Failed (0)", exact=True)).to_be_visible()
                page.screenshot(path=str(ARTIFACTS / f"06_check_{CHECK}.png"), full_page=True)
            except BaseException:
                page.screenshot(path=str(ARTIFACTS / "failure.png"), full_page=True)
                raise
            finally:
                browser.close()
            timings["browser"] = time.perf_counter() - browser_start

    # dagster dev and everything it started are gone.
    with pytest.raises(ProcessLookupError):
        os.killpg(group, 0)
    timings["total"] = time.perf_counter() - start
    print("ui test timings (s):", {k: round(v, 1) for k, v in timings.items()})
