"""The training stage: ``training_shards`` (per category), ``training_dataset`` (fan-in) and the
``checkpoint`` the trainer makes from it, launched through Dagster Pipes.

Resources: ``storage`` (StorageResource), ``pack`` (CulturePackResource) and, for
``checkpoint``, ``training_launcher`` (``craft_dag.resources.training.TrainingLauncherResource``).
"""

import shlex
from pathlib import Path

from dagster import (
    AllPartitionMapping,
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetDep,
    AssetExecutionContext,
    Config,
    Failure,
    MaterializeResult,
    MetadataValue,
    asset,
    asset_check,
)
from pydantic import Field

from craft_dag import markdown
from craft_dag.assets.captioning import translated_captions
from craft_dag.assets.metadata import table_metadata
from craft_dag.imaging.contact_sheet import png_markdown
from craft_dag.jobs.partitions import category_partitions
from craft_dag.resources import CulturePackResource, StorageResource
from craft_dag.resources.training import TrainingLauncherResource
from craft_dag.storage import Storage, StorageError
from craft_dag.training.buckets import BucketSpec
from craft_dag.training.dataset import (
    TRAINING_DATASET,
    TRAINING_SHARDS,
    IncompleteDatasetError,
    build_manifest,
    load_shards,
    shard_category,
    shard_params,
    write_manifest,
)
from craft_dag.training.pipes import CHECKPOINTS, FINAL, MODEL_CARD, copy_final
from craft_dag.training.sampling import (
    DEFAULT_MAX_REPEATS,
    DEFAULT_TARGET_PER_ENTITY,
    MODES,
    PAPER_REPEATS,
)
from craft_dag.training.trainer_handoff import checkpoint_card, write_validation_prompts

GROUP = "training"


class TrainingShardsConfig(Config):
    mode: str = Field(
        default="balanced",
        description=f"Sampling: one of {', '.join(MODES)} (uniform is the paper's x50 "
        "duplication of everything; balanced lifts rare entities toward a target, capped).",
    )
    target_per_entity: float = Field(
        default=DEFAULT_TARGET_PER_ENTITY,
        description="Balanced: the effective samples per pass each entity is pulled toward. A "
        "fixed number, so one category's shard never depends on the others.",
    )
    max_repeats: float = Field(
        default=DEFAULT_MAX_REPEATS,
        description="Balanced: the most times one sample is repeated per pass.",
    )
    uniform_repeats: int = Field(
        default=PAPER_REPEATS, description="Uniform: the repeats of every sample."
    )
    min_side: int = Field(default=768, description="Stage-2 buckets: area at least min_side^2.")
    max_side: int = Field(default=1024, description="Stage-2 buckets: area at most max_side^2.")
    multiple: int = Field(default=64, description="Stage-2 buckets: sides multiples of this.")
    max_aspect: float = Field(default=2.0, description="Stage-2 buckets: long / short side.")


@asset(
    partitions_def=category_partitions,
    deps=[translated_captions],
    group_name=GROUP,
    code_version="1",
    kinds={"parquet"},
    description=(
        "One row per trainable (image, entity) of the category: English and native captions, "
        "the stage-2 aspect-ratio bucket (none for images too small, kept for stage 1), and "
        "the repeat weight of entity balancing (or the paper's uniform x50)."
    ),
)
def training_shards(
    context: AssetExecutionContext, config: TrainingShardsConfig, storage: StorageResource
) -> MaterializeResult:
    spec = BucketSpec(config.min_side**2, config.max_side**2, config.multiple, config.max_aspect)
    result = shard_category(
        storage.client(),
        context.partition_key,
        spec,
        config.mode,
        target_per_entity=config.target_per_entity,
        max_repeats=config.max_repeats,
        uniform_repeats=config.uniform_repeats,
    )
    entities = [(e.entity_id, e.samples, round(e.weight, 3), round(e.effective, 2))
                for e in result.weights.entities]  # fmt: skip
    return MaterializeResult(
        metadata={
            **table_metadata(result.table),
            "mode": config.mode,
            "samples": result.weights.samples,
            "effective_samples": round(result.weights.effective, 2),
            "too_small_for_stage2": result.counts["too_small"],
            "not_trainable_skipped": result.counts["not trainable"],
            "entities": MetadataValue.md(
                markdown.table(
                    ["entity", "samples", "weight", "after"],
                    entities,
                    right=["samples", "weight", "after"],
                )
            ),
        }
    )


def _has_blob(store: Storage, blob_key: str | None) -> bool:
    """Whether the blob a row names (``blobs/sha256/<ab>/<sha256>``) is in storage."""
    digest = (blob_key or "").rsplit("/", 1)[-1]
    try:
        return store.has_blob(digest)
    except StorageError:  # not a digest at all
        return False


@asset_check(
    asset=training_shards,
    partitions_def=category_partitions,
    blocking=True,
    description=(
        "Every row has an English caption and its image in storage; in balanced mode every "
        "repeat weight is within [1, max_repeats]."
    ),
)
def training_shards_valid(
    context: AssetCheckExecutionContext, storage: StorageResource
) -> AssetCheckResult:
    store = storage.client()
    table = store.read_table(TRAINING_SHARDS, context.partition_key)
    params = shard_params(table)
    rows = table.to_pylist()
    no_caption = [r["sample_id"] for r in rows if not (r["caption_en"] or "").strip()]
    no_blob = [r["sample_id"] for r in rows if not _has_blob(store, r["blob_key"])]
    bad_weight = []
    if params.get("mode") == "balanced":
        cap = params["max_repeats"]
        bad_weight = [r["sample_id"] for r in rows if not 1.0 <= r["repeat_weight"] <= cap]
    return AssetCheckResult(
        passed=not (no_caption or no_blob or bad_weight),
        metadata={
            "without_caption_en": MetadataValue.json(no_caption[:50]),
            "without_blob": MetadataValue.json(no_blob[:50]),
            "weight_out_of_range": MetadataValue.json(bad_weight[:50]),
            "params": MetadataValue.json(params),
        },
    )


