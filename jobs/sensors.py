"""Sensors: files landing in storage, and failed runs.

The exports people hand back (review decisions with their captions, human translations) and
the culture pack are external data: each is an observable source asset with one data version
per category. A sensor here does what observing that asset does, cheaply and every minute: it
hashes the category's files, and where the hash differs from the data version the instance last
recorded it reports a new observation (so the UI's staleness and the nightly schedule see it)
and, for the exports, requests the downstream run for exactly that category.
"""

from collections.abc import Callable
from dataclasses import dataclass

from dagster import (
    AssetKey,
    AssetObservation,
    AssetSelection,
    AutomationConditionSensorDefinition,
    DagsterInstance,
    DefaultSensorStatus,
    RunFailureSensorContext,
    RunRequest,
    SensorDefinition,
    SensorEvaluationContext,
    SensorResult,
    run_failure_sensor,
    sensor,
)
from dagster._core.definitions.data_version import (
    DATA_VERSION_TAG,
    extract_data_version_from_entry,
)
from dagster._core.definitions.unresolved_asset_job_definition import (
    UnresolvedAssetJobDefinition,
)

from craft_dag.alerts import RunFailure, failure_payload, post_webhook
from craft_dag.assets.sources import PACK_FINGERPRINTS, STORAGE_FINGERPRINTS
from craft_dag.evaluation.sbs_io import vote_files, votes_fingerprint
from craft_dag.jobs.jobs import filter_job, translate_job
from craft_dag.resources import CulturePackResource, StorageResource
from craft_dag.review.tasks_and_exports import export_files
from craft_dag.storage import Storage
from craft_dag.translation.memory import memory_files

# A storage listing per category per tick: cheap on a folder, a few LIST calls on S3.
EXPORT_INTERVAL_S = 60
PACK_INTERVAL_S = 300
TRIGGER_TAG = "craft/trigger"


@dataclass(frozen=True)
class Watched:
    """An observable source asset over files: whether a category has any, and their hash."""

    asset: str
    has_files: Callable[[Storage, str], bool]

    def fingerprint(self, store: Storage, category: str) -> str:
        return STORAGE_FINGERPRINTS[self.asset](store, category)


REVIEW_EXPORTS = Watched("review_decisions", lambda s, c: bool(export_files(s, c)))
CAPTION_EXPORTS = Watched("translation_memory", lambda s, c: bool(memory_files(s, c)))


def recorded_version(
    instance: DagsterInstance, asset: str, partition: str | None = None
) -> str | None:
    """The data version the instance last recorded for (asset, partition), if any."""
    record = instance.get_latest_data_version_record(
        AssetKey(asset), is_source=True, partition_key=partition
    )
    if record is None:
        return None
    version = extract_data_version_from_entry(record.event_log_entry)
    return version.value if version is not None else None


def observation(asset: str, version: str, partition: str | None = None) -> AssetObservation:
    return AssetObservation(
        asset_key=AssetKey(asset), partition=partition, tags={DATA_VERSION_TAG: version}
    )


def export_sensor(
    name: str, watched: Watched, job: UnresolvedAssetJobDefinition, description: str
) -> SensorDefinition:
    """A sensor that observes ``watched`` per category and runs ``job`` for each new export."""

    @sensor(
        name=name,
        job=job,
        minimum_interval_seconds=EXPORT_INTERVAL_S,
        default_status=DefaultSensorStatus.RUNNING,
        description=description,
    )
    def _sensor(
        context: SensorEvaluationContext, pack: CulturePackResource, storage: StorageResource
    ) -> SensorResult:
        store = storage.client()
        events, runs = [], []
        for category in pack.load().category_ids:
            if not watched.has_files(store, category):
                continue  # nothing handed back for this category yet
            version = watched.fingerprint(store, category)
            if version == recorded_version(context.instance, watched.asset, category):
                continue
            events.append(observation(watched.asset, version, category))
            runs.append(
                RunRequest(
                    partition_key=category,
                    # One run per (category, export contents), however often the sensor ticks.
                    run_key=f"{name}:{category}:{version}",
                    tags={TRIGGER_TAG: name},
                )
            )
            context.log.info(f"{category}: new {watched.asset} (version {version}): run {job.name}")
        if not runs:
            return SensorResult(skip_reason=f"no new {watched.asset} in storage")
        return SensorResult(run_requests=runs, asset_events=events)

    return _sensor


