"""Run the whole asset graph once, every category, on this machine: ``python -m craft_dag.jobs.demo``.

Runs are recorded in the Dagster instance of ``DAGSTER_HOME`` (``make demo`` points it at a
project-local folder), so ``dagster dev`` shows them afterwards. Each category is one run of
``category_job`` on the in-process executor: on a small host that is far cheaper than a
backfill of one process per step.
"""

import json
import os
import sys
import time
import warnings
from pathlib import Path

from dagster import AssetCheckSeverity, BetaWarning, DagsterInstance, PreviewWarning

# The demo prints a summary; Dagster's notes on its own beta APIs are for developers.
warnings.filterwarnings("ignore", category=BetaWarning)
warnings.filterwarnings("ignore", category=PreviewWarning)

from craft_dag.catalog.pack import load_pack  # noqa: E402
from craft_dag.collection.samples import build_sample_set, read_manifest  # noqa: E402
from craft_dag.definitions import defs, settings  # noqa: E402
from craft_dag.demo.sample_review import (  # noqa: E402
    sample_captions,
    sample_truth,
    write_sample_memory,
    write_sample_review,
)
from craft_dag.evaluation.sample_votes import sample_votes  # noqa: E402
from craft_dag.evaluation.sbs_io import write_votes  # noqa: E402
from craft_dag.jobs.partitions import category_partitions  # noqa: E402
from craft_dag.storage import Storage  # noqa: E402

# Step-by-step DEBUG events go to the instance (and the UI); the terminal gets INFO and up.
QUIET = {"loggers": {"console": {"config": {"log_level": "INFO"}}}}
# The demo shows both caption paths: the sample human captions where the simulated reviewers
# wrote one, the (tiny, noise) captioner elsewhere. A real run keeps the paper's human_only.
AFTER_REVIEW_CONFIG = {**QUIET, "ops": {"captions": {"config": {"policy": "human_else_auto"}}}}


def main() -> int:
    _quiet_model_loading()
    instance = DagsterInstance.get()
    started = time.perf_counter()
    print(f"craft demo: pack {settings.pack_path}, profile {settings.profile}")
    print(f"craft demo: storage {settings.storage_uri}")

    pack = load_pack(settings.pack_path)
    if settings.builds_sample_images:
        samples = build_sample_set(
            Path(settings.images_root),
            {c: [e.id for e in pack.entities[c]] for c in pack.category_ids},
        )
        print(f"craft demo: sample images: {len(samples)} files in {settings.images_root}")

    if not _run_once("observe_pack_job", instance):
        return 1

    keys = category_partitions.get_partition_keys()
    print("craft demo: collect and score every category, and write the review tasks")
    failed = _run_per_category("score_job", keys, instance)

    store = Storage(settings.storage_uri)
    if settings.builds_sample_images:
        manifest = read_manifest(Path(settings.images_root))
        reviewed = remembered = 0
        for key in keys:
            if (key, "score_job") in failed:
                continue
            raw = store.read_table("raw_images", key).to_pylist()
            rows = store.read_table("entities", key).to_pylist()
            native = {r["entity_id"]: r["native_name"] for r in rows}
            english = {r["entity_id"]: r["english_name"] for r in rows}
            captions = sample_captions(raw, manifest, native, pack.meta.source_language)
            reviewed += write_sample_review(store, key, sample_truth(raw, manifest), captions)
            translations = sample_captions(raw, manifest, english, pack.meta.target_language)
            remembered += write_sample_memory(store, key, captions, translations)
        print(
            f"craft demo: review: {reviewed} tasks answered by two simulated reviewers "
            "(the sample set's planted problems stand in for their judgement; they also write "
            "the sample human captions)"
        )
        print(
            f"craft demo: translation memory: {remembered} human English versions of those captions"
        )
    if not _run_once("observe_review_job", instance):
        return 1
    print(
        "craft demo: apply the review decisions, then caption and translate (tiny random "
        "models: their text is noise; the sample human captions are real Russian)"
    )
    done = [k for k in keys if (k, "score_job") not in failed]
    failed |= _run_per_category("filter_job", done, instance, AFTER_REVIEW_CONFIG)

    kept = sum(
        store.read_table("filtered_images", k).num_rows
        for k in done
        if (k, "filter_job") not in failed
    )
    trainable = sum(
        r["trainable"]
        for k in done
        if (k, "filter_job") not in failed and store.has_table("translated_captions", k)
        for r in store.read_table("translated_captions", k).select(["trainable"]).to_pylist()
    )
    trained = False
    if failed:
        print("craft demo: training skipped: some categories failed")
    elif not trainable:
        print(
            "craft demo: training skipped: no caption passed the translation gates "
            "(a pack without sample captions has only the tiny models' noise)"
        )
    else:
        print(f"craft demo: train the tiny Kandinsky 3 on {trainable} captioned images")
        if not _run_once("train_job", instance):
            failed[("all", "train_job")] = []
        trained = ("all", "train_job") not in failed
    if trained:
        pairs = json.loads(store.read_file(("evaluation", "kits", "pairs.json")))
        write_votes(store, sample_votes(pairs))
        print(
            f"craft demo: side by side: {len(pairs)} pairs in a kit for two assessors; "
            "sample votes stand in for theirs"
        )
        if not (_run_once("observe_votes_job", instance) and _run_once("report_job", instance)):
            failed[("all", "report_job")] = []
    elapsed = time.perf_counter() - started
    home = os.environ.get("DAGSTER_HOME", "(a temporary instance)")
    ok = len({k for k in keys} - {k for k, _ in failed})
    print()
    print(f"craft demo: {ok}/{len(keys)} categories materialised in {elapsed:.1f} s")
    print(f"craft demo: {kept} images passed automatic and human filtering")
    print(
        "craft demo: warning checks are expected on the sample set, which has images for only "
        "a few entities per category"
    )
    print(f"  tables:        {settings.storage_uri}/<asset>/<category>/part-00000.parquet")
    print(f"  images:        {settings.storage_uri}/blobs/sha256/")
    print(f"  review tasks:  {settings.storage_uri}/review_tasks/ (Label Studio import JSON)")
    if trained:
        print(
            f"  checkpoint:    {settings.storage_uri}/checkpoints/ (diffusers layout, model card)"
        )
        print(f"  evaluation:    {settings.storage_uri}/evaluation/ (kits/, votes/, report/)")
    print(f"  Dagster runs:  DAGSTER_HOME={home}")
    print("  look at them:  make ui   (dagster dev on http://127.0.0.1:3000)")
    if failed:
        for (key, job), errors in sorted(failed.items()):
            print(
                f"craft demo: {key} failed in {job}; failing checks: "
                f"{', '.join(errors) or 'none (a step failed)'}",
                file=sys.stderr,
            )
        return 1
    return 0


