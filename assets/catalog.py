"""The catalog stage: the culture pack's files, observed, and the ``entities`` table per category."""

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetExecutionContext,
    DataVersion,
    MaterializeResult,
    MetadataValue,
    asset,
    asset_check,
)

from craft_dag.assets.metadata import table_metadata
from craft_dag.assets.sources import pack_source
from craft_dag.catalog.tables import (
    duplicate_entity_ids,
    entities_table,
    entities_without_queries,
    markdown_preview,
)
from craft_dag.jobs.partitions import category_partitions
from craft_dag.resources import CulturePackResource, StorageResource

GROUP = "catalog"


pack_files = pack_source(
    "pack_files",
    GROUP,
    "The culture pack's files for each category. Observing it records a data version per "
    "category (a hash of that category's records), so an edit to one category's file marks "
    "only that partition of `entities`, and what depends on it, as stale.",
)


@asset(
    partitions_def=category_partitions,
    deps=[pack_files],
    group_name=GROUP,
    code_version="1",
    kinds={"parquet"},
    description="Validated catalog rows of one category: ids, names, aliases and web queries.",
)
def entities(
    context: AssetExecutionContext, pack: CulturePackResource, storage: StorageResource
) -> MaterializeResult:
    category = context.partition_key
    loaded = pack.load()
    table = entities_table(loaded, category)
    ref = storage.client().write_table("entities", category, table)
    queries = sum(len(q) for q in table["queries"].to_pylist())
    context.log.info(f"{category}: {table.num_rows} entities, {queries} queries -> {ref.uri}")
    return MaterializeResult(
        metadata={
            **table_metadata(table),
            "queries": queries,
            "category": loaded.category(category).english_name,
            "uri": MetadataValue.path(ref.uri),
            "preview": MetadataValue.md(
                markdown_preview(table, ["entity_id", "native_name", "english_name", "queries"])
            ),
        },
        data_version=DataVersion(loaded.category_fingerprint(category)),
    )


@asset_check(
    asset=entities,
    partitions_def=category_partitions,
    blocking=True,
    description="Every entity id occurs once in the category's table.",
)
def entities_unique_ids(
    context: AssetCheckExecutionContext, storage: StorageResource
) -> AssetCheckResult:
    table = storage.client().read_table("entities", context.partition_key)
    duplicates = duplicate_entity_ids(table)
    return AssetCheckResult(
        passed=not duplicates,
        metadata={"duplicates": MetadataValue.json(duplicates), "rows": table.num_rows},
    )


@asset_check(
    asset=entities,
    partitions_def=category_partitions,
    blocking=True,
    description="Every entity has at least one non-blank web query.",
)
def entities_have_queries(
    context: AssetCheckExecutionContext, storage: StorageResource
) -> AssetCheckResult:
    table = storage.client().read_table("entities", context.partition_key)
    missing = entities_without_queries(table)
    return AssetCheckResult(
        passed=not missing, metadata={"without_queries": MetadataValue.json(missing)}
    )


@asset_check(
    asset=entities,
    partitions_def=category_partitions,
    blocking=True,
    description="The category has at least one entity.",
)
def entities_not_empty(
    context: AssetCheckExecutionContext, storage: StorageResource
) -> AssetCheckResult:
    table = storage.client().read_table("entities", context.partition_key)
    return AssetCheckResult(
        passed=table.num_rows > 0,
        severity=AssetCheckSeverity.ERROR,
        metadata={"rows": table.num_rows},
    )


catalog_assets = [pack_files, entities]
catalog_checks = [entities_unique_ids, entities_have_queries, entities_not_empty]
