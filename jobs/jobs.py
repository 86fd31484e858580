"""Jobs over the asset graph."""

from dagster import AssetSelection, define_asset_job

# The fan-in end of the graph: one run over every category's shards.
FAN_IN = AssetSelection.assets("training_dataset").downstream()  # unpartitioned: one run
REPORT = AssetSelection.assets("sbs_report")  # waits for the assessors' votes
TRAINING = FAN_IN - REPORT

# Everything partitioned by category, with its checks: the job a backfill runs.
category_job = define_asset_job(
    "category_job",
    selection=AssetSelection.all() - FAN_IN,
    description="Materialise every category-partitioned asset (and run its checks) for a category.",
)

# Up to the review hand-off: collect, score, and write the review tasks.
AFTER_REVIEW = AssetSelection.assets("filtered_images").downstream() - FAN_IN
score_job = define_asset_job(
    "score_job",
    selection=AssetSelection.all() - AFTER_REVIEW - FAN_IN,
    description="Collect and score a category, and write its review tasks for people.",
)

# After the people: apply their decisions, then caption and translate what they kept.
filter_job = define_asset_job(
    "filter_job",
    selection=AFTER_REVIEW,
    description="Apply the review decisions of a category, then caption and translate it.",
)

# After the translators: re-translate a category with its new human translations.
AFTER_TRANSLATION = AssetSelection.assets("translated_captions").downstream() - FAN_IN
translate_job = define_asset_job(
    "translate_job",
    selection=AFTER_TRANSLATION,
    description="Translate a category's captions again (its translation memory changed), and "
    "rebuild its training shards.",
)

train_job = define_asset_job(
    "train_job",
    selection=TRAINING,
    description="Gather every category's shards into the training set, fine-tune on it, and "
    "evaluate the checkpoint against the base model.",
)

# After the assessors: the side-by-side report over their votes.
report_job = define_asset_job(
    "report_job",
    selection=REPORT,
    description="Report win rates and agreement over the assessors' side-by-side votes.",
)

observe_votes_job = define_asset_job(
    "observe_votes_job",
    selection=AssetSelection.assets("sbs_votes"),
    description="Observe the side-by-side votes in storage.",
)

# Observing the pack records one data version per category; it takes no partition key.
observe_pack_job = define_asset_job(
    "observe_pack_job",
    selection=AssetSelection.assets("pack_files", "curation_policy"),
    description="Observe the culture pack's files and curation thresholds, per category.",
)

observe_review_job = define_asset_job(
    "observe_review_job",
    selection=AssetSelection.assets("review_decisions", "translation_memory"),
    description="Observe the review exports and the translation memory in storage, and record a "
    "data version per category.",
)
