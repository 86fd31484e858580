"""What the ``captions`` asset reports about one category's captions, as plain values.

Kept apart from ``captioning.category`` (which makes the table) so the summary can be tested
without captioning anything, and so the asset only wraps these values for Dagster.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from craft_dag import markdown
from craft_dag.captioning.caption_category import CaptionsResult

EXAMPLES = 10  # rows shown in the examples table: enough to judge, small enough to read
TINY_NOTE = "Automatic captions come from a tiny random model: their text is noise.\n\n"


@dataclass(frozen=True)
class CaptionsSummary:
    included: int  # rows that go on to translation and training
    outcomes: dict[str, int]  # sorted by outcome, so the metadata reads the same every run
    guideline_violations: dict[str, int]  # sorted by rule id
    examples: str  # markdown: the first rows with their source and guideline verdict


def entity_names(rows: Sequence[Mapping[str, Any]]) -> dict[str, list[str]]:
    """Per entity id, its names in order without repeats: native, English, then aliases."""
    return {
        r["entity_id"]: list(dict.fromkeys([r["native_name"], r["english_name"], *r["aliases"]]))
        for r in rows
    }


def summarise_captions(result: CaptionsResult, *, tiny_model: bool) -> CaptionsSummary:
    """The counts and examples table of one category's captions.

    ``tiny_model``: the captioner is the tiny random test model; the examples then say that
    automatic captions are noise, so nobody reads meaning into them.
    """
    rows = result.table.to_pylist()
    examples = [
        (
            r["entity_id"],
            r["caption_source"],
            r["caption"] or "(none)",
            ";".join(r["violations"]) or ("ok" if r["included"] else r["excluded_reason"]),
        )
        for r in rows[:EXAMPLES]
    ]
    note = TINY_NOTE if tiny_model and any(r["caption_source"] == "auto" for r in rows) else ""
    return CaptionsSummary(
        included=sum(1 for r in rows if r["included"]),
        outcomes=dict(sorted(result.counts.items())),
        guideline_violations=dict(sorted(result.violations.items())),
        examples=note + markdown.table(["entity", "source", "caption", "guidelines"], examples),
    )
