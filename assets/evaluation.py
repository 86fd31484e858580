"""The evaluation stage: ``evaluation`` generates the pack's evaluation prompts with the base
model and the newest checkpoint, scores them and compares the two.

Which checkpoint: ``config.checkpoint_run_id`` when given; else the run id in the path the
``checkpoint`` asset's latest materialization recorded (its ``checkpoint`` metadata,
``checkpoints/<run id>`` in storage), when that copy is complete (its model card is there);
else the newest complete ``checkpoints/<run id>/`` in storage (by model card time), so a
checkpoint copied in by hand, or made in another Dagster instance, is evaluated too.

Resources: ``pack``, ``storage`` and ``scorers`` (``CurationScorersResource``: its relevance
scorer is the one curation uses, so the same model scores collected and generated images).
"""

import json

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetExecutionContext,
    AssetKey,
    AssetSelection,
    AutomationCondition,
    Config,
    DataVersion,
    Failure,
    MaterializeResult,
    MetadataValue,
    asset,
    asset_check,
    observable_source_asset,
)
from pydantic import Field

from craft_dag.assets.metadata import column_schema
from craft_dag.assets.training import checkpoint as checkpoint_asset
from craft_dag.evaluation.generate import (
    GENERATIONS,
    RUN_FILE,
    Checkpoint,
    GenerationSpec,
    generate_models,
    list_checkpoints,
    missing_generations,
    prompt_limit,
    read_checkpoint,
    select_prompts,
)
from craft_dag.evaluation.sbs_io import sbs_report as build_sbs_report
from craft_dag.evaluation.sbs_io import vote_files, votes_fingerprint, write_sbs_kits
from craft_dag.evaluation.scores import score_and_compare
from craft_dag.evaluation.summary import grid_sheets, scores_markdown
from craft_dag.imaging.contact_sheet import png_markdown
from craft_dag.resources import CulturePackResource, StorageResource
from craft_dag.resources.curation import CurationScorersResource
from craft_dag.storage import Storage, StorageError

GROUP = "evaluation"
GRID_CATEGORIES = 4
GRID_PROMPTS = 2
SHORT = {"source": "src", "english": "en"}


class EvaluationConfig(Config):
    checkpoint_run_id: str = Field(
        default="", description="The checkpoint to evaluate; empty: the latest (see the module)."
    )
    base_model: str = Field(
        default="", description="The base model id; empty: the checkpoint's base_model.json."
    )
    max_prompts: int = Field(
        default=-1,
        description="Evaluation prompts to generate, categories taken in turn; 0: all; "
        "-1: the profile's (8 for tiny, all for full).",
    )
    images_per_prompt: int = Field(default=2, description="K images per prompt and language.")
    steps: int = Field(default=0, description="Sampler steps; 0: the profile's (4 / 25).")
    guidance_scale: float = Field(default=3.0, description="Classifier-free guidance scale.")
    width: int = Field(default=0, description="Image width; 0: the profile's (64 / 1024).")
    height: int = Field(default=0, description="Image height; 0: the profile's (64 / 1024).")
    seed: int = Field(default=0, description="Image k of every prompt is seeded seed + k.")
    device: str = Field(default="cpu", description="torch device for generation.")
    bootstrap_resamples: int = Field(default=1000, description="Bootstrap resamples of prompts.")


def _find_checkpoint(
    context: AssetExecutionContext, store: Storage, run_id: str
) -> tuple[Checkpoint, str]:
    """The checkpoint to evaluate and how it was found."""
    if run_id:
        return read_checkpoint(store, run_id), "config"
    event = context.instance.get_latest_materialization_event(AssetKey(checkpoint_asset.key.path))
    if event is not None and event.asset_materialization is not None:
        value = event.asset_materialization.metadata.get("checkpoint")
        path = str(getattr(value, "value", value) or "").rstrip("/")
        if path:
            try:
                return read_checkpoint(store, path.rsplit("/", 1)[-1]), "materialization"
            except (FileNotFoundError, StorageError, ValueError) as err:
                context.log.warning(f"latest checkpoint materialization unusable: {err}")
    found = list_checkpoints(store)
    if not found:
        raise Failure(
            description="no complete checkpoint in storage (checkpoints/<run id>/ with "
            "model_card.md): materialise checkpoint first"
        )
    return found[0], "storage"


