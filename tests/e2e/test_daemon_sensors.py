"""The sensors under a real daemon (`dagster dev`): a file lands in storage, the export sensor
launches a run for exactly its category, and when that run fails the run-failure sensor posts
it to a webhook (a real HTTP server on 127.0.0.1).

The scenario is one that happens: translators hand back English captions for a category that
has not been captioned yet. ``translate_job`` then fails for want of ``captions``, and the
people on call hear about it with the job, the category and the error.
"""

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from craft_dag.storage import Storage
from craft_dag.translation.memory import MEMORY
from tests.support.dagster_dev import dagster_dev

CATEGORY = "cartoons"
# Daemon ticks: sensors every ~30 s at most, then a run's process start and its failure.
TIMEOUT_S = 240

RUNS = """
query($filter: RunsFilter) {
  runsOrError(filter: $filter) {
    __typename
    ... on Runs { results { runId jobName status tags { key value } } }
  }
}
"""


class _Hook(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.received.append(json.loads(body))  # type: ignore[attr-defined]
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def webhook() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
    server.received = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/alerts", server.received  # type: ignore[attr-defined]
    finally:
        server.shutdown()
        server.server_close()


def write_translations(env: dict[str, str]) -> None:
    store = Storage(str(Path(env["CRAFT_HOME"]) / "storage"))
    store.write_file(
        (MEMORY, CATEGORY, "translators-2026-12.csv"),
        "source,translation\nЧебурашка машет рукой,Cheburashka waves his hand\n".encode(),
    )


@pytest.mark.slow
def test_an_export_runs_its_category_and_a_failed_run_reaches_the_webhook(
    tmp_path: Path, webhook: tuple[str, list[dict[str, Any]]]
) -> None:
    url, received = webhook
    with dagster_dev(
        tmp_path, env={"CRAFT_ALERT_WEBHOOK": url}, before_start=write_translations
    ) as dev:
        deadline = time.monotonic() + TIMEOUT_S
        runs: list[dict[str, Any]] = []
        while time.monotonic() < deadline and not received:
            data = dev.graphql(
                RUNS,
                {"filter": {"tags": [{"key": "craft/trigger", "value": "caption_export_sensor"}]}},
            )
            runs = data["runsOrError"]["results"]
            time.sleep(3)
        assert received, (
            f"no alert within {TIMEOUT_S} s; runs launched by the sensor: {runs}\n"
            + dev.output(6000)
        )
        data = dev.graphql(RUNS, {"filter": {}})
        every_run = data["runsOrError"]["results"]

    # Exactly one run, the sensor's, for exactly the category whose file landed.
    [run] = every_run
    tags = {t["key"]: t["value"] for t in run["tags"]}
    assert run["jobName"] == "translate_job"
    assert tags["dagster/partition"] == CATEGORY
    assert tags["craft/trigger"] == "caption_export_sensor"
    assert run["status"] == "FAILURE"

    [alert] = received
    assert alert["job"] == "translate_job"
    assert alert["partition"] == CATEGORY
    assert alert["run_id"] == run["runId"]
    assert f"run of translate_job for category {CATEGORY} failed" in alert["text"]
