"""Deterministic sample votes in the kit's export format, for the demo's report.

They stand in for people until people have voted: mostly for ``model_b`` (the tuned model),
with some ties and some preference for ``model_a``, and assessors who agree on most pairs but
not all, so the report shows every kind of row and a kappa between 0 and 1.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from craft_dag.evaluation.sbs_kit import QUESTIONS, kit_id, layout

_CONSENSUS = (("b", 0.65), ("tie", 0.2), ("a", 0.15))
"""How often a pair's shared "true" preference is model b, a tie, or model a."""
_AGREE = 0.8
"""Probability that an assessor answers with the consensus; otherwise a uniform choice."""
_EPOCH = datetime(2025, 1, 1, 9, 0, tzinfo=UTC)


def _draw(rng: random.Random) -> str:
    x = rng.random()
    for choice, p in _CONSENSUS:
        if x < p:
            return choice
        x -= p
    return _CONSENSUS[-1][0]


def _iso(t: datetime) -> str:
    return t.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def sample_votes(
    pairs: Sequence[Mapping[str, Any]],
    assessors: Sequence[str] = ("assessor_1", "assessor_2"),
    seed: int = 0,
) -> list[dict[str, Any]]:
    """One export-shaped dict per assessor, as if each had rated every pair of the kit.

    The same (pairs, assessors, seed) give the same votes. ``shown_left`` and ``kit_id`` are
    those :func:`craft_dag.evaluation.sbs_kit.build_kit` gives a kit built with this ``seed``.
    Images in ``pairs`` are not needed.
    """
    kid = kit_id(pairs, seed)
    consensus = {
        (str(p["pair_id"]), q): _draw(
            random.Random(f"{seed}\x1fconsensus\x1f{p['pair_id']}\x1f{q}")
        )
        for p in pairs
        for q in QUESTIONS
    }
    exports = []
    for n, assessor in enumerate(assessors):
        rng = random.Random(f"{seed}\x1fassessor\x1f{assessor}")
        sides = layout(pairs, assessor, seed)
        clock = _EPOCH + timedelta(hours=n)
        votes = []
        for pair in pairs:
            pid = str(pair["pair_id"])
            for question in QUESTIONS:
                choice = consensus[(pid, question)]
                if rng.random() >= _AGREE:
                    choice = rng.choice(("a", "b", "tie"))
                clock += timedelta(seconds=rng.randint(4, 20))
                votes.append(
                    {
                        "pair_id": pid,
                        "prompt_id": str(pair["prompt_id"]),
                        "category": str(pair["category"]),
                        "language": str(pair["language"]),
                        "question": question,
                        "choice": choice,
                        "model_a": str(pair["model_a"]),
                        "model_b": str(pair["model_b"]),
                        "shown_left": sides[pid],
                        "voted_at": _iso(clock),
                    }
                )
        exports.append(
            {
                "kit_id": kid,
                "assessor": assessor,
                "exported_at": _iso(clock + timedelta(minutes=1)),
                "votes": votes,
            }
        )
    return exports
