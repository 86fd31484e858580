"""Simulated reviewers, for the demo: a Label Studio-shaped export that no person made.

The demo runs without people, yet the review loop should be exercised end to end: tasks out,
an export back in, conflicts resolved by the rule. ``simulated_export`` stands in for the
people; nothing else in craft_dag uses it, and its decisions are no human judgement.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from craft_dag.review.label_studio import (
    CAPTION_CONTROL,
    IMAGE_TAG,
    MODEL_VERSION,
    REASONS_CONTROL,
    VERDICT_CONTROL,
)

# A fixed clock, so the same inputs give byte-identical exports (and data versions).
SIMULATED_START = datetime(2025, 1, 1, tzinfo=UTC)
DISAGREE_SHARE = 0.2
# What the second reviewer says when they overrule a keep: the judgement only a person makes.
DISAGREE_REASONS: tuple[str, ...] = ("not_cultural",)


def simulated_export(
    tasks: Sequence[Mapping[str, Any]],
    truth: Mapping[str, tuple[str, tuple[str, ...]]],
    *,
    annotators: Sequence[str] = ("reviewer_a@example.org", "reviewer_b@example.org"),
    seed: int = 0,
    disagree_share: float = DISAGREE_SHARE,
    captions: Mapping[str, str] | None = None,
) -> list[dict[str, Any]]:
    """A JSON export as ``annotators`` would produce for ``tasks`` (from ``tasks_for_review``).

    This is a stand-in for people, used by the demo, which has none. ``truth`` maps each image
    id to its (verdict, reasons). The first annotator follows the truth; every other annotator
    follows it too, except on a deterministic share (``disagree_share`` of the tasks, at least
    one when there are two tasks or more) where they flip the verdict: a keep becomes a reject
    for ``not_cultural``, a reject becomes a keep. With two annotators each such task is a tie,
    which the conflict rule resolves to reject. Which tasks are picked depends only on ``seed``
    and the (image, entity) ids; times advance one second per annotation from a fixed start, so
    the same arguments give the same export.

    ``captions`` (image id -> text) are written by the first annotator on the tasks they keep,
    as a reviewer fills the optional caption field.

    ``completed_by`` is written in the expanded form ``{"id", "email"}``, so ``parse_export``
    names the annotators by email without a user map. Raises ``ValueError`` when a task's image
    has no truth.
    """
    keys = [(str(t["data"]["image_id"]), str(t["data"]["entity_id"])) for t in tasks]
    missing = sorted({image_id for image_id, _ in keys if image_id not in truth})
    if missing:
        raise ValueError(f"no truth for {len(missing)} image(s): {', '.join(missing[:5])}")
    flipped = _disagreements(keys, seed, disagree_share) if len(annotators) > 1 else set()

    export: list[dict[str, Any]] = []
    clock = SIMULATED_START
    annotation_id = 0
    for task_id, (task, key) in enumerate(zip(tasks, keys, strict=True), start=1):
        verdict, reasons = truth[key[0]]
        annotations = []
        for user_id, email in enumerate(annotators, start=1):
            said, why = verdict, tuple(reasons)
            if user_id > 1 and key in flipped:
                said, why = ("reject", DISAGREE_REASONS) if verdict == "keep" else ("keep", ())
            annotation_id += 1
            clock += timedelta(seconds=1)
            stamp = clock.isoformat().replace("+00:00", "Z")
            annotations.append(
                {
                    "id": annotation_id,
                    "completed_by": {"id": user_id, "email": email},
                    "result": _result(
                        said, why, (captions or {}).get(key[0], "") if user_id == 1 else ""
                    ),
                    "was_cancelled": False,
                    "ground_truth": False,
                    "created_at": stamp,
                    "updated_at": stamp,
                    "lead_time": 1.0,
                    "task": task_id,
                }
            )
        export.append(
            {
                "id": task_id,
                "annotations": annotations,
                "drafts": [],
                "predictions": [
                    {**p, "model_version": p.get("model_version", MODEL_VERSION)}
                    for p in task.get("predictions", [])
                ],
                "data": dict(task["data"]),
                "meta": {},
            }
        )
    return export


def _disagreements(
    keys: Sequence[tuple[str, str]], seed: int, share: float
) -> set[tuple[str, str]]:
    # Rank tasks by a seeded hash and take the first ones: deterministic, independent of the
    # order tasks come in, and never zero conflicts for a demo with a handful of images.
    def rank(key: tuple[str, str]) -> str:
        return hashlib.sha256(f"{seed}\0{key[0]}\0{key[1]}".encode()).hexdigest()

    distinct = sorted(set(keys), key=rank)
    count = round(share * len(distinct))
    if len(distinct) >= 2:
        count = max(count, 1)
    return set(distinct[:count])


def _result(verdict: str, reasons: tuple[str, ...], caption: str = "") -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = [
        {
            "from_name": VERDICT_CONTROL,
            "to_name": IMAGE_TAG,
            "type": "choices",
            "value": {"choices": [verdict]},
        }
    ]
    if reasons:
        items.append(
            {
                "from_name": REASONS_CONTROL,
                "to_name": IMAGE_TAG,
                "type": "choices",
                "value": {"choices": list(reasons)},
            }
        )
    if caption and verdict == "keep":
        items.append(
            {
                "from_name": CAPTION_CONTROL,
                "to_name": IMAGE_TAG,
                "type": "textarea",
                "value": {"text": [caption]},
            }
        )
    return items
