"""Automatic scores of the generations, with the curation stage's image-text scorer.

Per generation:

* ``text_similarity``: the image against its own prompt, in the prompt's language (the
  source-language text for source prompts, English for English ones), so the ``full``
  profile's multilingual SigLIP reads Russian prompts as they are;
* ``entity_relevance``: when the prompt names an entity, the image against that entity's
  names, aliases and queries, the best match, exactly as ``image_scores`` scores collected
  images (``craft_dag.curation.score_category.entity_texts``, same scorer, same [0, 1] scale).

Per (prompt, language, model): the means of those over the K images and ``diversity``, the
Vendi score of the K images' embeddings (the scorer's image tower, cosine kernel; 1..K).

Then per category and overall, per metric and language, tuned against base: the mean
per-prompt difference with a bootstrap interval from resampling prompts.

The scorer is anything with ``score(images, texts)`` (``RelevanceScorer``) and, for diversity,
its image embedding, ``embed_images(images)`` (``TransformersRelevanceScorer`` has one).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
from PIL import Image

from craft_dag.catalog.models import Entity
from craft_dag.curation.score_category import entity_texts
from craft_dag.evaluation.generate import BASE, LANGUAGES, TUNED
from craft_dag.evaluation.stats import paired_difference, vendi_score
from craft_dag.imaging.decode import open_image
from craft_dag.models import to_rgb
from craft_dag.storage import Storage

SCORES = "evaluation_scores"
COMPARISON = "evaluation_comparison"
METRICS = ("text_similarity", "entity_relevance", "diversity")
ALL = "all"

SCORES_SCHEMA = pa.schema(
    [
        ("prompt_id", pa.string()),
        ("category", pa.string()),
        ("entity", pa.string()),
        ("language", pa.string()),
        ("model", pa.string()),
        ("images", pa.int64()),
        ("text_similarity", pa.float64()),
        ("entity_relevance", pa.float64()),
        ("diversity", pa.float64()),
        ("image_text_similarity", pa.list_(pa.float64())),
        ("image_entity_relevance", pa.list_(pa.float64())),
    ]
)

COMPARISON_SCHEMA = pa.schema(
    [
        ("metric", pa.string()),
        ("category", pa.string()),
        ("language", pa.string()),
        ("base_model", pa.string()),
        ("tuned_model", pa.string()),
        ("prompts", pa.int64()),
        ("base_mean", pa.float64()),
        ("tuned_mean", pa.float64()),
        ("difference", pa.float64()),
        ("ci_low", pa.float64()),
        ("ci_high", pa.float64()),
        ("confidence", pa.float64()),
    ]
)


def pack_entity_texts(entities: Iterable[Entity]) -> dict[str, tuple[str, ...]]:
    """Per entity id, the texts curation scores its images against (names, aliases, queries)."""
    rows = [
        {
            "entity_id": e.id,
            "native_name": e.native_name,
            "english_name": e.english_name,
            "aliases": list(e.aliases),
            "queries": list(e.queries),
            "english_queries": list(e.english_queries),
        }
        for e in entities
    ]
    return entity_texts(rows)


def image_embeddings(scorer: Any, images: Sequence[Image.Image]) -> np.ndarray:
    """L2-normalised image embeddings (n, dim) from the scorer's image tower."""
    if not images:
        return np.zeros((0, 0))
    embed = scorer.embed_images
    batch = int(getattr(scorer, "batch_size", 16))
    parts = []
    for start in range(0, len(images), batch):
        chunk = [to_rgb(image) for image in images[start : start + batch]]
        parts.append(np.asarray(embed(chunk).detach().cpu().numpy(), dtype=np.float64))
    out = np.concatenate(parts)
    return out / np.linalg.norm(out, axis=1, keepdims=True)


def _mean(values: Sequence[float]) -> float:
    finite = [v for v in values if not math.isnan(v)]
    return float(np.mean(finite)) if finite else math.nan


def score_generations(
    scorer: Any,
    rows: Sequence[Mapping[str, Any]],
    load_image: Callable[[str], bytes],
    entities: Mapping[str, Sequence[str]],
) -> list[dict[str, Any]]:
    """``evaluation_scores`` rows: one per (prompt, language, model) of ``rows``
    (``evaluation_generations`` rows), its images read by ``load_image(sha256)``.

    ``entities`` maps an entity id to its texts (``pack_entity_texts``); a prompt without an
    entity, or whose entity is unknown, has ``entity_relevance`` nan.
    """
    images = [open_image(load_image(row["sha256"])) for row in rows]
    text_sim = scorer.score(images, [[row["text"]] for row in rows])
    entity_lists = [list(entities.get(row["entity"] or "", ())) for row in rows]
    relevance = [math.nan] * len(rows)
    with_entity = [i for i, texts in enumerate(entity_lists) if texts]
    if with_entity:
        scored = scorer.score(
            [images[i] for i in with_entity], [entity_lists[i] for i in with_entity]
        )
        for i, value in zip(with_entity, scored, strict=True):
            relevance[i] = value
    embeddings = image_embeddings(scorer, images)

    groups: dict[tuple[str, str, str], list[int]] = {}
    for i, row in enumerate(rows):
        groups.setdefault((row["prompt_id"], row["language"], row["model"]), []).append(i)
    out = []
    for (prompt_id, language, model), members in groups.items():
        members.sort(key=lambda i: rows[i]["seed"])
        first = rows[members[0]]
        out.append(
            {
                "prompt_id": prompt_id,
                "category": first["category"],
                "entity": first["entity"],
                "language": language,
                "model": model,
                "images": len(members),
                "text_similarity": _mean([text_sim[i] for i in members]),
                "entity_relevance": _mean([relevance[i] for i in members]),
                "diversity": vendi_score(embeddings[members]),
                "image_text_similarity": [float(text_sim[i]) for i in members],
                "image_entity_relevance": [float(relevance[i]) for i in members],
            }
        )
    return out


