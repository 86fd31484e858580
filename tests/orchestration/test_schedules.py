"""The nightly incremental schedule and the weekly refresh, ticked against a real instance.

The pack sensor observes the pack (as the daemon would run it), the schedule asks Dagster's
stale-status resolver which category partitions are out of date, and the run requests name
exactly those partitions.
"""

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from dagster import (
    AssetKey,
    AssetSelection,
    DagsterInstance,
    DefaultScheduleStatus,
    Definitions,
    build_schedule_context,
    build_sensor_context,
    define_asset_job,
    instance_for_test,
    materialize,
)

from craft_dag.assets.catalog import entities, pack_files
from craft_dag.assets.curation import curation_policy
from craft_dag.definitions import defs as shipped
from craft_dag.jobs.jobs import AFTER_REVIEW
from craft_dag.jobs.partitions import category_partitions
from craft_dag.jobs.schedules import (
    REASON_TAG,
    incremental_schedule,
    job_asset_keys,
    nightly_incremental,
    weekly_full_refresh,
    with_downstream,
)
from craft_dag.jobs.sensors import pack_sensor
from tests.orchestration.helpers import resources

NIGHT = datetime(2026, 12, 2, 2, 0, tzinfo=UTC)
KEYS = category_partitions.get_partition_keys()


# The shipped schedule's logic over a job of the catalog stage alone (a full category run per
# partition would make this test minutes long); the shipped one is built the same way.
catalog_job = define_asset_job("catalog_job", selection=AssetSelection.all())
catalog_nightly = incremental_schedule(catalog_job, name="catalog_nightly")


def tick_schedule(defs: Definitions, instance: DagsterInstance, when: datetime = NIGHT):
    # A context opens the instance again from its reference; closing it ends that.
    with build_schedule_context(
        instance=instance,
        scheduled_execution_time=when,
        repository_def=defs.get_repository_def(),
    ) as context:
        return catalog_nightly.evaluate_tick(context)


def tick_pack_sensor(defs: Definitions, instance: DagsterInstance) -> list:
    """One tick of the pack sensor; its observations recorded the way the daemon records them."""
    context = build_sensor_context(instance=instance, resources=defs.resources)
    result = pack_sensor.evaluate_tick(context)
    for event in result.asset_events:
        instance.report_runless_asset_event(event)
    return result.asset_events


def add_query(pack: Path, category: str) -> None:
    """A real record edit: one more web query for the category's first entity."""
    path = pack / "entities" / f"{category}.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(
        text.replace("    queries:\n", "    queries:\n      - новый запрос\n", 1), encoding="utf-8"
    )


@pytest.fixture
def instance(tmp_path: Path) -> Iterator[DagsterInstance]:
    # A schedule's context reopens the instance from its reference: an ephemeral one has none.
    home = tmp_path / "dagster_home"
    home.mkdir()
    with instance_for_test(temp_dir=str(home)) as instance:
        yield instance


def test_a_one_category_pack_edit_requests_runs_for_that_category_only(
    ru_pack_copy: Path, tmp_path: Path, instance: DagsterInstance
) -> None:
    res = resources(ru_pack_copy, str(tmp_path / "store"))
    defs = Definitions(
        assets=[pack_files, curation_policy, entities],
        jobs=[catalog_job],
        schedules=[catalog_nightly],
        sensors=[pack_sensor],
        resources=res,
    )
    # First night: the pack is observed, nothing is built: every category is missing.
    assert {e.asset_key for e in tick_pack_sensor(defs, instance)} == {
        AssetKey("pack_files"),
        AssetKey("curation_policy"),
    }
    first = tick_schedule(defs, instance)
    assert sorted(r.partition_key for r in first.run_requests) == sorted(KEYS)
    assert all(r.asset_selection == [AssetKey("entities")] for r in first.run_requests)
    assert "missing: entities" in first.run_requests[0].tags[REASON_TAG]

    for key in KEYS:
        assert materialize(
            [pack_files, entities], partition_key=key, instance=instance, resources=res
        ).success
    assert tick_pack_sensor(defs, instance) == []  # the pack is as last observed
    quiet = tick_schedule(defs, instance)
    assert quiet.run_requests == []
    assert "up to date" in quiet.skip_message

    add_query(ru_pack_copy, "technic")
    [changed] = tick_pack_sensor(defs, instance)
    assert (changed.asset_key, changed.partition) == (AssetKey("pack_files"), "technic")
    night = tick_schedule(defs, instance)
    [request] = night.run_requests
    assert request.partition_key == "technic"
    assert request.asset_selection == [AssetKey("entities")]
    assert request.tags[REASON_TAG] == "stale: entities"
    assert request.run_key == "catalog_nightly:2026-12-02:technic"

    # Running what the schedule asked for makes every category fresh again.
    run = defs.resolve_job_def("catalog_job").execute_in_process(
        instance=instance,
        partition_key=request.partition_key,
        asset_selection=request.asset_selection,
    )
    assert run.success
    assert tick_schedule(defs, instance).run_requests == []


def test_a_stale_step_reruns_it_and_its_downstream_within_the_category_graph() -> None:
    graph = shipped.resolve_asset_graph()
    keys = job_asset_keys(shipped.get_repository_def(), "category_job")
    # Every category-partitioned asset, nothing else.
    assert set(keys) == {
        key
        for key in graph.materializable_asset_keys
        if graph.get(key).partitions_def == category_partitions
    }
    # A new review export: filtering and what follows it, not collection or scoring.
    after_review = with_downstream(graph, [AssetKey("filtered_images")], set(keys))
    assert set(after_review) == set(AFTER_REVIEW.resolve(graph))
    assert AssetKey("raw_images") not in after_review
    # Nothing past the category graph: the fan-in training set is never in a nightly run.
    assert AssetKey("training_dataset") not in with_downstream(graph, keys, set(keys))


def test_the_weekly_full_refresh_is_off_by_default_and_requests_every_category() -> None:
    assert weekly_full_refresh.default_status == DefaultScheduleStatus.STOPPED
    assert nightly_incremental.default_status == DefaultScheduleStatus.RUNNING
    with build_schedule_context(
        scheduled_execution_time=NIGHT, repository_def=shipped.get_repository_def()
    ) as context:
        requests = weekly_full_refresh.evaluate_tick(context).run_requests
    assert [r.partition_key for r in requests] == KEYS
    assert len({r.run_key for r in requests}) == len(KEYS)


def test_the_shipped_code_location_has_the_schedules_and_sensors() -> None:
    repo = shipped.get_repository_def()
    assert {s.name for s in repo.schedule_defs} == {"nightly_incremental", "weekly_full_refresh"}
    assert {
        "pack_sensor",
        "review_export_sensor",
        "caption_export_sensor",
        "votes_sensor",
    } <= {s.name for s in repo.sensor_defs}
