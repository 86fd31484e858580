"""Side-by-side votes: the kit's export schema, reading vote files, de-duplicating, orienting.

The JSON files are the ones the kit pages export (schema in :mod:`craft_dag.evaluation.sbs_kit`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

QUESTIONS: tuple[str, ...] = ("alignment", "quality")
CHOICES: tuple[str, ...] = ("a", "b", "tie")
ALL = "all"
"""The category (or question) name of a row that pools every category (or both questions)."""

_VOTE_FIELDS = (
    "pair_id",
    "prompt_id",
    "category",
    "language",
    "question",
    "choice",
    "model_a",
    "model_b",
)


class VoteFileError(ValueError):
    """A votes file that cannot be read or does not follow the kit's export schema."""


@dataclass(frozen=True)
class Vote:
    """One person's answer to one question about one pair, on the model side (a/b/tie)."""

    kit_id: str
    assessor: str
    pair_id: str
    prompt_id: str
    category: str
    language: str
    question: str
    choice: str
    model_a: str
    model_b: str
    shown_left: str = ""
    voted_at: str = ""
    source: str = ""

    def flipped(self) -> Vote:
        """The same vote with the two models swapped (``a`` <-> ``b``)."""
        swap = {"a": "b", "b": "a", "tie": "tie", "": ""}
        return Vote(
            **{
                **asdict(self),
                "model_a": self.model_b,
                "model_b": self.model_a,
                "choice": swap[self.choice],
                "shown_left": swap.get(self.shown_left, self.shown_left),
            }
        )


def _parse_votes(data: Any, source: str) -> list[Vote]:
    if not isinstance(data, dict) or not isinstance(data.get("votes"), list):
        raise VoteFileError(f"{source}: not a votes export (an object with a 'votes' list)")
    assessor = data.get("assessor")
    if not isinstance(assessor, str) or not assessor:
        raise VoteFileError(f"{source}: no 'assessor'")
    kit = str(data.get("kit_id", ""))
    out = []
    for i, row in enumerate(data["votes"]):
        if not isinstance(row, dict):
            raise VoteFileError(f"{source}: vote #{i} is not an object")
        missing = [f for f in _VOTE_FIELDS if f not in row]
        if missing:
            raise VoteFileError(f"{source}: vote #{i} lacks {', '.join(missing)}")
        if row["question"] not in QUESTIONS:
            raise VoteFileError(f"{source}: vote #{i}: unknown question {row['question']!r}")
        if row["choice"] not in CHOICES:
            raise VoteFileError(f"{source}: vote #{i}: choice {row['choice']!r} not a/b/tie")
        out.append(
            Vote(
                kit_id=kit,
                assessor=assessor,
                pair_id=str(row["pair_id"]),
                prompt_id=str(row["prompt_id"]),
                category=str(row["category"]),
                language=str(row["language"]),
                question=row["question"],
                choice=row["choice"],
                model_a=str(row["model_a"]),
                model_b=str(row["model_b"]),
                shown_left=str(row.get("shown_left", "")),
                voted_at=str(row.get("voted_at", "")),
                source=source,
            )
        )
    return out


def votes_from_export(data: Any, source: str = "<export>") -> list[Vote]:
    """The votes of one parsed export (the JSON object a kit page saves)."""
    return _parse_votes(data, source)


def load_votes(paths: Iterable[Path | str]) -> list[Vote]:
    """Read kit exports; raise :class:`VoteFileError` naming the file for anything unreadable."""
    out: list[Vote] = []
    for path in paths:
        source = str(path)
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise VoteFileError(f"{source}: cannot read: {exc}") from exc
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise VoteFileError(f"{source}: bad JSON: {exc}") from exc
        out.extend(_parse_votes(data, source))
    return out


def dedupe(votes: Iterable[Vote]) -> list[Vote]:
    """One vote per (assessor, pair, question): the latest ``voted_at`` (then the last read)."""
    best: dict[tuple[str, str, str], Vote] = {}
    for vote in votes:
        key = (vote.assessor, vote.pair_id, vote.question)
        if key not in best or vote.voted_at >= best[key].voted_at:
            best[key] = vote
    return list(best.values())


def orient(votes: Iterable[Vote]) -> list[Vote]:
    """Put every vote of a model pair in one orientation (the first seen), flipping the others."""
    seen: set[tuple[str, str]] = set()
    out = []
    for vote in votes:
        key = (vote.model_a, vote.model_b)
        if key not in seen and (vote.model_b, vote.model_a) in seen:
            vote = vote.flipped()
        else:
            seen.add(key)
        out.append(vote)
    return out