class TrainingDatasetConfig(Config):
    allow_incomplete: bool = Field(
        default=False,
        description="Build from the categories that have a shard even if some have none "
        "(the card says which are missing). Off: a missing category is an error.",
    )


@asset(
    # Every category's shard: an unpartitioned asset reads all partitions of its upstream.
    # Dagster infers AllPartitionMapping here; spelled out because the fan-in is the point.
    deps=[AssetDep(training_shards, partition_mapping=AllPartitionMapping())],
    group_name=GROUP,
    code_version="1",
    kinds={"parquet"},
    description=(
        "The training set: every category's shard in one table, with a dataset card "
        "(counts per category and entity before and after balancing, buckets, caption "
        "lengths, licences). Refuses an incomplete set of categories unless told to."
    ),
)
def training_dataset(
    context: AssetExecutionContext, config: TrainingDatasetConfig, storage: StorageResource
) -> MaterializeResult:
    store = storage.client()
    # Completeness is checked here, against storage: a run that materialises one partition of
    # training_shards and this asset together would otherwise build from that one alone.
    categories = category_partitions.get_partition_keys()
    try:
        shards, missing = load_shards(store, categories, allow_incomplete=config.allow_incomplete)
    except IncompleteDatasetError as err:
        raise Failure(
            description=str(err), metadata={"missing_categories": MetadataValue.json(err.missing)}
        ) from err
    if missing:
        context.log.warning(f"building without {len(missing)} categories: {', '.join(missing)}")
    full = build_manifest(shards, missing=missing)
    table_uri, card_uri = write_manifest(store, full)
    shown = build_manifest(shards, missing=missing, entity_limit=50, inline_plots=False)
    counts = full.counts
    return MaterializeResult(
        metadata={
            **table_metadata(full.table),
            "samples": counts["samples"],
            "effective_samples": counts["effective_samples"],
            "entities": counts["entities"],
            "categories": counts["categories"],
            "stage2_samples": counts["stage2_samples"],
            "too_small_for_stage2": counts["too_small"],
            "missing_categories": MetadataValue.json(missing),
            "table": MetadataValue.path(table_uri),
            "card_file": MetadataValue.path(card_uri),
            "card": MetadataValue.md(shown.card),
            **{
                f"plot_{name}": MetadataValue.md(png_markdown(png, name))
                for name, png in full.plots.items()
            },
        }
    )


class CheckpointConfig(Config):
    extra_args: list[str] = Field(
        default=[],
        description="Appended to the trainer's arguments for this run only, e.g. "
        "['--set', 'stages.stage2_mixed.max_steps=10'].",
    )
    validation_prompts: int = Field(
        default=4, description="Evaluation prompts of the pack to draw validation grids from."
    )


@asset(
    deps=[training_dataset],
    group_name=GROUP,
    code_version="1",
    kinds={"pytorch", "diffusers"},
    description=(
        "The fine-tuned model (diffusers layout, or the LoRA adapter) with its model card, "
        "trained by craft_dag.training.train launched through Dagster Pipes: its logs and "
        "metrics stream into this run."
    ),
)
def checkpoint(
    context: AssetExecutionContext,
    config: CheckpointConfig,
    storage: StorageResource,
    pack: CulturePackResource,
    training_launcher: TrainingLauncherResource,
) -> MaterializeResult:
    store = storage.client()
    run_id = context.run.run_id
    dataset = store.read_table(TRAINING_DATASET)
    run_dir = Path(training_launcher.output_root).resolve() / run_id
    output = run_dir / "output"
    prompts = write_validation_prompts(run_dir, pack.load().prompts, config.validation_prompts)
    command = training_launcher.command(
        dataset=store.uri_of(store.table_path(TRAINING_DATASET)),
        storage=storage.base_uri,
        output=str(output),
        prompts=str(prompts),
        extra_args=config.extra_args,
    )
    context.log.info(f"launching the trainer: {shlex.join(command)}")
    reported = training_launcher.run(context, command).get_materialize_result()

    uri, files = copy_final(store, output / FINAL, run_id)
    made = checkpoint_card(output, dataset, checkpoint_uri=uri, culture=pack.load().meta.name)
    # Written last: its presence marks a complete copy of the weights.
    card_uri = store.write_file((CHECKPOINTS, run_id, MODEL_CARD), made.card.encode())
    return MaterializeResult(
        metadata={
            # The trainer's own report wins; the parent's reading of metrics.jsonl fills in
            # when it reported nothing (launched without the Pipes reporter, or it crashed late).
            **made.summary,
            **(reported.metadata or {}),
            "checkpoint": MetadataValue.path(uri),
            "files": MetadataValue.json(files),
            "model_card_file": MetadataValue.path(card_uri),
            "model_card": MetadataValue.md(made.card),
        }
    )


training_assets = [training_shards, training_dataset, checkpoint]
training_checks = [training_shards_valid]
