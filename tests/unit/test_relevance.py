"""Cultural relevance scoring with a tiny random SigLIP loaded through from_pretrained."""

import io
import math

import numpy as np
import pytest
from PIL import Image

from craft_dag.curation.relevance import TransformersRelevanceScorer, tiny_relevance_scorer
from craft_dag.models.tiny import tiny_siglip, tiny_tokenizer

TEXTS = ["матрёшка", "Matryoshka doll", "русская деревянная кукла"]


@pytest.fixture(scope="module")
def scorer() -> TransformersRelevanceScorer:
    return tiny_relevance_scorer(seed=0)


def _photos(n: int, seed: int = 0) -> list[Image.Image]:
    rng = np.random.default_rng(seed)
    sizes = [(64, 48), (300, 200), (40, 90)]
    return [
        Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8))
        for w, h in (sizes[i % len(sizes)] for i in range(n))
    ]


def test_scores_are_finite_probabilities(scorer: TransformersRelevanceScorer) -> None:
    scores = scorer.score(_photos(5), [TEXTS] * 5)
    assert len(scores) == 5
    assert all(math.isfinite(s) and 0.0 <= s <= 1.0 for s in scores)
    assert scorer.kind == "sigmoid"  # SigLIP: the model's own match probability


def test_best_text_wins(scorer: TransformersRelevanceScorer) -> None:
    images = _photos(3)
    each = [scorer.score(images, [[text]] * 3) for text in TEXTS]
    best = scorer.score(images, [TEXTS] * 3)
    assert best == pytest.approx([max(column) for column in zip(*each, strict=True)], abs=1e-6)


def test_batches_equal_one_at_a_time() -> None:
    batched = TransformersRelevanceScorer(str(tiny_siglip(0)), batch_size=4, local_files_only=True)
    images, texts = _photos(6), [TEXTS, TEXTS[:1], ["другое"], TEXTS, ["x"], TEXTS[1:]]
    together = batched.score(images, texts)
    alone = [batched.score([image], [entry])[0] for image, entry in zip(images, texts, strict=True)]
    assert together == pytest.approx(alone, abs=1e-5)


def test_deterministic_for_a_seed(scorer: TransformersRelevanceScorer) -> None:
    images = _photos(3, seed=1)
    again = tiny_relevance_scorer(seed=0).score(images, [TEXTS] * 3)
    assert scorer.score(images, [TEXTS] * 3) == pytest.approx(again, abs=1e-6)
    other = tiny_relevance_scorer(seed=1).score(images, [TEXTS] * 3)
    assert other != pytest.approx(again, abs=1e-6)


def test_texts_are_encoded_once() -> None:
    fresh = tiny_relevance_scorer(seed=0)
    fresh.score(_photos(4), [TEXTS] * 4)
    assert fresh.text_encodings == len(TEXTS)
    fresh.score(_photos(4, seed=2), [TEXTS[:2], ["новый запрос"], TEXTS, TEXTS])
    assert fresh.text_encodings == len(TEXTS) + 1


def test_odd_modes_are_converted(scorer: TransformersRelevanceScorer) -> None:
    rgb = _photos(1)[0].resize((64, 64))
    palette = rgb.quantize(16)
    palette.info["transparency"] = 0
    wide = Image.fromarray(np.asarray(rgb.convert("L"), dtype=np.uint16) * 257)
    images = [palette, rgb.convert("RGBA"), wide, rgb.convert("CMYK"), rgb.convert("L")]
    assert [image.mode for image in images] == ["P", "RGBA", "I;16", "CMYK", "L"]
    scores = scorer.score(images, [TEXTS] * len(images))
    assert all(math.isfinite(s) for s in scores)
    # A 16-bit image scores as its 8-bit version: it was scaled, not clipped to white.
    assert scores[2] == pytest.approx(scorer.score([rgb.convert("L")], [TEXTS])[0], abs=1e-5)


def test_broken_image_is_recorded_not_raised(scorer: TransformersRelevanceScorer) -> None:
    buffer = io.BytesIO()
    Image.effect_noise((200, 150), 60).convert("RGB").save(buffer, "JPEG")
    data = buffer.getvalue()
    broken = Image.open(io.BytesIO(data[: len(data) // 2]))
    before = scorer.failures
    scores = scorer.score([_photos(1)[0], broken], [TEXTS, TEXTS])
    assert math.isfinite(scores[0]) and math.isnan(scores[1])
    assert scorer.failures == before + 1


def test_bad_arguments(scorer: TransformersRelevanceScorer) -> None:
    with pytest.raises(ValueError, match="2 images but 1"):
        scorer.score(_photos(2), [TEXTS])
    with pytest.raises(TypeError, match="sequence of strings"):
        scorer.score(_photos(1), ["матрёшка"])
    assert math.isnan(scorer.score(_photos(1), [[]])[0])


def test_tokenizer_handles_cyrillic_and_latin() -> None:
    tokenizer = tiny_tokenizer()
    ids = tokenizer(["Ёлка Tree", "ёлка tree"])["input_ids"]
    assert ids[0] == ids[1]  # lower-cased
    assert tokenizer.unk_token_id not in ids[0]
