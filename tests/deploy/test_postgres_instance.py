"""The shipped cluster instance (deploy/cluster/dagster.yaml) on a real PostgreSQL server.

The test instance's dagster.yaml is the deploy file itself, less its Kubernetes run launcher
(which needs a cluster to load): the same Postgres storage block with its environment
variables pointed at the session's server, the same queued run coordinator, and the same S3
compute log manager, pointed at the moto S3 server through the standard AWS variables. Real
assets are materialised for two categories of the bundled Russian pack, and everything is read
back through the instance: runs, materialisations per partition, partition status, asset check
evaluations, data versions, schedule state and ticks, and the captured step logs in S3.
"""

import time
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
import yaml
from dagster import (
    AssetCheckKey,
    AssetKey,
    AssetRecordsFilter,
    DagsterInstance,
    DagsterRunStatus,
    RunsFilter,
    materialize,
)
from dagster._core.definitions.partitions.definition import StaticPartitionsDefinition
from dagster._core.remote_origin import RegisteredCodeLocationOrigin, RemoteRepositoryOrigin
from dagster._core.run_coordinator import QueuedRunCoordinator
from dagster._core.scheduler.instigation import (
    InstigatorState,
    InstigatorStatus,
    InstigatorType,
    ScheduleInstigatorData,
    TickData,
    TickStatus,
)
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus
from dagster._core.storage.partition_status_cache import AssetPartitionStatus
from dagster_aws.s3.compute_log_manager import S3ComputeLogManager
from dagster_postgres import PostgresEventLogStorage, PostgresRunStorage, PostgresScheduleStorage

from craft_dag.assets.catalog import catalog_checks, entities, pack_files
from craft_dag.catalog.pack import bundled_pack_path, load_pack
from craft_dag.jobs.partitions import category_partitions
from tests.conftest import BUCKET
from tests.orchestration.helpers import resources

pytestmark = pytest.mark.s3

REPO = Path(__file__).resolve().parents[2]
CLUSTER_YAML = REPO / "deploy" / "cluster" / "dagster.yaml"
RU = bundled_pack_path("ru")
CATEGORIES = ["technic", "national_cuisine"]
ENTITIES = AssetKey("entities")
CHECKS = ["entities_have_queries", "entities_not_empty", "entities_unique_ids"]


def cluster_config_without_launcher() -> dict:
    config = yaml.safe_load(CLUSTER_YAML.read_text())
    del config["run_launcher"]  # the K8sRunLauncher: test_deploy_files loads it on its own
    return config


@pytest.fixture
def instance(
    postgres_server: dict[str, str],
    s3_server: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[DagsterInstance]:
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text(yaml.safe_dump(cluster_config_without_launcher()))
    for name, key in [
        ("DAGSTER_PG_HOST", "host"),
        ("DAGSTER_PG_PORT", "port"),
        ("DAGSTER_PG_USERNAME", "user"),
        ("DAGSTER_PG_PASSWORD", "password"),
        ("DAGSTER_PG_DB", "db"),
    ]:
        monkeypatch.setenv(name, postgres_server[key])
    # What an operator sets for an S3-compatible store: boto3 reads the endpoint itself.
    monkeypatch.setenv("CRAFT_COMPUTE_LOG_BUCKET", BUCKET)
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", s3_server["endpoint_url"])
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", s3_server["key"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", s3_server["secret"])
    monkeypatch.setenv("AWS_DEFAULT_REGION", s3_server["region"])
    with DagsterInstance.from_config(str(home)) as inst:
        yield inst
        # The database is shared by the session's tests.
        inst.wipe()
        inst.schedule_storage.wipe()  # type: ignore[union-attr]


