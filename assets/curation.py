"""The curation stage: scores and decisions, the human review loop, and ``filtered_images``."""

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

from craft_dag import markdown
from craft_dag.assets.collection import raw_images
from craft_dag.assets.metadata import table_metadata, warn_problems
from craft_dag.assets.sources import pack_source, storage_export_source
from craft_dag.collection.collect_category import IMAGES
from craft_dag.curation.filtering import FILTERED, coverage_gaps, filter_images
from craft_dag.curation.policy import effective
from craft_dag.curation.report import scores_report
from craft_dag.curation.score_category import score_category
from craft_dag.curation.tables import SCORES
from craft_dag.jobs.partitions import category_partitions
from craft_dag.parallel.scoring import score_category_sharded
from craft_dag.resources import CulturePackResource, StorageResource
from craft_dag.resources.curation import CurationScorersResource
from craft_dag.resources.executor import ExecutorResource, ShardScorers, shard_metadata
from craft_dag.review.tasks_and_exports import (
    CONFIG_FILE,
    TASKS,
    human_decisions,
    load_review,
    write_review_tasks,
)

GROUP = "curation"


curation_policy = pack_source(
    "curation_policy",
    GROUP,
    "The curation thresholds in force for each category (the pack's curation.yaml over the "
    "built-in defaults). Observing it records a data version per category, so editing one "
    "category's override marks only that category's scores stale.",
)


class ImageScoresConfig(Config):
    thresholds: dict[str, float] = Field(
        default_factory=dict,
        description="Threshold overrides for this run, e.g. {'min_blur': 40}; see curation.yaml.",
    )
    disable: list[str] = Field(
        default_factory=list, description="Thresholds (rules) to switch off for this run."
    )


def _run_overrides(config: ImageScoresConfig) -> dict[str, float | None]:
    """The run's layer for ``effective``: a switched-off rule is a threshold set to None."""
    return {**config.thresholds, **dict.fromkeys(config.disable)}


@asset(
    partitions_def=category_partitions,
    deps=[raw_images, curation_policy],
    group_name=GROUP,
    code_version="1",
    kinds={"parquet"},
    description=(
        "Per (image, entity): CPU quality metrics, perceptual hashes, near-duplicate group, OCR "
        "text, relevance and classifier scores (costly scores on survivors only), and the "
        "automatic decision keep / review / reject with its reasons."
    ),
)
def image_scores(
    context: AssetExecutionContext,
    config: ImageScoresConfig,
    pack: CulturePackResource,
    storage: StorageResource,
    scorers: CurationScorersResource,
    executor: ExecutorResource,
) -> MaterializeResult:
    category = context.partition_key
    loaded = pack.load()
    thresholds = effective(loaded.curation, category, _run_overrides(config))
    built = scorers.scorers(loaded.meta.source_language, warn=context.log.warning)
    store = storage.client()
    shards: dict[str, object] = {}
    if executor.sharded:  # per-image scores by shard on Ray; grouping and decisions once
        sharded = score_category_sharded(
            store,
            category,
            thresholds,
            built,
            executor.build(),
            num_shards=executor.num_shards,
            shard_scorers=ShardScorers.of(scorers, loaded.meta.source_language),
            storage_options=storage.storage_options(),
            log=context.log.info,
        )
        result = sharded.result
        shards = shard_metadata(sharded.report)
    else:
        result = score_category(store, category, thresholds, built, log=context.log.info)
    report = scores_report(result.table, thresholds, store.get_blob)
    return MaterializeResult(
        metadata={
            **table_metadata(result.table),
            **report.decisions,
            "reused_scores": result.reused,
            **shards,
            "scorers": MetadataValue.json(built.describe()),
            "thresholds": MetadataValue.md(report.thresholds),
            "funnel": MetadataValue.md(report.funnel),
            "near_duplicates": MetadataValue.md(report.near_duplicates),
            **{f"flagged_{r}": MetadataValue.md(sheet) for r, sheet in report.flagged.items()},
        }
    )


@asset_check(
    asset=image_scores,
    partitions_def=category_partitions,
    blocking=True,
    description="Every collected (image, entity) row has exactly one score row with a decision.",
)
def image_scores_complete(
    context: AssetCheckExecutionContext, storage: StorageResource
) -> AssetCheckResult:
    store = storage.client()
    wanted = store.read_table(IMAGES, context.partition_key).select(["image_id", "entity_id"])
    scores = store.read_table(SCORES, context.partition_key)
    have = scores.select(["image_id", "entity_id"]).to_pylist()
    keys = [(r["image_id"], r["entity_id"]) for r in have]
    missing = {(r["image_id"], r["entity_id"]) for r in wanted.to_pylist()} - set(keys)
    unexplained = sum(
        1
        for r in scores.select(["status", "decision", "reasons"]).to_pylist()
        if r["status"] == "ok" and r["decision"] == "reject" and not r["reasons"]
    )
    return AssetCheckResult(
        passed=not missing and len(keys) == len(set(keys)) and unexplained == 0,
        metadata={
            "missing": len(missing),
            "repeated": len(keys) - len(set(keys)),
            "rejected_without_reason": unexplained,
        },
    )


class ReviewTasksConfig(Config):
    include_rejected: bool = Field(
        default=False, description="Also send the images the rules rejected (to audit them)."
    )


