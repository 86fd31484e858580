"""Sensors: exports landing in storage request runs for exactly their category; failed runs are
posted to a webhook (a real HTTP server on 127.0.0.1)."""

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest
from dagster import (
    AssetKey,
    AssetMaterialization,
    DagsterInstance,
    DagsterRunStatus,
    Definitions,
    SensorDefinition,
    build_run_status_sensor_context,
    build_sensor_context,
    evaluate_automation_conditions,
    job,
    op,
)

from craft_dag.alerts import RunFailure, WebhookError, failure_payload, post_webhook
from craft_dag.assets.evaluation import sbs_kits, sbs_report, sbs_votes
from craft_dag.definitions import defs
from craft_dag.evaluation.sbs_io import FOLDER as EVALUATION
from craft_dag.jobs.sensors import (
    TRIGGER_TAG,
    caption_export_sensor,
    failure_webhook_sensor,
    recorded_version,
    report_automation,
    review_export_sensor,
    votes_sensor,
)
from craft_dag.review.tasks_and_exports import EXPORTS
from craft_dag.storage import Storage
from craft_dag.translation.memory import MEMORY
from tests.orchestration.helpers import resources


def tick(sensor: SensorDefinition, instance: DagsterInstance, res: dict):
    """One tick; its observations recorded the way the daemon records them."""
    context = build_sensor_context(
        instance=instance, resources=res, repository_def=defs.get_repository_def()
    )
    result = sensor.evaluate_tick(context)
    for event in result.asset_events:
        instance.report_runless_asset_event(event)
    return result


@pytest.mark.parametrize(
    ("sensor", "folder", "asset", "job"),
    [
        (review_export_sensor, EXPORTS, "review_decisions", "filter_job"),
        (caption_export_sensor, MEMORY, "translation_memory", "translate_job"),
    ],
)
def test_a_new_export_runs_its_job_for_exactly_its_category(
    sensor: SensorDefinition,
    folder: str,
    asset: str,
    job: str,
    ru_pack_copy: Path,
    tmp_path: Path,
) -> None:
    instance = DagsterInstance.ephemeral()
    res = resources(ru_pack_copy, str(tmp_path / "store"))
    store = Storage(str(tmp_path / "store"))
    assert sensor.job_name == job
    assert tick(sensor, instance, res).run_requests == []  # nothing handed back yet

    store.write_file((folder, "cartoons", "batch-1.csv"), "source,translation\nа,b\n".encode())
    first = tick(sensor, instance, res)
    [request] = first.run_requests
    assert request.partition_key == "cartoons"
    assert request.tags[TRIGGER_TAG] == sensor.name
    [event] = first.asset_events
    assert (event.asset_key, event.partition) == (AssetKey(asset), "cartoons")
    assert recorded_version(instance, asset, "cartoons") == request.run_key.rsplit(":", 1)[1]

    # The same files on the next tick: nothing to do.
    assert tick(sensor, instance, res).run_requests == []

    # A second export for another category, and a re-upload of the first: one run, for it.
    store.write_file((folder, "holidays", "batch-1.csv"), b"source,translation\n")
    store.write_file((folder, "cartoons", "batch-1.csv"), "source,translation\nа,b\n".encode())
    assert [r.partition_key for r in tick(sensor, instance, res).run_requests] == ["holidays"]

    # A changed file is a new export of its category (a new run key, so a new run).
    store.write_file((folder, "cartoons", "batch-1.csv"), "source,translation\nа,c\n".encode())
    [again] = tick(sensor, instance, res).run_requests
    assert again.partition_key == "cartoons" and again.run_key != request.run_key


