"""The labels of the calibration corpus: one ``CorpusFile`` per file, read and written as CSV.

Split out of ``calibration.py`` (the builder writes them, ``calibration_evaluation`` reads
them). Expected reasons are kept in the order of ``policy.REASONS``.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from craft_dag.curation.policy import REASONS

LABELS_FILE = "labels.csv"
ROLES: tuple[str, ...] = ("original", "copy", "single", "broken")


@dataclass(frozen=True)
class CorpusFile:
    """One file of the corpus, as a row of ``labels.csv``."""

    path: str  # relative to the corpus root, posix separators (as craft images score reports)
    group: str  # near-duplicate group id ("" for singles and broken files)
    role: str  # one of ROLES
    kind: str  # the degradation: original, crop, blur, watermark_tiled, flat, truncated, ...
    expected: tuple[str, ...]  # expected reasons, in vocabulary order ("" in the file: none)
    source: str  # the photo it was made from ("" for generated files)
    params: dict[str, Any] = field(default_factory=dict)  # planting parameters


LABEL_COLUMNS: tuple[str, ...] = ("path", "group", "role", "kind", "expected", "source", "params")


@dataclass(frozen=True)
class Corpus:
    """The labels of a built corpus, with the folder they describe."""

    root: Path
    files: tuple[CorpusFile, ...]

    def __iter__(self) -> Iterator[CorpusFile]:
        return iter(self.files)

    def __len__(self) -> int:
        return len(self.files)

    def by_path(self) -> dict[str, CorpusFile]:
        return {f.path: f for f in self.files}

    def groups(self) -> dict[str, list[CorpusFile]]:
        """Group id -> its members, the original first."""
        out: dict[str, list[CorpusFile]] = {}
        for f in self.files:
            if f.group:
                out.setdefault(f.group, []).append(f)
        for members in out.values():
            members.sort(key=lambda f: f.role != "original")
        return out


def ordered_reasons(reasons: Sequence[str]) -> tuple[str, ...]:
    """``reasons`` in vocabulary order, once each; a reason outside it is a labelling bug."""
    unknown = set(reasons) - set(REASONS)
    if unknown:
        raise ValueError(f"unknown reason(s) {sorted(unknown)} in the corpus labels")
    return tuple(r for r in REASONS if r in set(reasons))


def write_labels(path: Path, files: Sequence[CorpusFile]) -> None:
    """Write ``files`` as ``labels.csv`` rows (``expected`` joined by ``;``, params as JSON)."""
    with Path(path).open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(LABEL_COLUMNS)
        for f in files:
            params = json.dumps(f.params, sort_keys=True, ensure_ascii=False)
            row = (f.path, f.group, f.role, f.kind, ";".join(f.expected), f.source, params)
            writer.writerow(row)


def read_labels(root: Path) -> Corpus:
    """The labels of a corpus built earlier under ``root``."""
    root = Path(root)
    with (root / LABELS_FILE).open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    files = tuple(
        CorpusFile(
            path=r["path"],
            group=r["group"],
            role=r["role"],
            kind=r["kind"],
            expected=ordered_reasons([x for x in r["expected"].split(";") if x]),
            source=r["source"],
            params=json.loads(r["params"]),
        )
        for r in rows
    )
    return Corpus(root, files)
