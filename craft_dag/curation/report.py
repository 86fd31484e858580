"""What a curator needs to see after scoring: the funnel, the thresholds, rejected examples.

The funnel applies the reasons in vocabulary order (cheap rules first) and counts, for each,
the images it flagged at all and the images it was the first to remove, so the numbers add
up from the collected images down to the kept ones. Contact sheets show a few rejected
images per reason with the score that removed them: the quickest way to see whether a
threshold removes what it should.
"""

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from craft_dag import markdown
from craft_dag.curation.policy import REASONS, EffectiveThresholds
from craft_dag.curation.tables import decision_counts
from craft_dag.imaging.contact_sheet import contact_sheet, png_markdown

# The score shown under a rejected thumbnail, per reason.
_SHOWN: dict[str, Callable[[Mapping[str, Any]], str]] = {
    "too_small": lambda r: f"{r['width']}x{r['height']}",
    "bad_aspect": lambda r: f"aspect {r['aspect']:.1f}",
    "blurry": lambda r: f"blur {r['blur']:.0f}",
    "underexposed": lambda r: f"lum {r['mean_luminance']:.2f}",
    "overexposed": lambda r: f"lum {r['mean_luminance']:.2f}",
    "low_information": lambda r: f"H {r['entropy']:.1f}",
    "text": lambda r: f"{r['text_words']} words",
    "watermark": lambda r: (
        f"wm {r['watermark_score']:.2f}" if r.get("watermark_score") is not None else "OCR"
    ),
    "duplicate": lambda r: f"of {r['dup_of'][:8]}",
    "not_relevant": lambda r: f"rel {r['relevance']:.2f}",
    "nsfw": lambda r: f"nsfw {r['nsfw']:.2f}",
}


def funnel_rows(rows: Sequence[Mapping[str, Any]]) -> list[tuple[str, int, int, int]]:
    """(stage, flagged, removed first here, left after) for every reason, in funnel order.

    ``removed`` counts images rejected whose first reason is this one; images sent to review
    are not removed. Decode errors come first, as a stage of their own.
    """
    left = len(rows)
    errors = sum(1 for r in rows if r["status"] != "ok")
    out = [("decode_error", errors, errors, left - errors)]
    left -= errors
    flagged: Counter = Counter()
    first: Counter = Counter()
    for r in rows:
        for reason in r["reasons"]:
            flagged[reason] += 1
        if r["decision"] == "reject" and r["reasons"]:
            first[r["reasons"][0]] += 1
    for reason in REASONS:
        left -= first[reason]
        out.append((reason, flagged[reason], first[reason], left))
    return out


def funnel_markdown(rows: Sequence[Mapping[str, Any]]) -> str:
    total = len(rows)
    review = sum(1 for r in rows if r["decision"] == "review")
    keep = sum(1 for r in rows if r["decision"] == "keep")
    body = [("collected", "", "", total)]
    body += [(stage, f, r, left) for stage, f, r, left in funnel_rows(rows) if f or r]
    table = markdown.table(
        ["stage", "flagged", "removed", "left"],
        body,
        right=["flagged", "removed", "left"],
    )
    return f"{table}\n\nLeft: **{keep} keep**, **{review} to review** (of {total})."


