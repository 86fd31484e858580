"""Pluggable image classifiers, exercised with a tiny random ViT loaded via from_pretrained."""

import io
import math

import numpy as np
import pytest
from PIL import Image

from craft_dag.curation.classifiers import (
    TransformersImageClassifier,
    positive_label_indices,
    tiny_image_classifier,
)
from craft_dag.models.tiny import tiny_vit_classifier


@pytest.fixture(scope="module")
def classifier() -> TransformersImageClassifier:
    return tiny_image_classifier(seed=0)


def _photos(n: int, seed: int = 0) -> list[Image.Image]:
    rng = np.random.default_rng(seed)
    return [
        Image.fromarray(rng.integers(0, 256, (48 + 8 * i, 64, 3), dtype=np.uint8)) for i in range(n)
    ]


def test_scores_are_probabilities(classifier: TransformersImageClassifier) -> None:
    scores = classifier.score(_photos(5))
    assert len(scores) == 5 and all(0.0 <= s <= 1.0 for s in scores)
    assert classifier.labels == {0: "clean", 1: "watermark"}
    assert classifier.positive_indices == (1,)


def test_batches_equal_one_at_a_time() -> None:
    batched = TransformersImageClassifier(
        str(tiny_vit_classifier()), ["watermark"], batch_size=2, local_files_only=True
    )
    images = _photos(5)
    alone = [batched.score([image])[0] for image in images]
    assert batched.score(images) == pytest.approx(alone, abs=1e-5)


def test_deterministic_for_a_seed(classifier: TransformersImageClassifier) -> None:
    images = _photos(3, seed=3)
    assert classifier.score(images) == pytest.approx(
        tiny_image_classifier(seed=0).score(images), abs=1e-6
    )
    assert tiny_image_classifier(seed=1).score(images) != pytest.approx(
        classifier.score(images), abs=1e-6
    )


def test_positive_labels_sum() -> None:
    many = tiny_image_classifier(labels=("normal", "nsfw", "hentai"), seed=0)
    assert many.positive_indices == (2,)  # the last label, by default
    both = TransformersImageClassifier(
        str(tiny_vit_classifier(("normal", "nsfw", "hentai"))),
        ["NSFW", "hentai"],
        local_files_only=True,
    )
    normal = TransformersImageClassifier(
        str(tiny_vit_classifier(("normal", "nsfw", "hentai"))), ["normal"], local_files_only=True
    )
    images = _photos(3)
    total = [a + b for a, b in zip(both.score(images), normal.score(images), strict=True)]
    assert total == pytest.approx([1.0] * 3, abs=1e-5)


def test_unknown_label_lists_the_models_labels() -> None:
    with pytest.raises(
        ValueError, match=r"\['nsfw'\] not among the model's labels: 'clean', 'watermark'"
    ):
        positive_label_indices({0: "clean", 1: "watermark"}, ["nsfw"])
    with pytest.raises(ValueError, match="not among"):
        TransformersImageClassifier(str(tiny_vit_classifier()), ["nsfw"], local_files_only=True)


def test_odd_and_broken_images(classifier: TransformersImageClassifier) -> None:
    rgb = _photos(1)[0]
    wide = Image.fromarray(np.asarray(rgb.convert("L"), dtype=np.uint16) * 257)
    buffer = io.BytesIO()
    Image.effect_noise((200, 150), 60).convert("RGB").save(buffer, "JPEG")
    data = buffer.getvalue()
    broken = Image.open(io.BytesIO(data[: len(data) // 2]))
    images = [rgb.convert("CMYK"), rgb.quantize(8), rgb.convert("LA"), wide, broken]
    before = classifier.failures
    scores = classifier.score(images)
    assert all(math.isfinite(s) for s in scores[:4]) and math.isnan(scores[4])
    assert classifier.failures == before + 1
