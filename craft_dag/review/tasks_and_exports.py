"""Review tasks and review exports in storage, per category.

Layout under the storage base URI::

    review_tasks/<category>/tasks.json          Label Studio task-import JSON (with predictions)
    review_tasks/label_config.xml               the labelling config to create the project with
    review_exports/<category>/<any>.json|.csv   what reviewers send back: Label Studio JSON
                                                exports or plain CSV files, any number of them

A new export is a new file in its category's folder; the ``review_decisions`` source asset
hashes the folder's files, so exactly that category's downstream turns stale.

Layering: this was ``curation/review_io.py``; it moved into ``review`` because it is built on
``review.decisions`` and ``review.label_studio``, and ``review`` sits above ``curation`` (its
reject vocabulary extends curation's ``policy.REASONS``): curation never imports review.
"""

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from craft_dag.review.decisions import Resolution, RowProblem, parse_csv, resolve
from craft_dag.review.label_studio import labeling_config, parse_export, tasks_for_review
from craft_dag.storage import Storage

TASKS = "review_tasks"
EXPORTS = "review_exports"
TASKS_FILE = "tasks.json"
CONFIG_FILE = "label_config.xml"


def export_files(store: Storage, category: str) -> list[str]:
    """The export files of a category (``.json`` and ``.csv``), sorted by name."""
    return [n for n in store.list_files(EXPORTS, category) if n.endswith((".json", ".csv"))]


def exports_fingerprint(store: Storage, category: str) -> str:
    """A hash of the category's export files (names and bytes): its data version."""
    return store.fingerprint((EXPORTS, category), export_files(store, category))


@dataclass(frozen=True)
class LoadedReview:
    resolution: Resolution
    problems: list[RowProblem]
    files: list[str]


def load_review(store: Storage, category: str) -> LoadedReview:
    """Parse every export of the category and resolve conflicts; bad rows become problems."""
    decisions, problems = [], []
    files = export_files(store, category)
    for name in files:
        data = store.read_file((EXPORTS, category, name))
        where = f"{EXPORTS}/{category}/{name}"
        parse = parse_csv if name.endswith(".csv") else parse_export
        found, bad = parse(data, where=where)
        # An export may hold tasks of several categories (one project for all): keep ours.
        decisions += [d for d in found if d.category in ("", category)]
        problems += bad
    return LoadedReview(resolve(decisions), problems, files)


def human_decisions(review: LoadedReview) -> dict[tuple[str, str], dict[str, Any]]:
    """(image_id, entity_id) -> the resolved decision as a plain dict (what filtering reads)."""
    return {
        (d.image_id, d.entity_id): {
            "verdict": d.verdict,
            "reasons": d.reasons,
            "caption": d.caption,
            "annotators": d.annotators,
            "conflict": d.conflict,
        }
        for d in review.resolution.decisions
    }


def write_review_tasks(
    store: Storage,
    category: str,
    score_rows: Sequence[Mapping[str, Any]],
    entity_rows: Sequence[Mapping[str, Any]],
    *,
    include_rejected: bool = False,
    image_url: Callable[[str], str] | None = None,
) -> tuple[list[dict], str]:
    """Write the category's Label Studio tasks (and the shared config); return them and the URI.

    People see what the rules kept or flagged; rejected images only when asked
    (``include_rejected``), for auditing a threshold.
    """
    names = {r["entity_id"]: r for r in entity_rows}
    rows = [
        {
            "image_id": r["image_id"],
            "entity_id": r["entity_id"],
            "category": category,
            "entity_native_name": names.get(r["entity_id"], {}).get("native_name", ""),
            "entity_english_name": names.get(r["entity_id"], {}).get("english_name", ""),
            "decision": r["decision"],
            "reasons": list(r["reasons"]),
        }
        for r in score_rows
        if r["status"] == "ok" and (include_rejected or r["decision"] != "reject")
    ]
    tasks = tasks_for_review(rows, image_url or store.blob_url)
    data = json.dumps(tasks, ensure_ascii=False, indent=1).encode("utf-8")
    uri = store.write_file((TASKS, category, TASKS_FILE), data)
    store.write_file((TASKS, CONFIG_FILE), labeling_config().encode("utf-8"))
    return tasks, uri


def read_review_tasks(store: Storage, category: str) -> list[dict]:
    return json.loads(store.read_file((TASKS, category, TASKS_FILE)))