def scores_table(rows: Sequence[Mapping[str, Any]]) -> pa.Table:
    return pa.Table.from_pylist(list(rows), schema=SCORES_SCHEMA)


def _per_prompt(
    rows: Sequence[Mapping[str, Any]], model: str, metric: str, languages: Sequence[str]
) -> dict[str, float]:
    """Per prompt, ``metric`` of ``model`` averaged over ``languages`` (nan where none)."""
    values: dict[str, list[float]] = {}
    for row in rows:
        if row["model"] == model and row["language"] in languages:
            values.setdefault(row["prompt_id"], []).append(float(row[metric]))
    return {k: _mean(v) for k, v in values.items()}


def compare(
    rows: Sequence[Mapping[str, Any]],
    *,
    base: str,
    tuned: str,
    metrics: Sequence[str] = METRICS,
    resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> list[dict[str, Any]]:
    """``evaluation_comparison`` rows: tuned minus base, per metric, per category (and ``all``),
    per language (``source``, ``english`` and ``all``, the mean of both per prompt), with a
    bootstrap interval from resampling prompts (seeded)."""
    categories = sorted({row["category"] for row in rows})
    out = []
    for metric in metrics:
        for category in [*categories, ALL]:
            subset = [r for r in rows if category == ALL or r["category"] == category]
            for language in [*LANGUAGES, ALL]:
                languages = LANGUAGES if language == ALL else (language,)
                b = _per_prompt(subset, base, metric, languages)
                t = _per_prompt(subset, tuned, metric, languages)
                diff = paired_difference(
                    b, t, resamples=resamples, confidence=confidence, seed=seed
                )
                shared = [k for k in b.keys() & t.keys()
                          if not (math.isnan(b[k]) or math.isnan(t[k]))]  # fmt: skip
                out.append(
                    {
                        "metric": metric,
                        "category": category,
                        "language": language,
                        "base_model": base,
                        "tuned_model": tuned,
                        "prompts": diff.n,
                        "base_mean": _mean([b[k] for k in shared]),
                        "tuned_mean": _mean([t[k] for k in shared]),
                        "difference": diff.mean,
                        "ci_low": diff.low,
                        "ci_high": diff.high,
                        "confidence": confidence,
                    }
                )
    return out


def comparison_table(rows: Sequence[Mapping[str, Any]]) -> pa.Table:
    return pa.Table.from_pylist(list(rows), schema=COMPARISON_SCHEMA)


@dataclass(frozen=True)
class ScoredRun:
    """One evaluation run's scores and comparison, and where both tables were written."""

    scores: list[dict[str, Any]]  # ``evaluation_scores`` rows: per (prompt, language, model)
    comparison: list[dict[str, Any]]  # ``evaluation_comparison`` rows (see ``compare``)
    scores_uri: str
    comparison_uri: str
    scores_schema: pa.Schema
    scorer: str  # the relevance scorer's model id (its class name when it has none)


def score_and_compare(
    store: Storage,
    relevance: Any,
    rows: Sequence[Mapping[str, Any]],
    entities: Mapping[str, Iterable[Entity]],
    *,
    resamples: int,
    seed: int,
) -> ScoredRun:
    """Score the generations ``rows`` with ``relevance`` against the pack's ``entities`` (by
    category), compare ``TUNED`` against ``BASE`` (``resamples`` bootstrap resamples, seeded),
    and write both tables, ``SCORES`` and ``COMPARISON``, to ``store``."""
    texts = pack_entity_texts(e for group in entities.values() for e in group)
    scores = score_generations(relevance, rows, store.get_blob, texts)
    table = scores_table(scores)
    scores_ref = store.write_table(SCORES, None, table)
    comparison = compare(scores, base=BASE, tuned=TUNED, resamples=resamples, seed=seed)
    comparison_ref = store.write_table(COMPARISON, None, comparison_table(comparison))
    return ScoredRun(
        scores=scores,
        comparison=comparison,
        scores_uri=scores_ref.uri,
        comparison_uri=comparison_ref.uri,
        scores_schema=table.schema,
        scorer=getattr(relevance, "model_id", type(relevance).__name__),
    )
