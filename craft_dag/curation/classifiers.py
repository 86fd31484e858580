"""Pluggable model-based image classifiers (watermark, NSFW) for the ``full`` profile.

OCR finds text, but not every watermark is legible text (logos, faint patterns), and nothing
in the CPU metrics says an image is unsafe for a training set. Any fine-tuned image
classification checkpoint that ``transformers`` loads with ``AutoModelForImageClassification``
can fill those gaps; the pipeline only needs the probability of the positive class(es).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Protocol

from PIL import Image

from craft_dag.imaging.decode import ImageRejected
from craft_dag.models import to_rgb

DEFAULT_NSFW_MODEL = "Falconsai/nsfw_image_detection"
"""ViT-base fine-tuned for NSFW detection; Apache-2.0; labels ``normal`` and ``nsfw``."""
DEFAULT_NSFW_LABELS: tuple[str, ...] = ("nsfw",)

DEFAULT_WATERMARK_MODEL = "amrul-hzz/watermark_detector"
"""ViT-base (from ``google/vit-base-patch16-224-in21k``) fine-tuned to detect watermarks.

Its licence is not stated on its model card: check it before relying on it. Other watermark
detectors people use (LAION's ``boomb0om/watermark-detectors``, BSD-3-Clause, and
``qwertyforce/watermark_detection``, CC-BY-SA-4.0) are timm/PyTorch checkpoints that
``AutoModelForImageClassification`` does not load.
"""
DEFAULT_WATERMARK_LABELS: tuple[str, ...] = ("watermark",)


class ImageClassifier(Protocol):
    """Scores images for one property (watermarked, unsafe, ...)."""

    def score(self, images: Sequence[Image.Image]) -> list[float]:
        """The probability of the positive class for each image, in ``[0, 1]`` (or ``nan``)."""
        ...


class TransformersImageClassifier:
    """An image classification checkpoint from ``transformers``, by hub id or local folder.

    ``positive_labels`` name the classes that count as positive (matched case-insensitively
    against ``config.id2label``); the score is the softmax probability summed over them, so a
    model with several unsafe classes gives one number. An image that cannot be read scores
    ``nan`` and ``failures`` counts it, so one broken file never fails a batch.
    """

    def __init__(
        self,
        model: str,
        positive_labels: Sequence[str],
        device: str = "cpu",
        batch_size: int = 16,
        *,
        revision: str | None = None,
        local_files_only: bool = False,
    ) -> None:
        import torch
        from transformers import AutoImageProcessor, AutoModelForImageClassification

        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, not {batch_size}")
        if isinstance(positive_labels, str) or not positive_labels:
            raise ValueError("positive_labels must be a non-empty sequence of label names")
        self.model_id = model
        self.device = device
        self.batch_size = batch_size
        options = {"revision": revision, "local_files_only": local_files_only}
        self._processor = AutoImageProcessor.from_pretrained(model, **options)
        self._model = (
            AutoModelForImageClassification.from_pretrained(model, **options).to(device).eval()
        )
        self._torch = torch
        self.positive_indices = positive_label_indices(self._model.config.id2label, positive_labels)
        self.failures = 0

    @property
    def labels(self) -> dict[int, str]:
        """The model's classes, ``config.id2label``."""
        return {int(index): label for index, label in self._model.config.id2label.items()}

    def score(self, images: Sequence[Image.Image]) -> list[float]:
        """Probability of the positive class(es) per image; ``nan`` for an unreadable image."""
        scores: list[float] = []
        for start in range(0, len(images), self.batch_size):
            scores.extend(self._score_batch(images[start : start + self.batch_size]))
        return scores

    def _score_batch(self, images: Sequence[Image.Image]) -> list[float]:
        torch = self._torch
        rgb: list[Image.Image | None] = []
        for image in images:
            try:
                rgb.append(to_rgb(image))
            except ImageRejected:
                self.failures += 1
                rgb.append(None)
        readable = [image for image in rgb if image is not None]
        probabilities: list[float] = []
        if readable:
            inputs = self._processor(images=readable, return_tensors="pt").to(self.device)
            with torch.inference_mode():
                logits = self._model(pixel_values=inputs["pixel_values"]).logits.float()
            positive = logits.softmax(dim=-1)[:, list(self.positive_indices)].sum(dim=-1)
            probabilities = positive.tolist()
        found = iter(probabilities)
        return [math.nan if image is None else next(found) for image in rgb]


def positive_label_indices(
    id2label: dict[int, str] | dict[str, str], positive_labels: Sequence[str]
) -> tuple[int, ...]:
    """Class indices of ``positive_labels`` in ``id2label``, case-insensitively.

    Raises ValueError naming the model's labels when one is absent: a wrong label name would
    otherwise silently score every image 0.
    """
    by_name = {str(label).casefold(): int(index) for index, label in id2label.items()}
    missing = [label for label in positive_labels if label.casefold() not in by_name]
    if missing:
        known = ", ".join(repr(label) for _, label in sorted(id2label.items(), key=_index))
        raise ValueError(f"label(s) {missing} not among the model's labels: {known}")
    return tuple(sorted({by_name[label.casefold()] for label in positive_labels}))


def _index(item: tuple[int | str, str]) -> int:
    return int(item[0])


def tiny_image_classifier(
    labels: Sequence[str] = ("clean", "watermark"), seed: int = 0
) -> TransformersImageClassifier:
    """A classifier over a tiny random ViT (``craft_dag.models.tiny``) for the ``tiny`` profile.

    The last label is the positive one. Scores mean nothing; they are finite and deterministic
    for ``seed``, and the model loads through the same ``from_pretrained`` path as a real one.
    """
    from craft_dag.models.tiny import tiny_vit_classifier

    labels = tuple(labels)
    return TransformersImageClassifier(
        str(tiny_vit_classifier(labels, seed)), labels[-1:], local_files_only=True
    )
