"""How a scorer's answers on the calibration corpus compare with its labels.

Split out of ``calibration.py``: per-reason precision and recall, whether each group's original
was kept, and how often clean photos are flagged with text or a watermark.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from craft_dag.curation.calibration_labels import Corpus

MEASURED_REASONS: tuple[str, ...] = (
    "too_small",
    "bad_aspect",
    "blurry",
    "underexposed",
    "overexposed",
    "low_information",
    "text",
    "watermark",
    "duplicate",
)
CLEAN_PHOTO_KINDS = frozenset({"original", "crop", "downscale", "jpeg"})
"""Photos with nothing planted on them: the base of the text and watermark false-flag rates."""


@dataclass(frozen=True)
class ReasonFigures:
    reason: str
    expected: int  # files labelled with the reason
    tp: int
    fp: int
    fn: int
    caught: int  # labelled files that were not kept, whatever the reason

    @property
    def precision(self) -> float | None:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else None

    @property
    def recall(self) -> float | None:
        return self.tp / self.expected if self.expected else None


@dataclass(frozen=True)
class Evaluation:
    """How one scorer's answers on the corpus compare with its labels."""

    reasons: dict[str, ReasonFigures]
    groups: int
    original_kept: int  # groups whose original was not marked duplicate
    broken: int
    broken_with_reason: int  # broken files with a row, status error and an error text
    clean_photos: int
    clean_flagged: dict[str, int]  # text / watermark -> clean photos flagged with it
    missing: tuple[str, ...]  # labelled files without a row

    @property
    def original_kept_share(self) -> float | None:
        return self.original_kept / self.groups if self.groups else None

    def clean_flag_rate(self, reason: str) -> float | None:
        return self.clean_flagged[reason] / self.clean_photos if self.clean_photos else None


def evaluate(corpus: Corpus, rows: dict[str, dict[str, Any]]) -> Evaluation:
    """Compare score rows (path -> row with ``reasons``, ``decision``, ``status``, ``error``).

    A row's ``reasons`` is a ``;``-joined string or a sequence. Broken files count only for
    ``broken_with_reason``; every other labelled file counts for each reason of
    ``MEASURED_REASONS``. ``caught`` counts labelled files whose decision is not ``keep`` (a
    document rejected as low-information before OCR ran is caught without the ``text`` reason).
    """

    def reasons_of(row: dict[str, Any]) -> set[str]:
        value = row.get("reasons") or ()
        return {r for r in (value.split(";") if isinstance(value, str) else value) if r}

    missing = tuple(f.path for f in corpus if f.path not in rows)
    scored = [f for f in corpus if f.role != "broken" and f.path in rows]
    figures = {}
    for reason in MEASURED_REASONS:
        tp = fp = fn = caught = 0
        for f in scored:
            row = rows[f.path]
            predicted = reason in reasons_of(row)
            if reason in f.expected:
                tp += predicted
                fn += not predicted
                caught += row.get("decision") != "keep"
            else:
                fp += predicted
        expected = sum(reason in f.expected for f in corpus if f.role != "broken")
        figures[reason] = ReasonFigures(reason, expected, tp, fp, fn, caught)
    groups = corpus.groups()
    kept = sum(
        1
        for members in groups.values()
        if members[0].path in rows and "duplicate" not in reasons_of(rows[members[0].path])
    )
    broken = [f for f in corpus if f.role == "broken"]
    with_reason = sum(
        1
        for f in broken
        if f.path in rows and rows[f.path].get("status") == "error" and rows[f.path].get("error")
    )
    clean = [f for f in scored if f.kind in CLEAN_PHOTO_KINDS]
    flagged = {r: sum(r in reasons_of(rows[f.path]) for f in clean) for r in ("text", "watermark")}
    return Evaluation(
        figures, len(groups), kept, len(broken), with_reason, len(clean), flagged, missing
    )
