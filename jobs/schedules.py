"""Schedules: the nightly incremental backfill and the weekly full refresh.

The nightly schedule asks Dagster which category partitions are out of date, with the same
stale-status resolver the UI's "Stale" badges come from: a partition that was never
materialised (MISSING), or whose upstream data version or code version changed since it was
built (STALE: a pack edit observed by the pack sensor, a new review export, a bumped
``code_version``). It requests one run per such category, of just the out-of-date assets and
what depends on them, so an edit to one category re-materialises that category and nothing else.
"""

from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime

from dagster import (
    AssetKey,
    DagsterInstance,
    DefaultScheduleStatus,
    RunRequest,
    ScheduleDefinition,
    ScheduleEvaluationContext,
    SkipReason,
    schedule,
)
from dagster._core.asset_graph_view.asset_graph_view import (
    AssetGraphView,
    TemporalContext,
)
from dagster._core.definitions.assets.graph.base_asset_graph import BaseAssetGraph
from dagster._core.definitions.data_version import CachingStaleStatusResolver, StaleStatus
from dagster._core.definitions.repository_definition import RepositoryDefinition
from dagster._core.definitions.unresolved_asset_job_definition import (
    UnresolvedAssetJobDefinition,
)
from dagster._time import get_current_datetime
from dagster_shared.check import CheckError

from craft_dag.jobs.jobs import category_job
from craft_dag.jobs.partitions import category_partitions

NIGHTLY_CRON = "0 2 * * *"  # 02:00 UTC
WEEKLY_CRON = "0 3 * * 0"  # Sunday 03:00 UTC
REASON_TAG = "craft/outdated"


def stale_resolver(
    instance: DagsterInstance, asset_graph: BaseAssetGraph
) -> CachingStaleStatusResolver:
    view = AssetGraphView(
        temporal_context=TemporalContext(effective_dt=get_current_datetime(), last_event_id=None),
        instance=instance,
        asset_graph=asset_graph,
    )
    return CachingStaleStatusResolver(
        instance=instance, asset_graph=asset_graph, loading_context=view
    )


def job_asset_keys(repository: RepositoryDefinition, job_name: str) -> list[AssetKey]:
    """The assets a job materialises (for ``category_job``: every category-partitioned one)."""
    return sorted(repository.get_job(job_name).asset_layer.executable_asset_keys)


def with_downstream(
    asset_graph: BaseAssetGraph, keys: Iterable[AssetKey], within: set[AssetKey]
) -> list[AssetKey]:
    """``keys`` and everything downstream of them, inside ``within``."""
    found, todo = set(), list(keys)
    while todo:
        key = todo.pop()
        if key in found or key not in within:
            continue
        found.add(key)
        todo.extend(asset_graph.get(key).child_keys)
    return sorted(found)


def outdated_partitions(
    instance: DagsterInstance,
    asset_graph: BaseAssetGraph,
    partitions: Sequence[str],
    keys: Sequence[AssetKey],
) -> dict[str, dict[AssetKey, StaleStatus]]:
    """{category: {asset: MISSING or STALE}} for every category with an out-of-date asset."""
    resolver = stale_resolver(instance, asset_graph)
    out: dict[str, dict[AssetKey, StaleStatus]] = {}
    for partition in partitions:
        statuses = {key: resolver.get_status(key, partition) for key in keys}
        outdated = {k: s for k, s in statuses.items() if s != StaleStatus.FRESH}
        if outdated:
            out[partition] = outdated
    return out


def tick_time(context: ScheduleEvaluationContext) -> datetime:
    """The tick's scheduled time; now, for a context built without one (a script, a test)."""
    try:
        return context.scheduled_execution_time
    except CheckError:
        return get_current_datetime()


def _describe(outdated: dict[AssetKey, StaleStatus]) -> str:
    by_status: dict[str, list[str]] = {}
    for key, status in sorted(outdated.items()):
        by_status.setdefault(status.value.lower(), []).append(key.to_user_string())
    return "; ".join(f"{status}: {', '.join(names)}" for status, names in by_status.items())


def incremental_schedule(
    job: UnresolvedAssetJobDefinition,
    name: str = "nightly_incremental",
    cron: str = NIGHTLY_CRON,
    default_status: DefaultScheduleStatus = DefaultScheduleStatus.RUNNING,
) -> ScheduleDefinition:
    """A schedule that runs ``job`` for every category partition with an out-of-date asset."""

    @schedule(
        name=name,
        job=job,
        cron_schedule=cron,
        execution_timezone="UTC",
        default_status=default_status,
        description=(
            f"One run of {job.name} per category partition that is missing or out of date (pack "
            "edit, new review export, new code version), of only its out-of-date assets and "
            "their downstream. Fresh categories are not touched."
        ),
    )
    def _schedule(context: ScheduleEvaluationContext) -> Iterator[RunRequest | SkipReason]:
        repository = context.repository_def
        asset_graph = repository.asset_graph
        keys = job_asset_keys(repository, job.name)
        outdated = outdated_partitions(
            context.instance, asset_graph, category_partitions.get_partition_keys(), keys
        )
        if not outdated:
            yield SkipReason("every category partition is up to date")
            return
        tick = tick_time(context)
        for partition, statuses in outdated.items():
            reason = _describe(statuses)
            context.log.info(f"{partition}: {reason}")
            yield RunRequest(
                partition_key=partition,
                # One run per category per night, however often the tick is retried.
                run_key=f"{name}:{tick:%Y-%m-%d}:{partition}",
                asset_selection=with_downstream(asset_graph, statuses, set(keys)),
                tags={REASON_TAG: reason[:200]},
            )

    return _schedule


# Each night, after the day's reviews and before people start work.
nightly_incremental = incremental_schedule(category_job)


@schedule(
    name="weekly_full_refresh",
    job=category_job,
    cron_schedule=WEEKLY_CRON,
    execution_timezone="UTC",
    # Off by default: it re-collects every image of every category. Turn it on in the UI where
    # the sources change under you (web search results drift).
    default_status=DefaultScheduleStatus.STOPPED,
    description="Every Sunday, re-materialise every category partition (off by default).",
)
def weekly_full_refresh(context: ScheduleEvaluationContext) -> Iterator[RunRequest]:
    tick = tick_time(context)
    for partition in category_partitions.get_partition_keys():
        yield RunRequest(partition_key=partition, run_key=f"weekly:{tick:%Y-%m-%d}:{partition}")


schedules: list[ScheduleDefinition] = [nightly_incremental, weekly_full_refresh]
