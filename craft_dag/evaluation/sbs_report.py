"""Side-by-side votes to a report: win/tie/loss per model pair, bootstrap intervals, agreement.

Reads the JSON files the kit pages export (schema in :mod:`craft_dag.evaluation.sbs_kit`).
For each model pair (``model_a`` against ``model_b``, oriented as first seen; a pair seen the
other way round is flipped onto it) it counts, per question and overall, per category and
overall, how often ``model_b`` won, tied and lost. The win rate is ``model_b``'s share of wins;
its 95% interval is a percentile bootstrap that resamples *prompts* (all the votes on a prompt
travel together, so several assessors and seeds of one prompt do not pass for independent
evidence). Inter-rater agreement is Fleiss' kappa per question over the pairs that several
assessors rated, with the categories model a / model b / tie.

The work is in three modules: :mod:`~craft_dag.evaluation.sbs_votes` (reading and orienting
votes), :mod:`~craft_dag.evaluation.sbs_stats` (tallies, intervals, kappa) and
:mod:`~craft_dag.evaluation.sbs_render` (PNG, markdown, JSON); this one is their front door.
"""

from craft_dag.evaluation.sbs_render import plot_tallies, render_markdown, write_report
from craft_dag.evaluation.sbs_stats import (
    Agreement,
    Report,
    Tally,
    bootstrap_ci,
    fleiss_kappa,
    report,
)
from craft_dag.evaluation.sbs_votes import (
    ALL,
    CHOICES,
    QUESTIONS,
    Vote,
    VoteFileError,
    dedupe,
    load_votes,
    orient,
    votes_from_export,
)

__all__ = [
    "ALL",
    "CHOICES",
    "QUESTIONS",
    "Agreement",
    "Report",
    "Tally",
    "Vote",
    "VoteFileError",
    "bootstrap_ci",
    "dedupe",
    "fleiss_kappa",
    "load_votes",
    "orient",
    "plot_tallies",
    "render_markdown",
    "report",
    "votes_from_export",
    "write_report",
]
