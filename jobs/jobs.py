"""Jobs over the asset graph."""

from dagster import AssetSelection, define_asset_job

# Everything partitioned by category, with its checks: the job a backfill or the demo runs.
category_job = define_asset_job(
    "category_job",
    selection=AssetSelection.all(),
    description="Materialise every category-partitioned asset (and run its checks) for a category.",
)

# Observing the pack records one data version per category; it takes no partition key.
observe_pack_job = define_asset_job(
    "observe_pack_job",
    selection=AssetSelection.assets("pack_files"),
    description="Observe the culture pack's files and record a data version per category.",
)