def _grids(rows: list[dict], store: Storage, columns: int) -> dict[str, MetadataValue]:
    """Per category (a few), its contact sheet under ``grid_<category>``."""
    sheets = grid_sheets(rows, store.get_blob, columns)
    return {f"grid_{category}": MetadataValue.md(sheet) for category, sheet in sheets.items()}


def _generation_spec(config: EvaluationConfig, profile: str) -> GenerationSpec:
    """The run's generation settings: the profile's, with what the run config sets."""
    return GenerationSpec.for_profile(
        profile,
        images_per_prompt=config.images_per_prompt,
        steps=config.steps,
        guidance_scale=config.guidance_scale,
        width=config.width,
        height=config.height,
        seed=config.seed or None,
    )


@asset(
    deps=[checkpoint_asset],
    group_name=GROUP,
    code_version="1",
    kinds={"diffusers", "parquet"},
    description=(
        "Generations for the pack's evaluation prompts (source language and English, K fixed "
        "seeds) from the base model and the latest checkpoint, with automatic scores (text "
        "similarity, entity relevance, Vendi diversity) and tuned-vs-base differences with "
        "bootstrap intervals."
    ),
)
def evaluation(
    context: AssetExecutionContext,
    config: EvaluationConfig,
    pack: CulturePackResource,
    storage: StorageResource,
    scorers: CurationScorersResource,
) -> MaterializeResult:
    store = storage.client()
    loaded = pack.load()
    found, how = _find_checkpoint(context, store, config.checkpoint_run_id)
    context.log.info(f"evaluating checkpoint {found.run_id} (found by {how})")
    prompts = select_prompts(loaded.prompts, prompt_limit(config.max_prompts, scorers.profile))
    if not prompts:
        raise Failure(description=f"pack {loaded.id!r} has no evaluation prompts")
    spec = _generation_spec(config, scorers.profile)
    rows, per_image = generate_models(
        store, prompts, spec, found, base_model=config.base_model, device=config.device,
        log=context.log.info,
    )  # fmt: skip

    built = scorers.scorers(loaded.meta.source_language, warn=context.log.warning)
    if built.relevance is None:
        raise Failure(description="the scorers resource has relevance off: nothing to score")
    scored = score_and_compare(
        store, built.relevance, rows, loaded.entities, resamples=config.bootstrap_resamples,
        seed=config.seed,
    )  # fmt: skip
    return MaterializeResult(
        metadata={
            "dagster/row_count": len(rows),
            "checkpoint_run_id": found.run_id,
            "checkpoint_found_by": how,
            "checkpoint": MetadataValue.path(found.uri),
            "base_model": config.base_model or found.base_model,
            "prompts": len(prompts),
            "images": len(rows),
            "seconds_per_image": round(per_image, 3),
            "generation": MetadataValue.json(spec.params()),
            "scorer": scored.scorer,
            "scores": MetadataValue.md(scores_markdown(scored.comparison)),
            "generations_table": MetadataValue.path(store.uri_of(store.table_path(GENERATIONS))),
            "scores_table": MetadataValue.path(scored.scores_uri),
            "comparison_table": MetadataValue.path(scored.comparison_uri),
            "scores_schema": column_schema(scored.scores_schema),
            **_grids(rows, store, columns=2 * spec.images_per_prompt),
        }
    )