def _quiet_model_loading() -> None:
    """No per-model progress bars in the demo's summary (the run logs keep what matters)."""
    try:
        from transformers.utils import logging as hf_logging
    except ImportError:
        return
    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()


def _run_once(job_name: str, instance: DagsterInstance) -> bool:
    result = defs.resolve_job_def(job_name).execute_in_process(instance=instance, run_config=QUIET)
    if not result.success:
        print(f"craft demo: {job_name} failed", file=sys.stderr)
    return result.success


def _run_per_category(
    job_name: str, keys: list[str], instance: DagsterInstance, run_config: dict | None = None
) -> dict[tuple[str, str], list[str]]:
    """One in-process run per category; returns {(category, job): failing checks} of failures."""
    job = defs.resolve_job_def(job_name)
    failed: dict[tuple[str, str], list[str]] = {}
    for index, key in enumerate(keys, 1):
        result = job.execute_in_process(
            instance=instance,
            partition_key=key,
            raise_on_error=False,
            run_config=run_config or QUIET,
        )
        checks = [
            e.asset_check_evaluation_data
            for e in result.all_events
            if e.event_type_value == "ASSET_CHECK_EVALUATION"
        ]
        errors = [
            c.check_name for c in checks if not c.passed and c.severity == AssetCheckSeverity.ERROR
        ]
        warned = [
            c.check_name for c in checks if not c.passed and c.severity == AssetCheckSeverity.WARN
        ]
        status = "ok" if result.success and not errors else "FAILED"
        note = f"  warnings: {', '.join(warned)}" if warned else ""
        print(
            f"craft demo: [{index:>2}/{len(keys)}] {key:<26} {status}  "
            f"checks {len(checks) - len(errors) - len(warned)}/{len(checks)} passed  "
            f"run {result.run_id[:8]}{note}"
        )
        if status != "ok":
            failed[(key, job_name)] = errors
    return failed


if __name__ == "__main__":
    sys.exit(main())
