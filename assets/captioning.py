"""The captioning stage: ``captions`` (human and automatic, linted) and ``translated_captions``."""

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetExecutionContext,
    Config,
    MaterializeResult,
    MetadataValue,
    asset,
    asset_check,
)
from pydantic import Field

from craft_dag.assets.curation import filtered_images
from craft_dag.assets.metadata import table_metadata, warn_problems
from craft_dag.assets.sources import storage_export_source
from craft_dag.captioning.caption_category import CAPTIONS, caption_category
from craft_dag.captioning.choose import POLICIES
from craft_dag.captioning.summary import entity_names, summarise_captions
from craft_dag.jobs.partitions import category_partitions
from craft_dag.resources import CulturePackResource, StorageResource
from craft_dag.resources.captioning import CaptionerResource, TranslatorResource
from craft_dag.resources.executor import ExecutorResource, shard_metadata
from craft_dag.translation.glossary import GlossaryMatcher
from craft_dag.translation.memory import MEMORY, load_memory
from craft_dag.translation.summary import summarise_translations
from craft_dag.translation.translate_category import TRANSLATED, translate_category

GROUP = "captioning"


class CaptionsConfig(Config):
    policy: str = Field(
        default="human_only",
        description=f"Which caption trains: one of {', '.join(POLICIES)} (the paper kept human "
        "captions only: the model is wrong on names and facts).",
    )


@asset(
    partitions_def=category_partitions,
    deps=[filtered_images],
    group_name=GROUP,
    code_version="1",
    kinds={"parquet"},
    description=(
        "Per filtered image: the human caption (review export or CSV) and, where the policy "
        "needs one, the cleaned automatic caption with its model and parameters; the chosen "
        "caption, the guideline rules it breaks, and whether it goes on."
    ),
)
def captions(
    context: AssetExecutionContext,
    config: CaptionsConfig,
    pack: CulturePackResource,
    storage: StorageResource,
    captioner: CaptionerResource,
    executor: ExecutorResource,
) -> MaterializeResult:
    category = context.partition_key
    loaded = pack.load()
    store = storage.client()
    names = entity_names(store.read_table("entities", category).to_pylist())
    category_name = loaded.category(category).english_name
    sharded = None  # with the captioner built on each worker
    if config.policy != "human_only":
        sharded = executor.captions(
            captioner, storage, category, names, category_name, context.log.info
        )
    result = caption_category(
        store,
        category,
        names=names,
        category_name=category_name,
        source_language=loaded.meta.source_language,
        policy=config.policy,
        captioner=captioner.captioner() if config.policy != "human_only" and not sharded else None,
        settings=captioner.settings(),
        rules=loaded.caption_rules,
        batch_size=captioner.batch_size,
        auto_captions=sharded,
        log=context.log.info,
    )
    warn_problems(context.log.warning, "human captions", result.problems)
    summary = summarise_captions(result, tiny_model=captioner.backend == "tiny")
    return MaterializeResult(
        metadata={
            **table_metadata(result.table),
            "policy": config.policy,
            "included": summary.included,
            "outcomes": MetadataValue.json(summary.outcomes),
            "guideline_violations": MetadataValue.json(summary.guideline_violations),
            "bad_caption_rows": len(result.problems),
            "examples": MetadataValue.md(summary.examples),
            **(shard_metadata(sharded.report) if sharded else {}),
        }
    )


@asset_check(
    asset=captions,
    partitions_def=category_partitions,
    blocking=True,
    description=(
        "Guideline linter: no caption that goes on breaks a rule (2-10 sentences, entity "
        "named, no viewing phrases, hedging, usage guesses or templates); offenders are "
        "excluded and counted."
    ),
)
def captions_follow_guidelines(
    context: AssetCheckExecutionContext, storage: StorageResource
) -> AssetCheckResult:
    rows = storage.client().read_table(CAPTIONS, context.partition_key).to_pylist()
    leaked = [r["image_id"] for r in rows if r["included"] and r["violations"]]
    excluded: dict[str, int] = {}
    for r in rows:
        for rule in r["violations"]:
            excluded[rule] = excluded.get(rule, 0) + 1
    return AssetCheckResult(
        passed=not leaked,
        metadata={
            "included_with_violations": MetadataValue.json(leaked),
            "excluded_by_rule": MetadataValue.json(excluded),
            "included": sum(1 for r in rows if r["included"]),
        },
    )


