"""Automatic scores with the tiny relevance scorer: finite, in range, compared with CIs."""

import io
import math

import pytest
from PIL import Image

from craft_dag.catalog.pack import bundled_pack_path, load_pack
from craft_dag.curation.relevance import tiny_relevance_scorer
from craft_dag.evaluation.scores import (
    ALL,
    COMPARISON,
    SCORES,
    compare,
    comparison_table,
    image_embeddings,
    pack_entity_texts,
    score_and_compare,
    score_generations,
    scores_table,
)
from craft_dag.storage import Storage


def png(colour: tuple[int, int, int], noise: int = 0) -> bytes:
    image = Image.new("RGB", (64, 64), colour)
    if noise:
        image.putpixel((noise, noise), (255 - colour[0], 0, 0))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


@pytest.fixture(scope="module")
def scorer():
    return tiny_relevance_scorer()


def fake_rows(prompts) -> tuple[list[dict], dict[str, bytes]]:
    """Two prompts, two languages, two models, two seeds; base images a flat colour (no
    diversity), tuned images two different colours."""
    rows, blobs = [], {}
    for p in prompts:
        for language, text in (("source", p.source), ("english", p.english)):
            for model in ("base", "tuned"):
                for seed in (0, 1):
                    data = png((10, 120, 200)) if model == "base" else png((90 * seed, 30, 60))
                    sha = f"{len(blobs):064x}"
                    blobs[sha] = data
                    rows.append({"prompt_id": p.id, "category": p.category, "entity": p.entity,
                                 "language": language, "text": text, "model": model,
                                 "seed": seed, "sha256": sha})  # fmt: skip
    return rows, blobs


def test_scores_are_finite_and_in_range(scorer) -> None:
    pack = load_pack(bundled_pack_path("ru"))
    prompts = [p for p in pack.prompts if p.entity][:2]
    entities = pack_entity_texts(e for group in pack.entities.values() for e in group)
    assert all(p.entity in entities for p in prompts)
    rows, blobs = fake_rows(prompts)
    scores = score_generations(scorer, rows, blobs.__getitem__, entities)
    assert len(scores) == 2 * 2 * 2
    for row in scores:
        assert row["images"] == 2
        for metric in ("text_similarity", "entity_relevance"):
            assert 0.0 <= row[metric] <= 1.0
        assert 1.0 - 1e-6 <= row["diversity"] <= 2.0 + 1e-6
    base = [r for r in scores if r["model"] == "base"]
    tuned = [r for r in scores if r["model"] == "tuned"]
    assert all(r["diversity"] == pytest.approx(1.0) for r in base)  # identical images
    assert all(r["diversity"] > 1.0 for r in tuned)
    assert scores_table(scores).num_rows == 8

    comparison = compare(scores, base="base", tuned="tuned", resamples=200, seed=3)
    assert comparison == compare(scores, base="base", tuned="tuned", resamples=200, seed=3)
    overall = {(r["metric"], r["language"]): r for r in comparison if r["category"] == ALL}
    diversity = overall[("diversity", ALL)]
    assert diversity["prompts"] == 2 and diversity["difference"] > 0
    assert diversity["ci_low"] <= diversity["difference"] <= diversity["ci_high"]
    for row in comparison:
        assert math.isfinite(row["difference"])
    assert comparison_table(comparison).num_rows == len(comparison)


def test_prompt_without_entity_has_no_entity_relevance(scorer) -> None:
    rows = [{"prompt_id": "p", "category": "c", "entity": None, "language": "english",
             "text": "a red square", "model": "base", "seed": s, "sha256": str(s)}
            for s in (0, 1)]  # fmt: skip
    blobs = {"0": png((200, 0, 0)), "1": png((0, 0, 200))}
    [row] = score_generations(scorer, rows, blobs.__getitem__, {})
    assert math.isnan(row["entity_relevance"]) and math.isfinite(row["text_similarity"])


def test_image_embeddings_are_normalised(scorer) -> None:
    images = [Image.new("RGB", (32, 32), (i * 60, 0, 0)) for i in range(3)]
    emb = image_embeddings(scorer, images)
    assert emb.shape[0] == 3
    assert (abs((emb**2).sum(axis=1) - 1) < 1e-6).all()


def test_score_and_compare_writes_both_tables(tmp_path, scorer) -> None:
    store = Storage(str(tmp_path))
    pack = load_pack(bundled_pack_path("ru"))
    rows, blobs = fake_rows([p for p in pack.prompts if p.entity][:2])
    stored = {sha: store.put_blob(data) for sha, data in blobs.items()}
    rows = [{**r, "sha256": stored[r["sha256"]]} for r in rows]
    entities = pack_entity_texts(e for group in pack.entities.values() for e in group)

    scored = score_and_compare(store, scorer, rows, pack.entities, resamples=50, seed=3)
    assert scored.scores == score_generations(scorer, rows, store.get_blob, entities)
    assert scored.comparison == compare(
        scored.scores, base="base", tuned="tuned", resamples=50, seed=3
    )
    assert store.read_table(SCORES).to_pylist() == scores_table(scored.scores).to_pylist()
    assert store.read_table(COMPARISON).num_rows == len(scored.comparison)
    assert SCORES in scored.scores_uri and COMPARISON in scored.comparison_uri
    assert scored.scores_schema == scores_table(scored.scores).schema
    assert scored.scorer == getattr(scorer, "model_id", type(scorer).__name__)
