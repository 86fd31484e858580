"""The ``entities`` asset and its checks, materialised through Dagster with resource overrides."""

import uuid
from pathlib import Path

import pyarrow as pa
import pytest
from dagster import (
    build_op_context,
    materialize,
)
from dagster._core.execution.context.invocation import (
    DirectAssetCheckExecutionContext,
)

from craft_dag.assets.catalog import (
    catalog_checks,
    entities,
    entities_unique_ids,
    pack_files,
)
from craft_dag.catalog.pack import bundled_pack_path, load_pack
from craft_dag.catalog.tables import ENTITY_SCHEMA
from craft_dag.jobs.partitions import category_partitions
from craft_dag.resources import StorageResource
from craft_dag.storage import Storage
from tests.conftest import BUCKET, s3_options
from tests.orchestration.helpers import resources

RU = bundled_pack_path("ru")


def test_partitions_are_the_active_packs_categories() -> None:
    assert category_partitions.get_partition_keys() == load_pack(RU).category_ids
    assert len(category_partitions.get_partition_keys()) == 17


@pytest.mark.parametrize("category", ["technic", "proverbs_idioms"])
def test_materialise_one_category(tmp_path: Path, category: str) -> None:
    pack = load_pack(RU)
    result = materialize(
        [pack_files, entities, *catalog_checks],
        partition_key=category,
        resources=resources(RU, str(tmp_path / "store")),
    )
    assert result.success
    [mat] = result.asset_materializations_for_node("entities")
    assert mat.partition == category
    assert mat.metadata["dagster/row_count"].value == len(pack.entities[category])
    assert "| entity_id |" in mat.metadata["preview"].value
    assert mat.tags["dagster/data_version"] == pack.category_fingerprint(category)

    checks = result.get_asset_check_evaluations()
    assert sorted(c.check_name for c in checks) == [
        "entities_have_queries",
        "entities_not_empty",
        "entities_unique_ids",
    ]
    assert all(c.passed for c in checks)
    assert {c.partition for c in checks} == {category}

    table = Storage(str(tmp_path / "store")).read_table("entities", category)
    assert table.schema.equals(ENTITY_SCHEMA)
    assert table["entity_id"].to_pylist() == [e.id for e in pack.entities[category]]
    # Only this category was written.
    assert Storage(str(tmp_path / "store")).partitions("entities") == [category]


@pytest.mark.s3
def test_materialise_into_s3(s3_server: dict[str, str]) -> None:
    uri = f"s3://{BUCKET}/{uuid.uuid4().hex}"
    result = materialize(
        [pack_files, entities, *catalog_checks],
        partition_key="fauna",
        resources=resources(RU, uri, s3_server),
    )
    assert result.success
    stored = Storage(uri, s3_options(s3_server)).read_table("entities", "fauna")
    assert stored.num_rows == len(load_pack(RU).entities["fauna"])


def test_check_fails_on_a_table_with_duplicate_ids(tmp_path: Path) -> None:
    """The checks read what is in storage: a table damaged after the fact is caught."""
    store = Storage(str(tmp_path / "store"))
    good = load_pack(RU)
    bad = pa.Table.from_pylist(
        [
            {
                "entity_id": "twice",
                "category": "fauna",
                "pack_id": good.id,
                "native_name": "Дважды",
                "english_name": "Twice",
                "aliases": [],
                "queries": ["дважды"],
                "english_queries": [],
                "notes": "",
            }
        ]
        * 2,
        schema=ENTITY_SCHEMA,
    )
    store.write_table("entities", "fauna", bad)
    # Invoked directly: Dagster 1.13 cannot run a job of partitioned checks alone in process
    # (it infers the job's partitions from the selected assets, and there are none).
    context = DirectAssetCheckExecutionContext(build_op_context(partition_key="fauna"))
    evaluation = entities_unique_ids(
        context, storage=StorageResource(base_uri=str(tmp_path / "store"))
    )
    assert not evaluation.passed
    assert evaluation.metadata["duplicates"].value == ["twice"]