@asset_check(
    asset=evaluation,
    blocking=True,
    description="Every prompt of the run has K images in both languages for every model.",
)
def evaluation_complete(
    context: AssetCheckExecutionContext, storage: StorageResource
) -> AssetCheckResult:
    store = storage.client()
    run = json.loads(store.read_file(RUN_FILE))
    rows = store.read_table(GENERATIONS).to_pylist()
    missing = missing_generations(rows, run["prompt_ids"], run["models"], run["images_per_prompt"])
    no_blob = sorted({r["sha256"] for r in rows if not store.has_blob(r["sha256"])})
    return AssetCheckResult(
        passed=not missing and not no_blob,
        metadata={
            "prompts": len(run["prompt_ids"]),
            "models": MetadataValue.json(run["models"]),
            "images_per_prompt": run["images_per_prompt"],
            "incomplete": MetadataValue.json(missing[:50]),
            "without_blob": MetadataValue.json(no_blob[:50]),
        },
    )


class SbsKitsConfig(Config):
    assessors: list[str] = Field(
        default=["assessor_1", "assessor_2"],
        description="One kit (a self-contained HTML page) per assessor; the paper had 12.",
    )
    seed: int = Field(default=0, description="Seeds each assessor's left/right layout.")


@asset(
    deps=[evaluation],
    group_name=GROUP,
    kinds={"html"},
    description=(
        "Side-by-side kits: one self-contained HTML page per assessor with pairs of base and "
        "tuned images for the same prompt and seed, sides randomised and models hidden, the "
        "paper's two questions (text alignment, visual quality), votes kept in the browser and "
        "exported as JSON into evaluation/votes/."
    ),
)
def sbs_kits(
    context: AssetExecutionContext, config: SbsKitsConfig, storage: StorageResource
) -> MaterializeResult:
    pairs, uris = write_sbs_kits(storage.client(), config.assessors, seed=config.seed)
    context.log.info(f"{len(pairs)} pairs in {len(uris)} kits")
    return MaterializeResult(
        metadata={
            "pairs": len(pairs),
            "kits": MetadataValue.json(uris),
            "how_to": MetadataValue.md(
                "Send each assessor their page (it needs no server). Keys 1/2/3 answer which "
                "image matches the prompt better (left, right, tie), q/w/e which looks better; "
                "Enter moves on. Votes survive a reload; **Export** saves them as JSON, which "
                "goes into `evaluation/votes/` in storage."
            ),
        }
    )


@observable_source_asset(
    group_name=GROUP,
    description="Assessors' exported side-by-side votes (JSON files in evaluation/votes/).",
)
def sbs_votes(storage: StorageResource) -> DataVersion:
    return DataVersion(votes_fingerprint(storage.client()))


class SbsReportConfig(Config):
    bootstrap_resamples: int = Field(default=1000, description="Bootstrap resamples of prompts.")


@asset(
    deps=[sbs_kits, sbs_votes],
    group_name=GROUP,
    # Re-rendered whenever new votes are observed (jobs/sensors.py); a new kit alone waits for
    # its votes, since old votes do not describe its pairs.
    automation_condition=AutomationCondition.eager().ignore(AssetSelection.assets("sbs_kits")),
    kinds={"markdown"},
    description=(
        "Win / tie / loss of the tuned model against the base, overall and per category and "
        "question, with bootstrap intervals and inter-rater agreement (Fleiss' kappa)."
    ),
)
def sbs_report(
    context: AssetExecutionContext, config: SbsReportConfig, storage: StorageResource
) -> MaterializeResult:
    store = storage.client()
    files = vote_files(store)
    if not files:
        raise Failure(
            "no votes yet: assessors export their kit's votes into evaluation/votes/ in storage"
        )
    result, written = build_sbs_report(store, bootstrap=config.bootstrap_resamples)
    metadata: dict[str, object] = {
        "votes": result.votes,
        "assessors": MetadataValue.json(result.assessors),
        "vote_files": MetadataValue.json(files),
        "report": MetadataValue.md(written["report.md"].decode("utf-8")),
    }
    for name, data in written.items():
        if name.endswith(".png"):
            metadata[name.removesuffix(".png")] = MetadataValue.md(png_markdown(data, name))
    context.log.info(f"side-by-side report over {len(files)} vote files")
    return MaterializeResult(metadata=metadata)


evaluation_assets = [evaluation, sbs_kits, sbs_votes, sbs_report]
evaluation_checks = [evaluation_complete]
