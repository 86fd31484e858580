"""Editing one category's file marks only that partition of ``entities`` stale.

Asserted through Dagster's own data-version machinery: the observable source asset records a
data version per category, and Dagster's stale-status resolver compares it with the version
each ``entities`` partition was built from.
"""

from pathlib import Path

from dagster import AssetKey, DagsterInstance, Definitions, materialize
from dagster._core.definitions.data_version import StaleCauseCategory, StaleStatus
from dagster._utils.test.data_versions import get_stale_status_resolver

from craft_dag.assets.catalog import entities, pack_files
from craft_dag.assets.curation import curation_policy
from craft_dag.jobs.jobs import observe_pack_job
from craft_dag.jobs.partitions import category_partitions
from tests.orchestration.helpers import resources

ENTITIES = AssetKey("entities")


def statuses(instance: DagsterInstance) -> dict[str, StaleStatus]:
    resolver = get_stale_status_resolver(instance, [pack_files, entities])
    return {
        key: resolver.get_status(ENTITIES, key) for key in category_partitions.get_partition_keys()
    }


def test_editing_one_category_makes_only_that_partition_stale(
    ru_pack_copy: Path, tmp_path: Path
) -> None:
    instance = DagsterInstance.ephemeral()
    res = resources(ru_pack_copy, str(tmp_path / "store"))
    keys = category_partitions.get_partition_keys()
    # The same observation job the demo and the schedules run, with this test's resources.
    observe_job = Definitions(
        assets=[pack_files, curation_policy, entities], jobs=[observe_pack_job], resources=res
    ).resolve_job_def("observe_pack_job")

    def observe() -> bool:
        return observe_job.execute_in_process(instance=instance).success

    assert observe()
    assert set(statuses(instance).values()) == {StaleStatus.MISSING}
    for key in keys:
        assert materialize(
            [pack_files, entities], partition_key=key, instance=instance, resources=res
        ).success
    assert set(statuses(instance).values()) == {StaleStatus.FRESH}

    # A comment-only edit changes no record: nothing becomes stale.
    technic = ru_pack_copy / "entities" / "technic.yaml"
    technic.write_text(
        "# reviewed by the pack owners\n" + technic.read_text(encoding="utf-8"), encoding="utf-8"
    )
    assert observe()
    assert set(statuses(instance).values()) == {StaleStatus.FRESH}

    # A real edit: one more web query for the first entity of the category.
    text = technic.read_text(encoding="utf-8")
    technic.write_text(
        text.replace("    queries:\n", "    queries:\n      - новый запрос\n", 1), encoding="utf-8"
    )
    assert observe()

    after = statuses(instance)
    assert after["technic"] == StaleStatus.STALE
    assert {k: v for k, v in after.items() if k != "technic"} == {
        k: StaleStatus.FRESH for k in keys if k != "technic"
    }
    resolver = get_stale_status_resolver(instance, [pack_files, entities])
    [cause] = resolver.get_stale_causes(ENTITIES, "technic")
    assert cause.category == StaleCauseCategory.DATA
    assert cause.dependency is not None and cause.dependency.asset_key == AssetKey("pack_files")

    # Re-materialising the edited category makes it fresh again.
    assert materialize(
        [pack_files, entities], partition_key="technic", instance=instance, resources=res
    ).success
    assert set(statuses(instance).values()) == {StaleStatus.FRESH}
