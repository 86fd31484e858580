"""Which caption an image trains with: the caption policy, and where human captions come from.

The paper measured that people spend 4.52 minutes writing a caption and 5.23 editing a
synthetic one, found the model wrong on names and facts, and kept human captions only. So:

* ``human_only`` (the default, the paper's final choice): an image without a human caption
  does not train; the captioner is not even run.
* ``human_else_auto``: the human caption where there is one, else the cleaned automatic one.
* ``auto``: the automatic caption for every image (human captions are still stored).

Human captions come from the review tool (the caption field of the Label Studio export,
carried by ``filtered_images``) and from CSV files under ``human_captions/<category>/`` in
storage (``image_id, entity_id, caption`` and optional ``author, language, written_at``), for
captions written outside the review tool. A CSV caption wins over a review caption for the
same image: it is the later, dedicated caption pass. Every caption keeps its source and author.
"""

import csv
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from craft_dag.review.decisions import RowProblem

POLICIES = ("human_only", "human_else_auto", "auto")
HUMAN_CAPTIONS = "human_captions"


@dataclass(frozen=True)
class HumanCaption:
    image_id: str
    entity_id: str
    text: str
    author: str
    language: str
    source: str  # review | csv
    written_at: str = ""


def from_review(rows: Sequence[Mapping[str, Any]], language: str) -> list[HumanCaption]:
    """The reviewers' captions carried by ``filtered_images`` rows (in the pack's language)."""
    return [
        HumanCaption(
            r["image_id"],
            r["entity_id"],
            r["human_caption"].strip(),
            ", ".join(r["annotators"]),
            language,
            "review",
        )
        for r in rows
        if (r.get("human_caption") or "").strip()
    ]


def parse_caption_csv(
    data: bytes, *, where: str, language: str
) -> tuple[list[HumanCaption], list[RowProblem]]:
    """Captions from a CSV; a bad row is a problem naming the file and line, never fatal."""
    text = data.decode("utf-8-sig")
    reader = csv.DictReader(io.StringIO(text))
    missing = {"image_id", "entity_id", "caption"} - set(reader.fieldnames or ())
    if missing:
        return [], [RowProblem(where, 1, f"missing column(s): {', '.join(sorted(missing))}")]
    captions, problems = [], []
    for line, row in enumerate(reader, start=2):
        image_id = (row.get("image_id") or "").strip()
        caption = (row.get("caption") or "").strip()
        if not image_id or not caption:
            problems.append(RowProblem(where, line, "image_id and caption are required"))
            continue
        captions.append(
            HumanCaption(
                image_id,
                (row.get("entity_id") or "").strip(),
                caption,
                (row.get("author") or "").strip(),
                (row.get("language") or "").strip() or language,
                "csv",
                (row.get("written_at") or "").strip(),
            )
        )
    return captions, problems


def merge_human(*sources: Sequence[HumanCaption]) -> dict[tuple[str, str], HumanCaption]:
    """One human caption per (image, entity): later sources win (pass review first, then CSV)."""
    merged: dict[tuple[str, str], HumanCaption] = {}
    for source in sources:
        for caption in source:
            merged[(caption.image_id, caption.entity_id)] = caption
    return merged


def needs_auto(policy: str, has_human: bool) -> bool:
    """Whether the captioner must run for an image under ``policy``."""
    check_policy(policy)
    return policy == "auto" or (policy == "human_else_auto" and not has_human)


def check_policy(policy: str) -> None:
    if policy not in POLICIES:
        raise ValueError(f"caption policy must be one of {', '.join(POLICIES)}, not {policy!r}")


@dataclass(frozen=True)
class Chosen:
    text: str
    source: str  # human | auto | none
    language: str


def choose(policy: str, human: HumanCaption | None, auto: str, auto_language: str) -> Chosen:
    """The caption an image trains with under ``policy`` (source ``none``: it has none)."""
    check_policy(policy)
    if policy != "auto" and human is not None:
        return Chosen(human.text, "human", human.language)
    if policy != "human_only" and auto:
        return Chosen(auto, "auto", auto_language)
    return Chosen("", "none", "")
