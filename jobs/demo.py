"""Run the whole asset graph once, every category, on this machine: ``python -m craft_dag.jobs.demo``.

Runs are recorded in the Dagster instance of ``DAGSTER_HOME`` (``make demo`` points it at a
project-local folder), so ``dagster dev`` shows them afterwards. Each category is one run of
``category_job`` on the in-process executor: on a small host that is far cheaper than a
backfill of one process per step.
"""

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
from craft_dag.collection.samples import build_sample_set  # noqa: E402
from craft_dag.definitions import defs, settings  # noqa: E402
from craft_dag.jobs.partitions import category_partitions  # noqa: E402

# Step-by-step DEBUG events go to the instance (and the UI); the terminal gets INFO and up.
QUIET = {"loggers": {"console": {"config": {"log_level": "INFO"}}}}


def main() -> int:
    instance = DagsterInstance.get()
    started = time.perf_counter()
    print(f"craft demo: pack {settings.pack_path}, profile {settings.profile}")
    print(f"craft demo: storage {settings.storage_uri}")

    if settings.builds_sample_images:
        pack = load_pack(settings.pack_path)
        samples = build_sample_set(
            Path(settings.images_root),
            {c: [e.id for e in pack.entities[c]] for c in pack.category_ids},
        )
        print(f"craft demo: sample images: {len(samples)} files in {settings.images_root}")

    observed = defs.resolve_job_def("observe_pack_job").execute_in_process(
        instance=instance, run_config=QUIET
    )
    if not observed.success:
        print("craft demo: observing the culture pack failed", file=sys.stderr)
        return 1

    job = defs.resolve_job_def("category_job")
    failed, warned = [], 0
    keys = category_partitions.get_partition_keys()
    for index, key in enumerate(keys, 1):
        result = job.execute_in_process(
            instance=instance, partition_key=key, raise_on_error=False, run_config=QUIET
        )
        checks = [
            e.asset_check_evaluation_data
            for e in result.all_events
            if e.event_type_value == "ASSET_CHECK_EVALUATION"
        ]
        errors = [
            c.check_name for c in checks if not c.passed and c.severity == AssetCheckSeverity.ERROR
        ]
        warnings_ = [
            c.check_name for c in checks if not c.passed and c.severity == AssetCheckSeverity.WARN
        ]
        warned += len(warnings_)
        status = "ok" if result.success and not errors else "FAILED"
        note = f"  warnings: {', '.join(warnings_)}" if warnings_ else ""
        print(
            f"craft demo: [{index:>2}/{len(keys)}] {key:<26} {status}  "
            f"checks {len(checks) - len(errors) - len(warnings_)}/{len(checks)} passed  "
            f"run {result.run_id[:8]}{note}"
        )
        if status != "ok":
            failed.append((key, errors))

    elapsed = time.perf_counter() - started
    home = os.environ.get("DAGSTER_HOME", "(a temporary instance)")
    print()
    print(
        f"craft demo: {len(keys) - len(failed)}/{len(keys)} categories materialised "
        f"in {elapsed:.1f} s"
    )
    if warned:
        print(
            f"craft demo: {warned} warning check(s): expected on the sample set, which has "
            "images for only a few entities per category"
        )
    print(f"  tables:        {settings.storage_uri}/<asset>/<category>/part-00000.parquet")
    print(f"  images:        {settings.storage_uri}/blobs/sha256/")
    print(f"  Dagster runs:  DAGSTER_HOME={home}")
    print("  look at them:  make ui   (dagster dev on http://127.0.0.1:3000)")
    if failed:
        for key, errors in failed:
            print(
                f"craft demo: {key} failed; failing checks: {', '.join(errors) or 'none (a step failed)'}",
                file=sys.stderr,
            )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
