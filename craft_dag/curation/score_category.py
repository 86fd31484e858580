"""Curate one category in storage: score its collected images, then filter them.

The glue between the stored tables and the pure scoring and filtering functions, so that the
Dagster assets stay a few lines long and tests can run a whole category without Dagster.
"""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from craft_dag.collection.collect_category import IMAGES
from craft_dag.curation.policy import EffectiveThresholds
from craft_dag.curation.score import (
    RawScores,
    ScoredImage,
    ScoreItem,
    Scorers,
    raw_scores_from_row,
    score_images,
)
from craft_dag.curation.tables import SCORES, scores_table
from craft_dag.storage import Storage, StorageError


def entity_texts(entity_rows: Sequence[Mapping[str, Any]]) -> dict[str, tuple[str, ...]]:
    """Per entity, what its images should match: names, aliases and queries (deduplicated)."""
    out = {}
    for row in entity_rows:
        texts = [row["native_name"], row["english_name"], *row["aliases"], *row["queries"]]
        texts += row.get("english_queries") or []
        out[row["entity_id"]] = tuple(dict.fromkeys(t for t in texts if t))
    return out


def _prior(store: Storage, category: str, scorers_version: str) -> dict[tuple[str, str], RawScores]:
    """Scores of the previous run, when the same scorers made them (else nothing to reuse)."""
    if not store.has_table(SCORES, category):
        return {}
    rows = store.read_table(SCORES, category).to_pylist()
    return {
        (r["image_id"], r["entity_id"]): raw_scores_from_row(r)
        for r in rows
        if r["scorers"] == scorers_version
    }


@dataclass(frozen=True)
class CategoryScores:
    table: pa.Table
    scored: list[ScoredImage]
    reused: int


def score_category(
    store: Storage,
    category: str,
    thresholds: EffectiveThresholds,
    scorers: Scorers,
    *,
    log: Callable[[str], None] = lambda _: None,
) -> CategoryScores:
    """Score every (image, entity) row of ``raw_images[category]`` and write ``image_scores``."""
    images = store.read_table(IMAGES, category).select(["image_id", "entity_id"]).to_pylist()
    texts = entity_texts(store.read_table("entities", category).to_pylist())

    def loader(sha: str) -> Callable[[], bytes]:
        return blob_loader(store, sha)

    items = [
        ScoreItem(
            r["image_id"], r["entity_id"], loader(r["image_id"]), texts.get(r["entity_id"], ())
        )
        for r in images
    ]
    prior = _prior(store, category, scorers.version)
    reused = sum(1 for i in items if (i.key, i.entity_id) in prior)
    scored = score_images(items, thresholds, scorers, prior=prior, log=log)
    table = scores_table(
        scored, category=category, thresholds=thresholds.fingerprint(), scorers=scorers.version
    )
    store.write_table(SCORES, category, table)
    return CategoryScores(table, scored, reused)


def blob_loader(store: Storage, sha: str) -> Callable[[], bytes]:
    """A ``ScoreItem`` loader for a stored blob; a missing blob is one unreadable image (an
    ``OSError``, recorded on its row), never a failed category or shard."""

    def load() -> bytes:
        try:
            return store.get_blob(sha)
        except StorageError as exc:
            raise OSError(str(exc)) from exc

    return load