translation_memory = storage_export_source(
    "translation_memory",
    GROUP,
    f"People's English versions of captions per category: CSV files under {MEMORY}/<category>/ "
    "in storage, used before any machine translation. A new file marks exactly its category's "
    "translations as changed.",
)


@asset(
    partitions_def=category_partitions,
    deps=[captions, translation_memory],
    group_name=GROUP,
    code_version="1",
    kinds={"parquet"},
    description=(
        "The included captions in the target language, native and English side by side: "
        "translation backend, glossary hits, post-edits and misses, detected language, length "
        "ratio and an optional quality estimate; rows with a problem are kept, not trainable."
    ),
)
def translated_captions(
    context: AssetExecutionContext,
    pack: CulturePackResource,
    storage: StorageResource,
    translator: TranslatorResource,
    executor: ExecutorResource,
) -> MaterializeResult:
    category = context.partition_key
    loaded = pack.load()
    source, target = loaded.meta.source_language, loaded.meta.target_language
    store = storage.client()
    memory, problems = load_memory(store, category)
    warn_problems(context.log.warning, "translation memory", problems)
    matcher = GlossaryMatcher.for_pack(loaded)  # glossary.yaml and catalog entities
    # The translator on each worker when sharded; the glossary and the checks stay here.
    sharded = executor.translations(
        translator, storage, category, matcher, source, target, context.log.info
    )
    result = translate_category(
        store,
        category,
        translator=None if sharded else translator.translator(source, target),
        settings=translator.settings(),
        matcher=matcher,
        translate_rows=sharded,
        target_language=target,
        min_language_confidence=translator.min_language_confidence,
        signals=translator.signals(target),
        memory=memory,
        log=context.log.info,
    )
    summary = summarise_translations(
        result, source_language=source, target_language=target,
        tiny_model=translator.backend == "tiny",
    )  # fmt: skip
    return MaterializeResult(
        metadata={
            **table_metadata(result.table),
            "trainable": summary.trainable,
            "from_translation_memory": summary.from_translation_memory,
            "glossary_edits": summary.glossary_edits,
            "glossary_misses": MetadataValue.json(summary.glossary_misses),
            "side_by_side": MetadataValue.md(summary.side_by_side),
            **(shard_metadata(sharded.report) if sharded else {}),
        }
    )


@asset_check(
    asset=translated_captions,
    partitions_def=category_partitions,
    blocking=True,
    description="Zero glossary misses among the captions that go to training.",
)
def translated_glossary_clean(
    context: AssetCheckExecutionContext, storage: StorageResource
) -> AssetCheckResult:
    rows = storage.client().read_table(TRANSLATED, context.partition_key).to_pylist()
    leaked = [r["image_id"] for r in rows if r["trainable"] and r["glossary_misses"]]
    held_back = sum(1 for r in rows if r["glossary_misses"])
    return AssetCheckResult(
        passed=not leaked,
        metadata={
            "trainable_with_misses": MetadataValue.json(leaked),
            "held_back_for_misses": held_back,
        },
    )


@asset_check(
    asset=translated_captions,
    partitions_def=category_partitions,
    blocking=True,
    description="Every caption that goes to training is in the target language (detected).",
)
def translated_in_target_language(
    context: AssetCheckExecutionContext, pack: CulturePackResource, storage: StorageResource
) -> AssetCheckResult:
    target = pack.load().meta.target_language
    rows = storage.client().read_table(TRANSLATED, context.partition_key).to_pylist()
    wrong = [r["image_id"] for r in rows if r["trainable"] and r["language"] != target]
    return AssetCheckResult(
        passed=not wrong,
        metadata={
            "trainable_not_in_target": MetadataValue.json(wrong),
            "languages": MetadataValue.json(
                {
                    lang: sum(1 for r in rows if r["language"] == lang)
                    for lang in {r["language"] for r in rows}
                }
            ),
        },
    )


captioning_assets = [captions, translation_memory, translated_captions]
captioning_checks = [
    captions_follow_guidelines,
    translated_glossary_clean,
    translated_in_target_language,
]