review_export_sensor = export_sensor(
    "review_export_sensor",
    REVIEW_EXPORTS,
    filter_job,
    "A new or changed review export (decisions and human captions) under "
    "review_exports/<category>/ runs filter_job for that category: filtering, captions, "
    "translation and its training shards.",
)

caption_export_sensor = export_sensor(
    "caption_export_sensor",
    CAPTION_EXPORTS,
    translate_job,
    "A new or changed file of human caption translations under translation_memory/<category>/ "
    "runs translate_job for that category: translation and its training shards.",
)


@sensor(
    name="pack_sensor",
    minimum_interval_seconds=PACK_INTERVAL_S,
    default_status=DefaultSensorStatus.RUNNING,
    description=(
        "Observes the culture pack (records and curation thresholds) per category, so an edit "
        "shows as stale in the UI within minutes. It requests no runs: a pack edit means new "
        "web collection, which the nightly schedule batches."
    ),
)
def pack_sensor(context: SensorEvaluationContext, pack: CulturePackResource) -> SensorResult:
    loaded = pack.load()
    events = [
        observation(asset, version, category)
        for asset, fingerprint in PACK_FINGERPRINTS.items()
        for category in loaded.category_ids
        if (version := fingerprint(loaded, category))
        != recorded_version(context.instance, asset, category)
    ]
    for event in events:
        context.log.info(f"{event.partition}: {event.asset_key.to_user_string()} changed")
    if not events:
        return SensorResult(skip_reason="the culture pack is as last observed")
    return SensorResult(asset_events=events)


@sensor(
    name="votes_sensor",
    minimum_interval_seconds=EXPORT_INTERVAL_S,
    default_status=DefaultSensorStatus.RUNNING,
    description=(
        "Observes the side-by-side votes under evaluation/votes/; sbs_report's automation "
        "condition re-renders the report when they change."
    ),
)
def votes_sensor(context: SensorEvaluationContext, storage: StorageResource) -> SensorResult:
    store = storage.client()
    if not vote_files(store):
        return SensorResult(skip_reason="no votes in storage yet")
    version = votes_fingerprint(store)
    if version == recorded_version(context.instance, "sbs_votes"):
        return SensorResult(skip_reason="no new votes")
    context.log.info(f"new votes (version {version})")
    return SensorResult(asset_events=[observation("sbs_votes", version)])


# Declarative automation where it fits better than a schedule: the report is cheap and wholly
# derived from the votes, so it follows them (sbs_report's condition: eager on new votes).
report_automation = AutomationConditionSensorDefinition(
    "report_automation",
    target=AssetSelection.assets("sbs_report"),
    default_status=DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=EXPORT_INTERVAL_S,
    description="Evaluates sbs_report's automation condition: a new report after new votes.",
)


def failure_webhook_sensor(url: str, ui_url: str = "") -> SensorDefinition:
    """Posts every failed run of this code location to ``url`` (Slack-style JSON)."""

    @run_failure_sensor(
        name="run_failure_webhook",
        default_status=DefaultSensorStatus.RUNNING,
        description="Posts each failed run (job, category, error, link) to CRAFT_ALERT_WEBHOOK.",
    )
    def _sensor(context: RunFailureSensorContext) -> None:
        run = context.dagster_run
        failure = RunFailure(
            job=run.job_name,
            run_id=run.run_id,
            partition=run.tags.get("dagster/partition"),
            error=context.failure_event.message or "",
            ui_url=ui_url or None,
        )
        status = post_webhook(url, failure_payload(failure))
        context.log.info(f"posted the failure of run {run.run_id[:8]} (HTTP {status})")

    return _sensor


export_sensors = [
    review_export_sensor,
    caption_export_sensor,
    pack_sensor,
    votes_sensor,
    report_automation,
]
