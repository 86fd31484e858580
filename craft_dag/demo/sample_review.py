"""The demo's review round: simulated reviewers who know what was planted in the sample set.

The demo has no people, so after ``review_tasks`` it writes, per category, a Label Studio
export as two reviewers would produce it (``craft_dag.review.simulate``), whose verdicts follow
the sample set's manifest: a clean photo is kept, a planted problem is rejected with the
matching reason, and a kept photo gets the caption a reviewer would write for it
(``craft_dag.collection.sample_captions``). The export then goes through exactly the parser and conflict rule that a
real export does. The English versions of those captions, as a translator would write them,
become the category's translation memory. Nothing here is used outside the demo and its tests.
"""

import csv
import io
import json
from collections.abc import Mapping, Sequence
from pathlib import PurePosixPath
from typing import Any

from craft_dag.collection.sample_captions import sample_caption
from craft_dag.collection.samples import SampleImage
from craft_dag.review.simulate import simulated_export
from craft_dag.review.tasks_and_exports import EXPORTS, read_review_tasks
from craft_dag.storage import Storage
from craft_dag.translation.memory import MEMORY

SAMPLE_EXPORT = "sample_review.json"
SAMPLE_MEMORY = "sample_captions.csv"

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
    return {image_id: verdict for image_id, (verdict, _) in _matched(raw_rows, manifest).items()}


def sample_captions(
    raw_rows: Sequence[Mapping[str, Any]],
    manifest: Sequence[SampleImage],
    names: Mapping[str, str],
    language: str,
) -> dict[str, str]:
    """image_id -> the caption the simulated reviewer writes (see ``sample_captions``)."""
    out = {}
    position: dict[str, int] = {}
    for image_id, (_, row) in _matched(raw_rows, manifest).items():
        index = position.get(row.entity_id, 0)
        position[row.entity_id] = index + 1
        text = sample_caption(
            row.source_file, names.get(row.entity_id, row.entity_id), index, language
        )
        if text:
            out[image_id] = text
    return out


def write_sample_memory(
    store: Storage, category: str, captions: Mapping[str, str], translations: Mapping[str, str]
) -> int:
    """The demo's translation memory: each sample caption with its human English version."""
    lines = io.StringIO()
    writer = csv.writer(lines)
    writer.writerow(["source", "translation", "translator"])
    pairs = [(captions[i], translations[i]) for i in sorted(captions) if translations.get(i)]
    for source, translation in pairs:
        writer.writerow([source, translation, "craft_dag sample set (a person's translation)"])
    store.write_file((MEMORY, category, SAMPLE_MEMORY), lines.getvalue().encode("utf-8"))
    return len(pairs)


def _matched(
    raw_rows: Sequence[Mapping[str, Any]], manifest: Sequence[SampleImage]
) -> dict[str, tuple[tuple[str, tuple[str, ...]], SampleImage]]:
    by_path = {PurePosixPath(row.path).as_posix(): row for row in manifest}
    out = {}
    for raw in raw_rows:
        url = raw["url"]
        row = next((r for path, r in by_path.items() if url.endswith("/" + path)), None)
        if row is None:
            continue
        reasons = _PLANTED_REASONS.get(row.planted, ())
        out[raw["image_id"]] = (("reject", reasons) if reasons else ("keep", ()), row)
    return out


def write_sample_review(
    store: Storage,
    category: str,
    truth: Mapping[str, tuple[str, tuple[str, ...]]],
    captions: Mapping[str, str] | None = None,
) -> int:
    """Write the simulated export of the category's review tasks; return how many tasks."""
    tasks = read_review_tasks(store, category)
    known = [t for t in tasks if t["data"]["image_id"] in truth]
    export = simulated_export(known, truth, captions=captions)
    store.write_file(
        (EXPORTS, category, SAMPLE_EXPORT),
        json.dumps(export, ensure_ascii=False, indent=1).encode("utf-8"),
    )
    return len(known)
