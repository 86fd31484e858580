"""Tiny randomly initialised transformers models, built from configs in code.

The ``tiny`` profile and the tests need models that behave like the real ones (same classes,
same processors, same ``from_pretrained`` loading path) but cost nothing to get: no download,
a few hundred kB of weights, tens of milliseconds per batch on a CPU. Each builder writes a
complete model folder (config, safetensors weights, processor and tokenizer files) with
``save_pretrained`` and returns its path; callers then load it exactly as they would load a
hub id, so the loading code of the ``full`` profile is what the tests exercise.

Builds are deterministic for a seed (weights from a seeded torch generator, an explicit
vocabulary rather than a trained one) and cached: a folder already built for the same recipe
is reused, within a process and across processes (under ``CRAFT_TINY_MODELS`` or the system
temp dir), so a test session or a demo run pays for each build once.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

TINY_MODELS_ENV = "CRAFT_TINY_MODELS"
"""Environment variable naming the folder tiny models are cached in."""

_RECIPE_VERSION = 1  # bump when a builder's output changes, so old cache folders are not reused
_LOCK = threading.Lock()

# The tokenizer's vocabulary: special tokens, then single characters. Characters rather than
# words or trained merges, so every Latin or Cyrillic string tokenizes without unknown tokens
# and the vocabulary is the same in every process (a trained Unigram/BPE need not be).
SPECIAL_TOKENS: tuple[str, ...] = ("<pad>", "<unk>", "<s>", "</s>")
_CHARACTERS: str = (
    "abcdefghijklmnopqrstuvwxyz"
    "абвгдеёжзийклмнопрстуфхцчшщъыьэюя"
    "іїєґўқңғүұһөә"  # Ukrainian, Belarusian and Kazakh letters, for other Cyrillic packs
    "0123456789"
    " .,;:!?'\"-()/&«»—№©"
)
TEXT_MAX_LENGTH = 32
"""Tokens per text of the tiny text models (SigLIP pads every text to this length)."""


def char_vocabulary() -> dict[str, int]:
    """The tiny tokenizer's vocabulary: token -> id, special tokens first."""
    tokens = [*SPECIAL_TOKENS, *dict.fromkeys(_CHARACTERS)]
    return {token: index for index, token in enumerate(tokens)}


def tiny_tokenizer(max_length: int = TEXT_MAX_LENGTH):  # -> PreTrainedTokenizerFast
    """A character-level fast tokenizer for Latin and Cyrillic text, lower-casing first.

    Built with ``tokenizers`` from an explicit vocabulary: NFKC and lower-case normalisation,
    one token per character (spaces included), ``</s>`` appended (SigLIP pools the last token).
    """
    from tokenizers import Tokenizer, normalizers, pre_tokenizers, processors
    from tokenizers.models import WordLevel
    from transformers import PreTrainedTokenizerFast

    vocabulary = char_vocabulary()
    tokenizer = Tokenizer(WordLevel(vocab=vocabulary, unk_token="<unk>"))
    tokenizer.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase()])
    # Split into single characters: the regex matches each one, kept as its own token.
    tokenizer.pre_tokenizer = pre_tokenizers.Split(pattern="", behavior="isolated")
    tokenizer.post_processor = processors.TemplateProcessing(
        single="$A </s>", special_tokens=[("</s>", vocabulary["</s>"])]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        pad_token="<pad>",
        unk_token="<unk>",
        bos_token="<s>",
        eos_token="</s>",
        model_max_length=max_length,
    )


def _cache_root() -> Path:
    configured = os.environ.get(TINY_MODELS_ENV)
    root = Path(configured) if configured else Path(tempfile.gettempdir()) / "craft_tiny_models"
    root.mkdir(parents=True, exist_ok=True)
    return root


def _built(name: str, recipe: dict[str, object], build: Callable[[Path], None]) -> Path:
    """The folder of the model ``recipe`` describes, building it first if it is not cached.

    A build goes to a temporary folder that is renamed into place when complete, so a killed
    build or two processes building at once never leave a half-written folder under the name.
    """
    import transformers

    recipe = {**recipe, "recipe_version": _RECIPE_VERSION, "transformers": transformers.__version__}
    key = hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:16]
    target = _cache_root() / f"{name}-{key}"
    with _LOCK:
        if (target / "config.json").is_file():
            return target
        partial = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=target.parent))
        try:
            build(partial)
            try:
                partial.rename(target)
            except OSError:
                # Another process finished the same build first: keep its folder.
                if not (target / "config.json").is_file():
                    raise
        finally:
            shutil.rmtree(partial, ignore_errors=True)
    return target


def _seeded(seed: int) -> None:
    import torch

    torch.manual_seed(seed)


def tiny_siglip(seed: int = 0) -> Path:
    """A folder holding a tiny random SigLIP (``SiglipModel``) with its processor.

    Two layers of width 32 on each side, 32x32 images in 8x8 patches, the character tokenizer
    above: a few hundred kB, loadable with ``AutoModel`` / ``AutoProcessor.from_pretrained``.
    """
    recipe = {"kind": "siglip", "seed": seed, "max_length": TEXT_MAX_LENGTH}

    def build(folder: Path) -> None:
        from transformers import (
            SiglipConfig,
            SiglipImageProcessor,
            SiglipModel,
            SiglipProcessor,
        )

        tokenizer = tiny_tokenizer()
        common = {
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
        }
        config = SiglipConfig(
            text_config={
                **common,
                "vocab_size": len(tokenizer),
                "max_position_embeddings": TEXT_MAX_LENGTH,
                "pad_token_id": tokenizer.pad_token_id,
                "bos_token_id": tokenizer.bos_token_id,
                "eos_token_id": tokenizer.eos_token_id,
            },
            vision_config={**common, "image_size": 32, "patch_size": 8},
        )
        _seeded(seed)
        model = SiglipModel(config).eval()
        image_processor = SiglipImageProcessor(size={"height": 32, "width": 32})
        processor = SiglipProcessor(image_processor=image_processor, tokenizer=tokenizer)
        model.save_pretrained(folder)
        processor.save_pretrained(folder)

    return _built("siglip", recipe, build)


def tiny_vit_classifier(labels: Sequence[str] = ("clean", "watermark"), seed: int = 0) -> Path:
    """A folder holding a tiny random ``ViTForImageClassification`` with its image processor.

    ``labels`` become ``config.id2label`` in order, as a real fine-tuned classifier has them.
    """
    labels = list(labels)
    if len(labels) < 2 or len(set(labels)) != len(labels):
        raise ValueError(f"a classifier needs two or more distinct labels, not {labels}")
    recipe = {"kind": "vit", "seed": seed, "labels": labels}

    def build(folder: Path) -> None:
        from transformers import ViTConfig, ViTForImageClassification, ViTImageProcessor

        config = ViTConfig(
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=2,
            image_size=32,
            patch_size=8,
            id2label=dict(enumerate(labels)),
            label2id={label: index for index, label in enumerate(labels)},
        )
        _seeded(seed)
        model = ViTForImageClassification(config).eval()
        model.save_pretrained(folder)
        ViTImageProcessor(size={"height": 32, "width": 32}).save_pretrained(folder)

    return _built("vit", recipe, build)
