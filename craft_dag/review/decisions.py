"""Human review decisions: the vocabulary, CSV import, the conflict rule and the Parquet table.

The CRAFT paper (section 4.2) had people filter the collected images twice, for quality and for
belonging to the cultural code. Their keep/reject calls arrive here from Label Studio (see
``label_studio.parse_export``) or from a plain CSV for teams that review in a spreadsheet; both
become ``ReviewDecision`` rows, and ``resolve`` turns the decisions of several annotators into
one verdict per (image, entity) by a stated rule.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pyarrow as pa

from craft_dag.curation.policy import REASONS

VERDICTS: tuple[str, ...] = ("keep", "reject")

# The automatic scorer's vocabulary first, then what only people judge: collages (the paper's
# captioning rules skip them), distorted entities, and images with no trace of the cultural code.
REJECT_REASONS: tuple[str, ...] = (
    *REASONS,
    "collage",
    "distorted",
    "not_cultural",
    "other",
)

SOURCES: tuple[str, ...] = ("label_studio", "csv")

CSV_COLUMNS: tuple[str, ...] = (
    "image_id",
    "entity_id",
    "category",
    "verdict",
    "reasons",
    "caption",
    "annotator",
    "annotated_at",
)
CSV_REQUIRED: tuple[str, ...] = ("image_id", "entity_id", "category", "verdict", "annotator")

# A decision with no time of its own (an undated CSV row) sorts before every dated one, so a
# dated decision by the same annotator always supersedes it.
UNDATED = datetime(1970, 1, 1, tzinfo=UTC)

_SHA256 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class ReviewDecision:
    """One annotator's call on one image of one entity.

    A ``keep`` may carry reasons too: the reviewer kept the image while noting a flaw, as the
    paper's rules ask when an entity has no better picture (flag it, do not reject silently).
    """

    image_id: str  # sha256 hex of the image bytes
    entity_id: str
    category: str
    verdict: str  # one of VERDICTS
    reasons: tuple[str, ...]  # each one of REJECT_REASONS
    caption: str  # the reviewer's own caption, "" if none
    annotator: str
    annotated_at: datetime  # UTC, tz-aware
    source: str  # one of SOURCES
    task_id: str = ""  # the Label Studio task id, "" for CSV rows

    def __post_init__(self) -> None:
        # The importers report bad input as RowProblems; this catches code that builds
        # decisions by hand with a value the table and the rule cannot hold.
        problem = _invalid(self)
        if problem:
            raise ValueError(f"invalid ReviewDecision: {problem}")


@dataclass(frozen=True)
class RowProblem:
    """A row (CSV line, or task of a Label Studio export) that could not be imported."""

    where: str  # the file or export it came from
    line: int  # 1-based CSV line, or the task's 1-based position in a JSON export
    message: str

    def __str__(self) -> str:
        return f"{self.where}:{self.line}: {self.message}"


@dataclass(frozen=True)
class ResolvedDecision:
    """The one verdict for an (image, entity) after the conflict rule, with its votes."""

    image_id: str
    entity_id: str
    category: str
    verdict: str
    reasons: tuple[str, ...]
    caption: str
    annotators: tuple[str, ...]  # everyone whose latest decision was counted, sorted
    votes_keep: int
    votes_reject: int
    conflict: bool  # the annotators disagreed
    annotated_at: datetime  # the latest of the counted decisions
    source: str  # "label_studio", "csv", or both joined by "+"


@dataclass(frozen=True)
class Resolution:
    """What ``resolve`` made of a set of decisions."""

    decisions: tuple[ResolvedDecision, ...]  # sorted by (image_id, entity_id)
    n_input: int  # decisions given
    n_superseded: int  # earlier decisions replaced by the same annotator's later one
    n_keep: int = field(init=False)
    n_reject: int = field(init=False)
    n_conflicts: int = field(init=False)
    n_ties: int = field(init=False)  # conflicts with equal votes, resolved to reject

    def __post_init__(self) -> None:
        d = self.decisions
        object.__setattr__(self, "n_keep", sum(r.verdict == "keep" for r in d))
        object.__setattr__(self, "n_reject", sum(r.verdict == "reject" for r in d))
        object.__setattr__(self, "n_conflicts", sum(r.conflict for r in d))
        object.__setattr__(self, "n_ties", sum(r.votes_keep == r.votes_reject for r in d))

    def counts(self) -> dict[str, int]:
        """The counts as a plain dict, for materialization metadata."""
        return {
            "decisions": self.n_input,
            "superseded": self.n_superseded,
            "resolved": len(self.decisions),
            "keep": self.n_keep,
            "reject": self.n_reject,
            "conflicts": self.n_conflicts,
            "ties": self.n_ties,
        }


DECISIONS_SCHEMA = pa.schema(
    [
        pa.field("image_id", pa.string(), nullable=False),
        pa.field("entity_id", pa.string(), nullable=False),
        pa.field("category", pa.string(), nullable=False),
        pa.field("verdict", pa.string(), nullable=False),
        pa.field("reasons", pa.list_(pa.string()), nullable=False),
        pa.field("caption", pa.string(), nullable=False),
        pa.field("annotators", pa.list_(pa.string()), nullable=False),
        pa.field("votes_keep", pa.int32(), nullable=False),
        pa.field("votes_reject", pa.int32(), nullable=False),
        pa.field("conflict", pa.bool_(), nullable=False),
        pa.field("annotated_at", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("source", pa.string(), nullable=False),
    ]
)


def parse_reasons(value: str | Sequence[str]) -> tuple[tuple[str, ...], list[str]]:
    """Split reasons (a ';'-joined string or a sequence) into known ones and unknown ones.

    Blanks are dropped, case and surrounding spaces ignored, repeats kept once in first order.
    """
    items = value.split(";") if isinstance(value, str) else list(value)
    known: list[str] = []
    unknown: list[str] = []
    for item in items:
        reason = str(item).strip().lower()
        if not reason or reason in known:
            continue
        (known if reason in REJECT_REASONS else unknown).append(reason)
    return tuple(known), unknown


def parse_time(value: str) -> datetime:
    """An ISO 8601 time as tz-aware UTC; a time without offset is taken as UTC.

    Spreadsheets rarely keep offsets, and reviewers' times only order one annotator's own
    decisions, so reading a naive time as UTC cannot reorder anything that matters.
    """
    parsed = datetime.fromisoformat(value.strip())
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def parse_csv(
    data: bytes, *, where: str, undated: datetime = UNDATED
) -> tuple[list[ReviewDecision], list[RowProblem]]:
    """Read review decisions from a CSV; every bad row becomes a ``RowProblem``, never an error.

    Columns (header names, any order, extra columns ignored): ``image_id, entity_id, category,
    verdict, annotator`` are required; ``reasons`` (joined by ';'), ``caption`` and
    ``annotated_at`` (ISO 8601) are optional. Rows without a time get ``undated``. A UTF-8 BOM
    (what Excel writes) is accepted. A file without the required columns yields one problem on
    line 1 and no decisions.
    """
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return [], [RowProblem(where, 1, f"not UTF-8 text: {exc}")]
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = [name.strip().lower() for name in (reader.fieldnames or [])]
    missing = [name for name in CSV_REQUIRED if name not in header]
    if missing:
        return [], [RowProblem(where, 1, f"missing column(s): {', '.join(missing)}")]
    reader.fieldnames = header

    decisions: list[ReviewDecision] = []
    problems: list[RowProblem] = []
    line = reader.line_num + 1  # where the next record starts (a quoted field may span lines)
    for row in reader:
        if None in row:
            problems.append(RowProblem(where, line, "more fields than columns"))
        else:
            decision, message = _csv_decision(row, undated)
            if decision is not None:
                decisions.append(decision)
            else:
                problems.append(RowProblem(where, line, message))
        line = reader.line_num + 1
    return decisions, problems


def resolve(decisions: Iterable[ReviewDecision]) -> Resolution:
    """Resolve the decisions of all annotators into one verdict per (image_id, entity_id).

    The rule, in order:

    1. Each annotator's latest decision counts (by ``annotated_at``; at equal times the one
       given later wins), so an annotator who changed their mind is counted once, as they
       finally decided.
    2. The majority verdict wins. A tie resolves to ``reject``: the paper had a second group
       review the first, and an image people disagree about should not train the model.
    3. ``reasons`` is the union of the reasons of the annotators who voted for the winning
       verdict (in vocabulary order); a losing voter's reasons do not describe the outcome.
    4. ``caption`` is the latest non-empty caption among the winning voters, "" if none.

    ``category`` is the latest counted decision's; ``conflict`` is true when both verdicts got
    votes.
    """
    latest: dict[tuple[str, str], dict[str, tuple[datetime, int, ReviewDecision]]] = {}
    n_input = 0
    for order, decision in enumerate(decisions):
        n_input += 1
        key = (decision.image_id, decision.entity_id)
        per_annotator = latest.setdefault(key, {})
        stamp = (decision.annotated_at, order)
        held = per_annotator.get(decision.annotator)
        if held is None or stamp >= held[:2]:
            per_annotator[decision.annotator] = (*stamp, decision)

    resolved = [_resolve_one(per.values()) for _, per in sorted(latest.items())]
    counted = sum(len(per) for per in latest.values())
    return Resolution(decisions=tuple(resolved), n_input=n_input, n_superseded=n_input - counted)


def decisions_table(resolved: Resolution | Iterable[ResolvedDecision]) -> pa.Table:
    """The resolved decisions as a table of ``DECISIONS_SCHEMA``, sorted by image and entity."""
    rows = resolved.decisions if isinstance(resolved, Resolution) else tuple(resolved)
    rows = sorted(rows, key=lambda r: (r.image_id, r.entity_id))
    columns = {
        "image_id": [r.image_id for r in rows],
        "entity_id": [r.entity_id for r in rows],
        "category": [r.category for r in rows],
        "verdict": [r.verdict for r in rows],
        "reasons": [list(r.reasons) for r in rows],
        "caption": [r.caption for r in rows],
        "annotators": [list(r.annotators) for r in rows],
        "votes_keep": [r.votes_keep for r in rows],
        "votes_reject": [r.votes_reject for r in rows],
        "conflict": [r.conflict for r in rows],
        "annotated_at": [r.annotated_at for r in rows],
        "source": [r.source for r in rows],
    }
    return pa.Table.from_pydict(columns, schema=DECISIONS_SCHEMA)


def _invalid(d: ReviewDecision) -> str:
    if not _SHA256.fullmatch(d.image_id):
        return f"image_id {d.image_id!r} is not a lowercase sha256 hex digest"
    for name in ("entity_id", "category", "annotator"):
        if not getattr(d, name):
            return f"{name} is empty"
    if d.verdict not in VERDICTS:
        return f"verdict {d.verdict!r} is not one of {', '.join(VERDICTS)}"
    unknown = [r for r in d.reasons if r not in REJECT_REASONS]
    if unknown:
        return f"unknown reason(s): {', '.join(unknown)}"
    if d.annotated_at.tzinfo is None or d.annotated_at.utcoffset() != UTC.utcoffset(None):
        return "annotated_at must be tz-aware UTC"
    if d.source not in SOURCES:
        return f"source {d.source!r} is not one of {', '.join(SOURCES)}"
    return ""


def _csv_decision(row: dict[str, str], undated: datetime) -> tuple[ReviewDecision | None, str]:
    def cell(name: str) -> str:
        return (row.get(name) or "").strip()

    reasons, unknown = parse_reasons(cell("reasons"))
    if unknown:
        return None, f"unknown reason(s): {', '.join(unknown)} (known: {', '.join(REJECT_REASONS)})"
    when = undated
    if cell("annotated_at"):
        try:
            when = parse_time(cell("annotated_at"))
        except ValueError:
            return None, f"annotated_at {cell('annotated_at')!r} is not an ISO 8601 time"
    try:
        decision = ReviewDecision(
            image_id=cell("image_id").lower(),
            entity_id=cell("entity_id"),
            category=cell("category"),
            verdict=cell("verdict").lower(),
            reasons=reasons,
            caption=cell("caption"),
            annotator=cell("annotator"),
            annotated_at=when,
            source="csv",
        )
    except ValueError as exc:
        return None, str(exc).removeprefix("invalid ReviewDecision: ")
    return decision, ""


def _resolve_one(held: Iterable[tuple[datetime, int, ReviewDecision]]) -> ResolvedDecision:
    # Oldest first, so "the latest" below is simply the last one.
    counted = [d for *_, d in sorted(held, key=lambda h: h[:2])]
    votes_keep = sum(d.verdict == "keep" for d in counted)
    votes_reject = len(counted) - votes_keep
    verdict = "keep" if votes_keep > votes_reject else "reject"
    winners = [d for d in counted if d.verdict == verdict]
    reasons = {r for d in winners for r in d.reasons}
    captions = [d.caption for d in winners if d.caption]
    return ResolvedDecision(
        image_id=counted[-1].image_id,
        entity_id=counted[-1].entity_id,
        category=counted[-1].category,
        verdict=verdict,
        reasons=tuple(r for r in REJECT_REASONS if r in reasons),
        caption=captions[-1] if captions else "",
        annotators=tuple(sorted(d.annotator for d in counted)),
        votes_keep=votes_keep,
        votes_reject=votes_reject,
        conflict=votes_keep > 0 and votes_reject > 0,
        annotated_at=counted[-1].annotated_at,
        source="+".join(sorted({d.source for d in counted})),
    )