def near_duplicates_markdown(rows: Sequence[Mapping[str, Any]], *, groups: int = 10) -> str:
    """How each near-duplicate group was decided: why its copies lost, and a few groups.

    The first table counts the copies by the preference they lost on (keeper.py's order), so a
    curator sees whether originals win on cleanliness and size, or on a finer point; the second
    lists the largest groups with their keeper and each loser's reason.
    """
    members = [
        r for r in rows if r.get("dup_group", -1) is not None and r.get("dup_group", -1) >= 0
    ]
    if not members:
        return "No near-duplicate groups."
    lost = Counter(_why(r["dup_reason"]) for r in members if r["dup_reason"] != "kept")
    by_group: dict[int, list[Mapping[str, Any]]] = {}
    for r in members:
        by_group.setdefault(r["dup_group"], []).append(r)
    summary = markdown.table(
        ["lost on", "copies"], sorted(lost.items(), key=lambda kv: -kv[1]), right=["copies"]
    )
    shown = sorted(by_group.values(), key=len, reverse=True)[:groups]
    body = []
    for group in shown:
        keeper = next((r for r in group if r["dup_reason"] == "kept"), group[0])
        losers = "; ".join(f"{r['image_id']} ({r['dup_reason']})" for r in group if r is not keeper)
        body.append((keeper["image_id"], len(group), losers))
    listing = markdown.table(["kept", "members", "not kept (why)"], body, right=["members"])
    return (
        f"{len(by_group)} groups, {len(members) - len(by_group)} copies not kept.\n\n"
        f"{summary}\n\nLargest groups:\n\n{listing}"
    )


def _why(dup_reason: str) -> str:
    # "own reason: blurry,text" counts as "own reason": the reasons are in the funnel already.
    return dup_reason.split(":", 1)[0] if dup_reason else "unknown"


def thresholds_markdown(thresholds: EffectiveThresholds) -> str:
    """The numbers in force and where each came from (default, pack, category or run)."""
    review = ", ".join(thresholds.review_reasons) or "none"
    return (
        markdown.table(["threshold", "value", "from"], thresholds.rows())
        + f"\n\nReasons sent to review instead of rejected: {review}."
    )


def reason_sheets(
    rows: Sequence[Mapping[str, Any]],
    load: Callable[[str], bytes],
    *,
    per_reason: int = 8,
) -> dict[str, str]:
    """Per reason with rejections: a contact sheet of up to ``per_reason`` examples (markdown)."""
    sheets = {}
    for reason in REASONS:
        hits = [r for r in rows if r["status"] == "ok" and reason in r["reasons"]][:per_reason]
        if not hits:
            continue
        images, labels = [], []
        for r in hits:
            try:
                images.append(load(r["image_id"]))
            except OSError:
                continue
            labels.append(_SHOWN[reason](r))
        if images:
            png = contact_sheet(images, labels, columns=min(4, len(images)), thumb=112)
            sheets[reason] = png_markdown(png, f"images flagged {reason}")
    return sheets


def per_category_funnel(tables: Mapping[str, pa.Table]) -> str:
    """One row per category, one column per reason: how many images each reason removed."""
    header = ["category", "collected", *REASONS, "review", "keep"]
    body = []
    for category, table in sorted(tables.items()):
        rows = table.select(["status", "reasons", "decision"]).to_pylist()
        removed = {stage: r for stage, _, r, _ in funnel_rows(rows)}
        body.append(
            (
                category,
                len(rows),
                *(removed[reason] for reason in REASONS),
                sum(1 for r in rows if r["decision"] == "review"),
                sum(1 for r in rows if r["decision"] == "keep"),
            )
        )
    return markdown.table(header, body, right=header[1:])


@dataclass(frozen=True)
class ScoresReport:
    """All ``image_scores`` shows about one category, as plain values (markdown is text)."""

    decisions: Mapping[str, int]  # keep / reject / review, and any other decision seen
    thresholds: str
    funnel: str
    near_duplicates: str
    flagged: dict[str, str]  # reason -> contact sheet, only reasons with an image to show


def scores_report(
    table: pa.Table, thresholds: EffectiveThresholds, load: Callable[[str], bytes]
) -> ScoresReport:
    """The report of one category's score table; ``load`` reads an image blob by id."""
    rows = table.to_pylist()
    return ScoresReport(
        decisions=decision_counts(table),
        thresholds=thresholds_markdown(thresholds),
        funnel=funnel_markdown(rows),
        near_duplicates=near_duplicates_markdown(rows),
        flagged=reason_sheets(rows, load),
    )
