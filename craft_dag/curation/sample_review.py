"""The demo's review round: simulated reviewers who know what was planted in the sample set.

The demo has no people, so after ``review_tasks`` it writes, per category, a Label Studio
export as two reviewers would produce it (``craft_dag.review.simulate``), whose verdicts follow
the sample set's manifest: a clean photo is kept, a planted problem is rejected with the
matching reason. The export then goes through exactly the parser and conflict rule that a
real export does. Nothing here is used outside the demo and its tests.
"""

import json
from collections.abc import Mapping, Sequence
from pathlib import PurePosixPath
from typing import Any

from craft_dag.collection.samples import SampleImage
from craft_dag.curation.review_io import EXPORTS, read_review_tasks
from craft_dag.review.simulate import simulated_export
from craft_dag.storage import Storage

SAMPLE_EXPORT = "sample_review.json"

# What a reviewer would tick for each planted problem (the manifest's ``planted`` column).
_PLANTED_REASONS: dict[str, tuple[str, ...]] = {
    "blurred": ("blurry",),
    "underexposed": ("underexposed",),
    "overexposed": ("overexposed",),
    "duplicate": ("duplicate",),
    "watermark": ("watermark",),
    "too_small": ("too_small",),
    "bad_aspect": ("bad_aspect",),
    "low_information": ("low_information",),
}


def sample_truth(
    raw_rows: Sequence[Mapping[str, Any]], manifest: Sequence[SampleImage]
) -> dict[str, tuple[str, tuple[str, ...]]]:
    """image_id -> (verdict, reasons), matching raw_images rows to the manifest by file path."""
    planted = {PurePosixPath(row.path).as_posix(): row.planted for row in manifest}
    truth = {}
    for row in raw_rows:
        url = row["url"]
        kind = next((k for path, k in planted.items() if url.endswith("/" + path)), None)
        if kind is None:
            continue
        reasons = _PLANTED_REASONS.get(kind, ())
        truth[row["image_id"]] = ("reject", reasons) if reasons else ("keep", ())
    return truth


def write_sample_review(
    store: Storage, category: str, truth: Mapping[str, tuple[str, tuple[str, ...]]]
) -> int:
    """Write the simulated export of the category's review tasks; return how many tasks."""
    tasks = read_review_tasks(store, category)
    known = [t for t in tasks if t["data"]["image_id"] in truth]
    export = simulated_export(known, truth)
    store.write_file(
        (EXPORTS, category, SAMPLE_EXPORT),
        json.dumps(export, ensure_ascii=False, indent=1).encode("utf-8"),
    )
    return len(known)
