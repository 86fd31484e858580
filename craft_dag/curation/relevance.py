"""Cultural relevance: how well an image matches its entity's names and web queries.

The CRAFT paper keeps an image only if it shows the entity it was collected for; a web search
for "матрёшка" also returns shop fronts, people and unrelated pictures. A CLIP-family
image-text model scores that cheaply: the image against every text of its entity (native and
English names, aliases, the queries it was found with), and the best match is the score.

Texts are in the pack's source language as well as English, so the ``full`` profile's model
is a multilingual one (see ``DEFAULT_RELEVANCE_MODEL``). Text embeddings never change during
a run, and a category has hundreds of images per entity but only a handful of texts, so the
scorer encodes each text once and keeps it (per model, in the scorer).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Protocol

from PIL import Image

from craft_dag.imaging.decode import ImageRejected
from craft_dag.models import to_rgb

DEFAULT_RELEVANCE_MODEL = "google/siglip-base-patch16-256-multilingual"
"""The ``full`` profile's relevance model.

SigLIP base, 256 px, trained on the multilingual WebLI (Apache-2.0, ~1.5 GB): its text tower
and its 250k-token SentencePiece vocabulary were trained on many languages, Russian among
them, so native-language names and queries are scored directly, with no translation step in
front. SigLIP 2 (``google/siglip2-base-patch16-224``, also multilingual) is a drop-in
alternative through the same ``AutoModel`` path; the first SigLIP was chosen as the default
because its multilingual checkpoint is the one documented and evaluated as multilingual.
English-only CLIP checkpoints (``openai/clip-vit-base-patch32``) also load, but score
Cyrillic text poorly.
"""


class RelevanceScorer(Protocol):
    """Scores each image against its own list of texts."""

    def score(self, images: Sequence[Image.Image], texts: Sequence[Sequence[str]]) -> list[float]:
        """For image ``i``, its best similarity to any of ``texts[i]`` (see the scorer's range)."""
        ...


class TransformersRelevanceScorer:
    """A CLIP or SigLIP model from ``transformers``, loaded by hub id or local folder.

    Scores are in ``[0, 1]``, higher is more relevant:

    * SigLIP (a model with ``logit_bias``): the model's own pairwise match probability,
      ``sigmoid(cos * exp(logit_scale) + logit_bias)``, as SigLIP was trained to output;
    * CLIP (softmax-trained, no calibrated single-pair probability): ``(cos + 1) / 2``.

    An image that cannot be read scores ``nan`` (and ``failures`` counts it), so one broken
    file is a recorded result in its row rather than a failed batch; an image with no texts
    scores ``nan`` too. ``text_encodings`` counts the texts actually run through the text
    tower, which the per-scorer cache keeps to one per distinct text.
    """

    def __init__(
        self,
        model: str = DEFAULT_RELEVANCE_MODEL,
        device: str = "cpu",
        batch_size: int = 16,
        *,
        revision: str | None = None,
        local_files_only: bool = False,
    ) -> None:
        import torch
        from transformers import AutoModel, AutoProcessor

        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, not {batch_size}")
        self.model_id = model
        self.device = device
        self.batch_size = batch_size
        options = {"revision": revision, "local_files_only": local_files_only}
        self._processor = AutoProcessor.from_pretrained(model, **options)
        self._model = AutoModel.from_pretrained(model, **options).to(device).eval()
        if not hasattr(self._model, "get_image_features") or not hasattr(
            self._model, "get_text_features"
        ):
            raise ValueError(
                f"{model} ({type(self._model).__name__}) is not an image-text model: "
                "a CLIP- or SigLIP-family checkpoint is needed"
            )
        self._torch = torch
        self._sigmoid = hasattr(self._model, "logit_bias")
        # Plain floats, read once: the learnt temperature and bias are constants at inference.
        self._logit_scale = float(self._model.logit_scale.detach().exp())
        self._logit_bias = float(self._model.logit_bias.detach()[0]) if self._sigmoid else 0.0
        # SigLIP was trained on texts padded to the full length; CLIP pads to the longest.
        self._padding = "max_length" if self._sigmoid else True
        self._text_cache: dict[str, object] = {}  # text -> normalised embedding (1-D tensor)
        self.text_encodings = 0
        self.failures = 0

    @property
    def kind(self) -> str:
        """``"sigmoid"`` (SigLIP's probability) or ``"cosine"`` (CLIP, mapped to 0..1)."""
        return "sigmoid" if self._sigmoid else "cosine"

    def score(self, images: Sequence[Image.Image], texts: Sequence[Sequence[str]]) -> list[float]:
        """For image ``i``, its best score against ``texts[i]``, in ``[0, 1]`` (or ``nan``)."""
        if len(images) != len(texts):
            raise ValueError(f"{len(images)} images but {len(texts)} lists of texts")
        for entry in texts:
            if isinstance(entry, str):
                raise TypeError("texts[i] must be a sequence of strings, not one string")
        self._encode_texts({text for entry in texts for text in entry})
        scores: list[float] = []
        for start in range(0, len(images), self.batch_size):
            batch = images[start : start + self.batch_size]
            scores.extend(self._score_batch(batch, texts[start : start + len(batch)]))
        return scores

    def _score_batch(
        self, images: Sequence[Image.Image], texts: Sequence[Sequence[str]]
    ) -> list[float]:
        rgb: list[Image.Image | None] = []
        for image in images:
            try:
                rgb.append(to_rgb(image))
            except ImageRejected:
                self.failures += 1
                rgb.append(None)
        readable = [image for image in rgb if image is not None]
        embeddings = iter(self.embed_images(readable) if readable else [])
        results: list[float] = []
        for image, entry in zip(rgb, texts, strict=True):
            if image is None:
                results.append(math.nan)
                continue
            embedding = next(embeddings)
            if not entry:
                results.append(math.nan)
                continue
            text_matrix = self._torch.stack([self._text_cache[text] for text in entry])
            cosine = float((text_matrix @ embedding).max())
            if self._sigmoid:
                value = 1 / (1 + math.exp(-(cosine * self._logit_scale + self._logit_bias)))
            else:
                value = (cosine + 1) / 2
            results.append(value)
        return results

    def embed_images(self, images: list[Image.Image]):  # -> torch.Tensor (n, dim)
        """L2-normalised image embeddings of RGB images (the evaluation's diversity uses them)."""
        torch = self._torch
        inputs = self._processor(images=images, return_tensors="pt").to(self.device)
        with torch.inference_mode():
            features = _pooled(self._model.get_image_features(pixel_values=inputs.pixel_values))
        return torch.nn.functional.normalize(features.float(), dim=-1)

    def _encode_texts(self, texts: set[str]) -> None:
        """Encode the texts not yet cached, in batches, and cache their normalised embeddings."""
        torch = self._torch
        missing = sorted(text for text in texts if text not in self._text_cache)
        for start in range(0, len(missing), self.batch_size):
            chunk = missing[start : start + self.batch_size]
            inputs = self._processor(
                text=chunk, padding=self._padding, truncation=True, return_tensors="pt"
            ).to(self.device)
            arguments = {"input_ids": inputs["input_ids"]}
            if "attention_mask" in inputs and not self._sigmoid:
                # SigLIP was trained without an attention mask (all positions attend).
                arguments["attention_mask"] = inputs["attention_mask"]
            with torch.inference_mode():
                features = _pooled(self._model.get_text_features(**arguments))
            features = torch.nn.functional.normalize(features.float(), dim=-1)
            for text, embedding in zip(chunk, features, strict=True):
                self._text_cache[text] = embedding
            self.text_encodings += len(chunk)


def _pooled(output: object):  # -> torch.Tensor
    """The embedding from ``get_*_features``: a tensor before transformers 5, an output after."""
    pooled = getattr(output, "pooler_output", None)
    return output if pooled is None else pooled


def tiny_relevance_scorer(seed: int = 0) -> TransformersRelevanceScorer:
    """A relevance scorer over a tiny random SigLIP (``craft_dag.models.tiny``), for ``tiny``.

    Its scores mean nothing about relevance; they are finite, deterministic for ``seed`` and
    cost tens of milliseconds a batch, and the model is loaded through the same
    ``from_pretrained`` path as the ``full`` profile's.
    """
    from craft_dag.models.tiny import tiny_siglip

    return TransformersRelevanceScorer(str(tiny_siglip(seed)), local_files_only=True)
