"""Precision and recall of the caption linter over a hand-labelled set of captions.

The set (``tests/captioning/data/lint_labelled.yaml``) lists captions in Russian and English,
each with exactly the rules of the paper's section 4.3 it breaks, labelled by hand from the
paper's wording (the file's header says how each rule was read). :func:`evaluate` runs a linter
over every caption and counts, per rule id, true positives, false positives and false negatives;
:class:`Scores` turns those into precision and recall, per rule and micro-averaged.

``templated`` is judged across captions: a caption's ``group`` (the captions one annotator wrote
for one entity) is the entity the linter sees, and a caption without a group is an entity of its
own, so that captions of the same entity written for other rules never form a template by
accident.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from craft_dag.captioning.lint import RULE_IDS, Violation, lint_captions

# What a linter is, for evaluate(): rows in (entity, caption, language, names), rule ids out.
Linter = Callable[[Sequence[Mapping[str, object]]], list[list[str]]]


@dataclass(frozen=True)
class LabelledCaption:
    """One caption of the set and the rule ids it breaks."""

    id: str
    entity: str
    language: str
    caption: str
    names: tuple[str, ...]
    breaks: frozenset[str]
    group: str | None = None
    note: str = ""


def load_labelled(path: Path | str) -> list[LabelledCaption]:
    """The captions of a labelled YAML file; ``ValueError`` naming the row for a bad one."""
    path = Path(path)
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, Mapping) or "captions" not in data:
        raise ValueError(f"{path}: expected a mapping with 'entities' and 'captions'")
    entities = data.get("entities") or {}
    out: list[LabelledCaption] = []
    seen: set[str] = set()
    for number, row in enumerate(data["captions"], start=1):
        where = f"{path}: caption {number} ({row.get('id', 'no id')})"
        for key in ("id", "entity", "language", "breaks"):
            if key not in row:
                raise ValueError(f"{where}: missing {key!r}")
        if row["id"] in seen:
            raise ValueError(f"{where}: duplicate id")
        seen.add(row["id"])
        if row["entity"] not in entities:
            raise ValueError(f"{where}: entity {row['entity']!r} is not under 'entities'")
        unknown = set(row["breaks"]) - set(RULE_IDS)
        if unknown:
            raise ValueError(f"{where}: unknown rule id(s) {sorted(unknown)}")
        out.append(
            LabelledCaption(
                id=str(row["id"]),
                entity=str(row["entity"]),
                language=str(row["language"]),
                caption=str(row.get("caption") or ""),
                names=tuple(str(n) for n in entities[row["entity"]]),
                breaks=frozenset(row["breaks"]),
                group=row.get("group"),
                note=str(row.get("note") or ""),
            )
        )
    return out


def lint_rows(captions: Sequence[LabelledCaption]) -> list[dict[str, object]]:
    """The linter's input rows for the set (see the module docstring for ``entity``)."""
    return [
        {
            "entity": c.group or c.id,
            "caption": c.caption,
            "language": c.language,
            "names": list(c.names),
        }
        for c in captions
    ]


def craft_linter(rows: Sequence[Mapping[str, object]]) -> list[list[str]]:
    """:func:`craft_dag.captioning.lint.lint_captions` with the default rules, as rule ids."""
    return [_ids(v) for v in lint_captions(rows)]


def _ids(violations: Sequence[Violation]) -> list[str]:
    return list(dict.fromkeys(v.rule for v in violations))


@dataclass
class RuleCounts:
    """Confusion counts of one rule over the set, with the ids of the captions it got wrong."""

    tp: int = 0
    fp: int = 0
    fn: int = 0
    false_positives: list[str] = field(default_factory=list)
    false_negatives: list[str] = field(default_factory=list)

    @property
    def positives(self) -> int:
        """Captions labelled as breaking the rule."""
        return self.tp + self.fn

    @property
    def precision(self) -> float:
        # No flag at all is no false alarm: precision 1 (recall says what was missed).
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0


@dataclass
class Scores:
    """Per-rule counts, their micro-average and the number of captions."""

    rules: dict[str, RuleCounts]
    captions: int
    exact: int  # captions whose whole set of flagged rules equals the label

    @property
    def micro(self) -> RuleCounts:
        total = RuleCounts()
        for counts in self.rules.values():
            total.tp += counts.tp
            total.fp += counts.fp
            total.fn += counts.fn
        return total


def evaluate(captions: Sequence[LabelledCaption], linter: Linter = craft_linter) -> Scores:
    """Run ``linter`` over the set and count its hits and misses per rule id."""
    predicted = linter(lint_rows(captions))
    if len(predicted) != len(captions):
        raise ValueError(f"the linter answered {len(predicted)} rows for {len(captions)}")
    rules = {rule: RuleCounts() for rule in RULE_IDS}
    exact = 0
    for caption, flagged in zip(captions, predicted, strict=True):
        got = set(flagged)
        exact += got == caption.breaks
        for rule, counts in rules.items():
            if rule in got and rule in caption.breaks:
                counts.tp += 1
            elif rule in got:
                counts.fp += 1
                counts.false_positives.append(caption.id)
            elif rule in caption.breaks:
                counts.fn += 1
                counts.false_negatives.append(caption.id)
    return Scores(rules=rules, captions=len(captions), exact=exact)
