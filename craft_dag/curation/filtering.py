"""``filtered_images``: what passed the automatic rules and the people who reviewed them.

The rule, in order, per (image, entity):

1. an image that could not be decoded is out;
2. a person's resolved decision wins when there is one (``keep`` brings back even an image the
   rules rejected: the paper kept entities with no good data and "processed them separately",
   which is a person's call);
3. without one, with review on (the paper's way): out, counted as ``awaiting_review`` when the
   rules kept or flagged it, ``rejected`` when they rejected it;
4. with review off: the automatic ``keep`` alone is in; ``review`` rows stay out (nobody looked).
"""

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

FILTERED = "filtered_images"

# The columns every table of kept images starts with (filtered, captions, translations).
IMAGE_FIELDS: list[tuple[str, pa.DataType]] = [
    ("image_id", pa.string()),
    ("entity_id", pa.string()),
    ("category", pa.string()),
    ("blob_key", pa.string()),
    ("width", pa.int32()),
    ("height", pa.int32()),
]

FILTERED_SCHEMA = pa.schema(
    [
        *IMAGE_FIELDS,
        ("format", pa.string()),
        ("source", pa.string()),
        ("url", pa.string()),
        ("page_url", pa.string()),
        ("licence", pa.string()),
        ("author", pa.string()),
        ("auto_decision", pa.string()),
        ("auto_reasons", pa.list_(pa.string())),
        ("decided_by", pa.string()),  # human | auto
        ("annotators", pa.list_(pa.string())),
        ("human_caption", pa.string()),
        ("quality", pa.float64()),
    ]
)


@dataclass
class FilterResult:
    table: pa.Table
    outcomes: Counter = field(default_factory=Counter)  # why rows are in or out
    per_entity: dict[str, int] = field(default_factory=dict)  # entity -> images kept


def filter_images(
    scores: Sequence[Mapping[str, Any]],
    raw_images: Sequence[Mapping[str, Any]],
    human: Mapping[tuple[str, str], Mapping[str, Any]],
    *,
    review: bool,
    entities: Sequence[str] = (),
) -> FilterResult:
    """Apply the rule above. ``human`` maps (image_id, entity_id) to a resolved decision row
    (``verdict``, ``caption``, ``annotators``); ``entities`` lists every entity of the category,
    so that entities left with nothing show up with a count of 0."""
    provenance = {(r["image_id"], r["entity_id"]): r for r in raw_images}
    outcomes: Counter = Counter()
    per_entity = dict.fromkeys(entities, 0)
    rows = []
    for s in scores:
        key = (s["image_id"], s["entity_id"])
        per_entity.setdefault(s["entity_id"], 0)
        person = human.get(key)
        if s["status"] != "ok":
            outcomes["out: decode_error"] += 1
            continue
        if person is not None:
            if person["verdict"] != "keep":
                outcomes["out: rejected by reviewer"] += 1
                continue
            outcomes[
                "in: kept by reviewer"
                if s["decision"] != "reject"
                else "in: kept by reviewer over the rules"
            ] += 1
            decided_by = "human"
        elif review:
            outcomes[
                "out: rejected by rules" if s["decision"] == "reject" else "out: awaiting review"
            ] += 1
            continue
        elif s["decision"] != "keep":
            outcomes[f"out: {s['decision']} by rules"] += 1
            continue
        else:
            outcomes["in: kept by rules"] += 1
            decided_by = "auto"
        raw = provenance.get(key, {})
        per_entity[s["entity_id"]] += 1
        rows.append(
            {
                "image_id": s["image_id"],
                "entity_id": s["entity_id"],
                "category": s["category"],
                "blob_key": raw.get("blob_key", ""),
                "width": s["width"],
                "height": s["height"],
                "format": raw.get("format", ""),
                "source": raw.get("source", ""),
                "url": raw.get("url", ""),
                "page_url": raw.get("page_url", ""),
                "licence": raw.get("licence", ""),
                "author": raw.get("author", ""),
                "auto_decision": s["decision"],
                "auto_reasons": list(s["reasons"]),
                "decided_by": decided_by,
                "annotators": list(person["annotators"]) if person else [],
                "human_caption": (person.get("caption") or "") if person else "",
                "quality": s["quality"],
            }
        )
    return FilterResult(pa.Table.from_pylist(rows, schema=FILTERED_SCHEMA), outcomes, per_entity)


def coverage_gaps(per_entity: Mapping[str, int], minimum: int) -> dict[str, int]:
    """Entities left with fewer than ``minimum`` images: the paper's main limitation."""
    return {e: n for e, n in sorted(per_entity.items()) if n < minimum}