def test_new_votes_rerender_the_report_and_a_new_kit_alone_does_not(
    tmp_path: Path, ru_pack_copy: Path
) -> None:
    instance = DagsterInstance.ephemeral()
    res = resources(ru_pack_copy, str(tmp_path / "store"))
    store = Storage(str(tmp_path / "store"))
    graph = Definitions(assets=[sbs_kits, sbs_votes, sbs_report], resources=res)
    for asset in ("sbs_kits", "sbs_report"):  # as a finished evaluation left them
        instance.report_runless_asset_event(AssetMaterialization(asset))

    def requested(cursor=None):
        result = evaluate_automation_conditions(defs=graph, instance=instance, cursor=cursor)
        return result.get_requested_partitions(AssetKey("sbs_report")), result.cursor

    assert tick(votes_sensor, instance, res).asset_events == []  # no votes yet
    report, cursor = requested()
    assert report == set()

    store.write_file((EVALUATION, "votes", "assessor-1.json"), b"[]")
    assert len(tick(votes_sensor, instance, res).asset_events) == 1
    report, cursor = requested(cursor)
    assert report == {None}  # the unpartitioned report, once
    assert tick(votes_sensor, instance, res).asset_events == []  # the same votes
    report, cursor = requested(cursor)
    assert report == set()

    # A new kit (a new checkpoint) alone: the old votes do not describe its pairs.
    instance.report_runless_asset_event(AssetMaterialization("sbs_report"))
    instance.report_runless_asset_event(AssetMaterialization("sbs_kits"))
    assert requested(cursor)[0] == set()
    assert report_automation.name in {s.name for s in defs.get_repository_def().sensor_defs}


class _Hook(BaseHTTPRequestHandler):
    received: ClassVar[list[dict]] = []
    status: ClassVar[int] = 200

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append(json.loads(body))
        self.send_response(type(self).status)
        self.end_headers()
        self.wfile.write(b"ok" if type(self).status == 200 else b"no such channel")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def webhook() -> Iterator[tuple[str, type[_Hook]]]:
    handler = type("Hook", (_Hook,), {"received": [], "status": 200})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/hooks/craft", handler
    finally:
        server.shutdown()
        server.server_close()


@op
def broken_step() -> None:
    raise ValueError("raw_images: every source timed out")


@job
def failing_job() -> None:
    broken_step()


def test_a_failed_run_is_posted_to_the_webhook(webhook: tuple[str, type[_Hook]]) -> None:
    url, hook = webhook
    instance = DagsterInstance.ephemeral()
    result = failing_job.execute_in_process(
        instance=instance, raise_on_error=False, tags={"dagster/partition": "cartoons"}
    )
    assert result.dagster_run.status == DagsterRunStatus.FAILURE
    sensor = failure_webhook_sensor(url, ui_url="http://127.0.0.1:3000/")
    context = build_run_status_sensor_context(
        sensor_name=sensor.name,
        dagster_event=result.get_run_failure_event(),
        dagster_instance=instance,
        dagster_run=result.dagster_run,
    ).for_run_failure()
    sensor(context)

    [message] = hook.received
    assert message["job"] == "failing_job"
    assert message["partition"] == "cartoons"
    assert message["run_id"] == result.run_id
    assert message["run_url"] == f"http://127.0.0.1:3000/runs/{result.run_id}"
    assert "failing_job for category cartoons failed" in message["text"]
    assert "broken_step" in message["error"]


def test_a_webhook_that_refuses_or_is_gone_raises_naming_it(
    webhook: tuple[str, type[_Hook]],
) -> None:
    url, hook = webhook
    payload = failure_payload(RunFailure(job="j", run_id="0" * 36, error="boom"))
    assert post_webhook(url, payload) == 200
    hook.status = 404
    with pytest.raises(WebhookError, match=r"answered HTTP 404: no such channel"):
        post_webhook(url, payload)
    with pytest.raises(WebhookError, match="could not be reached"):
        post_webhook("http://127.0.0.1:9/hooks", payload, timeout=2)
    with pytest.raises(WebhookError, match="expected http"):
        post_webhook("ftp://example.org/hook", payload)


def test_a_long_error_is_cut_and_the_message_reads_without_a_ui() -> None:
    payload = failure_payload(RunFailure(job="filter_job", run_id="abcdef12" * 4, error="x" * 5000))
    assert len(payload["error"]) < 1600 and payload["error"].endswith("…")
    assert payload["run_url"] is None
    assert payload["text"].startswith("craft_dag: run of filter_job failed (run abcdef12)")


def test_asset_jobs_named_by_the_sensors_exist() -> None:
    repo = defs.get_repository_def()
    for sensor in (review_export_sensor, caption_export_sensor):
        assert repo.has_job(sensor.job_name)