def test_the_cluster_storage_round_trips_runs_partitions_and_checks(
    instance: DagsterInstance, postgres_server: dict[str, str], tmp_path: Path
) -> None:
    assert isinstance(instance.run_storage, PostgresRunStorage)
    assert isinstance(instance.event_log_storage, PostgresEventLogStorage)
    assert isinstance(instance.schedule_storage, PostgresScheduleStorage)
    assert isinstance(instance.run_coordinator, QueuedRunCoordinator)
    assert isinstance(instance.compute_log_manager, S3ComputeLogManager)
    assert instance.run_storage.postgres_url.startswith("postgresql+psycopg2://")

    res = resources(RU, str(tmp_path / "store"))
    run_ids = {}
    for category in CATEGORIES:
        result = materialize(
            [pack_files, entities, *catalog_checks],
            partition_key=category,
            instance=instance,
            resources=res,
            tags={"craft/test": "postgres"},
        )
        assert result.success
        run_ids[category] = result.run_id

    # Runs: both recorded as succeeded, with their partition and tags.
    records = instance.get_run_records(RunsFilter(tags={"craft/test": "postgres"}))
    assert {r.dagster_run.run_id for r in records} == set(run_ids.values())
    assert {r.dagster_run.status for r in records} == {DagsterRunStatus.SUCCESS}
    assert {r.dagster_run.tags["dagster/partition"] for r in records} == set(CATEGORIES)

    # Materialisations, per partition, with their metadata and data version.
    pack = load_pack(RU)
    for category in CATEGORIES:
        found = instance.fetch_materializations(
            AssetRecordsFilter(asset_key=ENTITIES, asset_partitions=[category]), limit=10
        ).records
        assert [r.run_id for r in found] == [run_ids[category]]
        mat = found[0].asset_materialization
        assert mat is not None and mat.partition == category
        assert mat.metadata["dagster/row_count"].value == len(pack.entities[category])
        assert mat.tags is not None
        assert mat.tags["dagster/data_version"] == pack.category_fingerprint(category)

    # Partition status across all 17 categories: the two built, the rest not.
    assert instance.get_materialized_partitions(ENTITIES) == set(CATEGORIES)
    keys = category_partitions.get_partition_keys()
    status = instance.get_status_by_partition(
        ENTITIES, keys, StaticPartitionsDefinition(list(keys))
    )
    assert status is not None
    assert {k for k, v in status.items() if v == AssetPartitionStatus.MATERIALIZED} == set(
        CATEGORIES
    )

    # Asset check evaluations: each check ran once per partition and passed.
    for name in CHECKS:
        history = instance.event_log_storage.get_asset_check_execution_history(
            AssetCheckKey(ENTITIES, name), limit=10
        )
        assert {h.run_id for h in history} == set(run_ids.values())
        assert {h.status for h in history} == {AssetCheckExecutionRecordStatus.SUCCEEDED}
        assert {h.event.asset_check_evaluation.partition for h in history} == set(CATEGORIES)  # type: ignore[union-attr]

    # It is really Postgres: the rows are in the fixture's database.
    import psycopg2

    conn = psycopg2.connect(
        host=postgres_server["host"],
        port=postgres_server["port"],
        user=postgres_server["user"],
        password=postgres_server["password"],
        dbname=postgres_server["db"],
    )
    try:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT count(*) FROM runs WHERE run_id = ANY(%s)", (list(run_ids.values()),)
            )
            assert cur.fetchone() == (2,)
    finally:
        conn.close()

    # Step logs went to S3, under the deploy file's prefix.
    s3 = boto3.client("s3")
    listed = s3.list_objects_v2(Bucket=BUCKET, Prefix="craft/compute-logs/storage/")
    uploaded = [o["Key"] for o in listed.get("Contents", [])]
    for run_id in run_ids.values():
        assert any(key.startswith(f"craft/compute-logs/storage/{run_id}/") for key in uploaded)


def test_schedule_state_and_ticks_round_trip(instance: DagsterInstance) -> None:
    origin = RemoteRepositoryOrigin(
        RegisteredCodeLocationOrigin("craft_dag"), "__repository__"
    ).get_instigator_origin("nightly_categories")
    state = InstigatorState(
        origin,
        InstigatorType.SCHEDULE,
        InstigatorStatus.RUNNING,
        ScheduleInstigatorData("0 3 * * *", start_timestamp=time.time()),
    )
    instance.add_instigator_state(state)
    selector_id = origin.get_selector().get_id()
    stored = instance.get_instigator_state(origin.get_id(), selector_id)
    assert stored is not None and stored.status == InstigatorStatus.RUNNING
    assert isinstance(stored.instigator_data, ScheduleInstigatorData)
    assert stored.instigator_data.cron_schedule == "0 3 * * *"

    instance.update_instigator_state(stored.with_status(InstigatorStatus.STOPPED))
    again = instance.get_instigator_state(origin.get_id(), selector_id)
    assert again is not None and again.status == InstigatorStatus.STOPPED

    tick = instance.create_tick(
        TickData(
            instigator_origin_id=origin.get_id(),
            instigator_name="nightly_categories",
            instigator_type=InstigatorType.SCHEDULE,
            status=TickStatus.SKIPPED,
            timestamp=time.time(),
            selector_id=selector_id,
        )
    )
    [read] = instance.get_ticks(origin.get_id(), selector_id)
    assert read.tick_id == tick.tick_id and read.status == TickStatus.SKIPPED


def test_a_missing_variable_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text(yaml.safe_dump(cluster_config_without_launcher()))
    for name in ("DAGSTER_PG_HOST", "DAGSTER_PG_PORT", "DAGSTER_PG_USERNAME"):
        monkeypatch.setenv(name, "x" if name != "DAGSTER_PG_PORT" else "5432")
    monkeypatch.delenv("DAGSTER_PG_PASSWORD", raising=False)
    monkeypatch.delenv("DAGSTER_PG_DB", raising=False)
    with pytest.raises(Exception, match='environment variable "DAGSTER_PG_PASSWORD"'):
        DagsterInstance.from_config(str(home)).run_storage  # noqa: B018