@asset(
    partitions_def=category_partitions,
    deps=[image_scores],
    group_name=GROUP,
    code_version="1",
    kinds={"json"},
    description=(
        "Label Studio review tasks for the category: task-import JSON with image URLs from "
        "storage and the automatic decision as a pre-annotation, plus the labelling config "
        "whose instructions carry the paper's filtering rules."
    ),
)
def review_tasks(
    context: AssetExecutionContext, config: ReviewTasksConfig, storage: StorageResource
) -> MaterializeResult:
    category = context.partition_key
    store = storage.client()
    tasks, uri = write_review_tasks(
        store,
        category,
        store.read_table(SCORES, category).to_pylist(),
        store.read_table("entities", category).to_pylist(),
        include_rejected=config.include_rejected,
    )
    context.log.info(f"{category}: {len(tasks)} review tasks -> {uri}")
    return MaterializeResult(
        metadata={
            "tasks": len(tasks),
            "tasks_uri": MetadataValue.path(uri),
            "label_config_uri": MetadataValue.path(store.file_uri(TASKS, CONFIG_FILE)),
            "how_to": MetadataValue.md(
                "Create a Label Studio project with the labelling config, import the tasks "
                "file, review, then export as JSON into "
                f"`review_exports/{category}/` in storage (or a CSV of image_id, entity_id, "
                "category, verdict, reasons, caption, annotator, annotated_at)."
            ),
        }
    )


review_decisions = storage_export_source(
    "review_decisions",
    GROUP,
    "People's keep / reject decisions (and optional captions) per category: Label Studio JSON "
    "exports or plain CSV files under review_exports/<category>/ in storage. A new export marks "
    "exactly its category's downstream as changed.",
)


class FilteredImagesConfig(Config):
    review: bool = Field(
        default=True,
        description="Require a person's keep (the paper's way); off: the automatic keep alone.",
    )


@asset(
    partitions_def=category_partitions,
    deps=[image_scores, review_decisions],
    group_name=GROUP,
    code_version="1",
    kinds={"parquet"},
    description=(
        "The images that passed automatic and human filtering, with provenance, who decided, "
        "and the reviewer's caption if any."
    ),
)
def filtered_images(
    context: AssetExecutionContext,
    config: FilteredImagesConfig,
    pack: CulturePackResource,
    storage: StorageResource,
) -> MaterializeResult:
    category = context.partition_key
    store = storage.client()
    review = load_review(store, category)
    warn_problems(context.log.warning, "review export", review.problems)
    entity_ids = store.read_table("entities", category)["entity_id"].to_pylist()
    result = filter_images(
        store.read_table(SCORES, category).to_pylist(),
        store.read_table(IMAGES, category).to_pylist(),
        human_decisions(review),
        review=config.review,
        entities=entity_ids,
    )
    store.write_table(FILTERED, category, result.table)
    minimum = pack.load().curation.min_images_per_entity
    gaps = coverage_gaps(result.per_entity, minimum)
    resolution = review.resolution
    context.log.info(
        f"{category}: {result.table.num_rows} images kept; {len(gaps)} entities under {minimum}"
    )
    return MaterializeResult(
        metadata={
            **table_metadata(result.table),
            "review": "required" if config.review else "off (automatic keep only)",
            "export_files": MetadataValue.json(review.files),
            "human_decisions": len(resolution.decisions),
            "conflicts_resolved": resolution.n_conflicts,
            "bad_export_rows": len(review.problems),
            "outcomes": MetadataValue.md(
                markdown.table(["outcome", "rows"], sorted(result.outcomes.items()), right=["rows"])
            ),
            "entities_under_minimum": MetadataValue.json(sorted(gaps)),
        }
    )


@asset_check(
    asset=filtered_images,
    partitions_def=category_partitions,
    blocking=True,
    description="Nothing the rules rejected is in, unless a person kept it; every blob exists.",
)
def filtered_images_only_accepted(
    context: AssetCheckExecutionContext, storage: StorageResource
) -> AssetCheckResult:
    store = storage.client()
    rows = store.read_table(FILTERED, context.partition_key).to_pylist()
    unreviewed_rejects = [
        r["image_id"] for r in rows if r["auto_decision"] == "reject" and r["decided_by"] != "human"
    ]
    missing = [r["image_id"] for r in rows if not store.has_blob(r["image_id"])]
    return AssetCheckResult(
        passed=not unreviewed_rejects and not missing,
        metadata={
            "rejected_without_review": MetadataValue.json(unreviewed_rejects),
            "missing_blobs": MetadataValue.json(missing),
        },
    )


@asset_check(
    asset=filtered_images,
    partitions_def=category_partitions,
    description=(
        "Coverage gaps: entities left with fewer images than the pack's min_images_per_entity "
        "(a warning: rare entities are the paper's main limitation)."
    ),
)
def filtered_images_coverage(
    context: AssetCheckExecutionContext, pack: CulturePackResource, storage: StorageResource
) -> AssetCheckResult:
    store = storage.client()
    category = context.partition_key
    minimum = pack.load().curation.min_images_per_entity
    kept = store.read_table(FILTERED, category)["entity_id"].to_pylist()
    per_entity = dict.fromkeys(store.read_table("entities", category)["entity_id"].to_pylist(), 0)
    for entity in kept:
        per_entity[entity] = per_entity.get(entity, 0) + 1
    gaps = coverage_gaps(per_entity, minimum)
    return AssetCheckResult(
        passed=not gaps,
        severity=AssetCheckSeverity.WARN,
        description=(
            f"{len(gaps)} of {len(per_entity)} entities have fewer than {minimum} images: "
            + ", ".join(f"{e} ({n})" for e, n in list(gaps.items())[:30])
            if gaps
            else f"every entity has at least {minimum} images"
        ),
        metadata={"minimum": minimum, "gaps": MetadataValue.json(gaps)},
    )


curation_assets = [curation_policy, image_scores, review_tasks, review_decisions, filtered_images]
curation_checks = [image_scores_complete, filtered_images_only_accepted, filtered_images_coverage]
