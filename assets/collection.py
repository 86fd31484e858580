"""The collection stage: images for every entity of a category, with provenance and a fetch log."""

import pyarrow.compute as pc
from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetExecutionContext,
    Config,
    MaterializeResult,
    MetadataValue,
    asset,
    asset_check,
)
from pydantic import Field

from craft_dag.assets.catalog import entities
from craft_dag.assets.metadata import table_metadata
from craft_dag.collection.collect_category import FETCH_LOG, IMAGES, CollectLimits, collect_category
from craft_dag.collection.report import coverage_markdown, outcomes_markdown, sample_sheet
from craft_dag.collection.sources import entity_refs
from craft_dag.jobs.partitions import category_partitions
from craft_dag.parallel.fetching import collect_category_sharded
from craft_dag.resources import DownloaderResource, ImageSourceResource, StorageResource
from craft_dag.resources.executor import ExecutorResource, shard_metadata

GROUP = "collection"


class RawImagesConfig(Config):
    per_query: int = Field(default=10, description="Candidates asked of the source per query.")
    per_entity: int = Field(default=40, description="Candidates kept per entity, all queries.")
    max_pixels: int = Field(default=64_000_000, description="Pixel limit (decompression bombs).")


@asset(
    partitions_def=category_partitions,
    deps=[entities],
    group_name=GROUP,
    code_version="1",
    kinds={"parquet"},
    description=(
        "Images collected for the category's entities: one row per (image, entity) with "
        "provenance (source, query, url, licence, author), size and format; blobs stored once by "
        "sha256. A fetch log table (raw_images_fetch_log) records every failure with its reason. "
        "Re-materialising fetches only what is missing or failed for a retryable reason."
    ),
)
def raw_images(
    context: AssetExecutionContext,
    config: RawImagesConfig,
    storage: StorageResource,
    image_source: ImageSourceResource,
    downloader: DownloaderResource,
    executor: ExecutorResource,
) -> MaterializeResult:
    category = context.partition_key
    store = storage.client()
    rows = store.read_table("entities", category).to_pylist()
    limits = CollectLimits(
        per_query=config.per_query, per_entity=config.per_entity, max_pixels=config.max_pixels
    )
    refs, source = entity_refs(rows), image_source.source()
    shards: dict[str, object] = {}
    if executor.sharded:  # fetch and verify by shard on Ray; rows merged and ordered once
        sharded = collect_category_sharded(
            category, refs, source, downloader.config(), store, executor.build(),
            num_shards=executor.num_shards, limits=limits,
            storage_options=storage.storage_options(), log=context.log.info,
        )  # fmt: skip
        result = sharded.result
        shards = shard_metadata(sharded.report)
    else:
        result = collect_category(
            category, refs, source, downloader.config(), store, limits, log=context.log.info
        )
    names = {r["entity_id"]: r["native_name"] for r in rows}
    missing = sorted(e for e, n in result.coverage.items() if n == 0)
    metadata = {
        **table_metadata(result.images),
        "failures": result.fetch_log.num_rows,
        "fetched_this_run": result.fetched,
        "carried_over": result.reused,
        "over_quota": result.over_quota,
        **shards,
        "entities_without_images": MetadataValue.json(missing),
        "outcomes": MetadataValue.md(outcomes_markdown(result.outcomes)),
        "coverage": MetadataValue.md(coverage_markdown(result.coverage, names)),
    }
    sheet = sample_sheet(store, result.images)
    if sheet:
        metadata["sample"] = MetadataValue.md(sheet)
    return MaterializeResult(metadata=metadata)


@asset_check(
    asset=raw_images,
    partitions_def=category_partitions,
    blocking=True,
    description="No (image, entity) pair appears twice, and every row's blob is in storage.",
)
def raw_images_rows_and_blobs(
    context: AssetCheckExecutionContext, storage: StorageResource
) -> AssetCheckResult:
    store = storage.client()
    table = store.read_table(IMAGES, context.partition_key)
    pairs = table.select(["image_id", "entity_id"]).to_pylist()
    duplicates = len(pairs) - len({(p["image_id"], p["entity_id"]) for p in pairs})
    missing = [i for i in set(table["image_id"].to_pylist()) if not store.has_blob(i)]
    return AssetCheckResult(
        passed=duplicates == 0 and not missing,
        metadata={
            "duplicate_rows": duplicates,
            "missing_blobs": MetadataValue.json(sorted(missing)),
        },
    )


@asset_check(
    asset=raw_images,
    partitions_def=category_partitions,
    description="Every image records where it came from (source and url); licence is reported.",
)
def raw_images_provenance(
    context: AssetCheckExecutionContext, storage: StorageResource
) -> AssetCheckResult:
    table = storage.client().read_table(IMAGES, context.partition_key)
    no_url = pc.sum(pc.equal(table["url"], "")).as_py() or 0
    no_licence = pc.sum(pc.equal(table["licence"], "")).as_py() or 0
    return AssetCheckResult(
        passed=no_url == 0,
        severity=AssetCheckSeverity.ERROR,
        metadata={"without_url": no_url, "without_licence": no_licence},
    )


@asset_check(
    asset=raw_images,
    partitions_def=category_partitions,
    description="Every entity has at least one image (a warning: some entities are rare).",
)
def raw_images_coverage(
    context: AssetCheckExecutionContext, storage: StorageResource
) -> AssetCheckResult:
    store = storage.client()
    category = context.partition_key
    wanted = set(store.read_table("entities", category)["entity_id"].to_pylist())
    have = set(store.read_table(IMAGES, category)["entity_id"].to_pylist())
    log = store.read_table(FETCH_LOG, category)
    missing = sorted(wanted - have)
    return AssetCheckResult(
        passed=not missing,
        severity=AssetCheckSeverity.WARN,
        metadata={
            "entities": len(wanted),
            "without_images": MetadataValue.json(missing),
            "logged_failures": log.num_rows,
        },
    )


collection_assets = [raw_images]
collection_checks = [raw_images_rows_and_blobs, raw_images_provenance, raw_images_coverage]
