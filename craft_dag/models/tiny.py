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

import json
from collections.abc import Sequence
from pathlib import Path

from craft_dag.models.tiny_cache import TINY_MODELS_ENV as TINY_MODELS_ENV
from craft_dag.models.tiny_cache import _built, _seeded
from craft_dag.models.tiny_tokenizers import _CHAT_SPECIALS
from craft_dag.models.tiny_tokenizers import MARIAN_MAX_LENGTH as MARIAN_MAX_LENGTH
from craft_dag.models.tiny_tokenizers import SPECIAL_TOKENS as SPECIAL_TOKENS
from craft_dag.models.tiny_tokenizers import TEXT_MAX_LENGTH as TEXT_MAX_LENGTH
from craft_dag.models.tiny_tokenizers import char_vocabulary as char_vocabulary
from craft_dag.models.tiny_tokenizers import tiny_chat_tokenizer as tiny_chat_tokenizer
from craft_dag.models.tiny_tokenizers import tiny_tokenizer as tiny_tokenizer
from craft_dag.models.tiny_tokenizers import (
    tiny_translation_tokenizer as tiny_translation_tokenizer,
)


def tiny_siglip(seed: int = 0) -> Path:
    """A folder holding a tiny random SigLIP (``SiglipModel``) with its processor.

    Two layers of width 32 on each side, 32x32 images in 8x8 patches, the character tokenizer
    (``tiny_tokenizer``): a few hundred kB, loadable with ``AutoModel`` /
    ``AutoProcessor.from_pretrained``.
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


# The tiny LLaVA-NeXT's chat template: ChatML, the format of llava-v1.6-34b-hf (the ``full``
# profile's captioner), images rendered as the processor's ``<image>`` placeholder before the
# text, as the real template does.
LLAVA_CHAT_TEMPLATE = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' }}"
    "{% if message['content'] is string %}{{ message['content'] }}{% else %}"
    "{% for part in message['content'] if part['type'] == 'image' %}{{ '<image>\\n' }}{% endfor %}"
    "{% for part in message['content'] if part['type'] == 'text' %}{{ part['text'] }}{% endfor %}"
    "{% endif %}{{ '<|im_end|>\\n' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)
_LLAVA_SIZE = 32  # the vision tower's input: 32x32 crops in 8x8 patches, 16 features a crop
_LLAVA_PATCH = 8
_LLAVA_GRID = [[32, 32], [32, 64], [64, 32], [64, 64]]  # at most 4 crops + the overview


def tiny_llava_next(seed: int = 0) -> Path:
    """A folder holding a tiny random LLaVA-NeXT (``LlavaNextForConditionalGeneration``).

    The architecture of the ``full`` profile's captioner at toy size: a 2-layer CLIP vision tower
    (32x32 crops, 8x8 patches), the LLaVA-NeXT projector and any-resolution tiling (up to 2x2
    crops), a 2-layer Llama of width 32, and a ``LlavaNextProcessor`` with the PIL image
    processor (torchvision is not a dependency), ``tiny_chat_tokenizer`` and a ChatML chat
    template. Weights are drawn wider than the default (``initializer_range`` 0.3) so that the
    output depends on the image: with the default 0.02 every image gets the same noise, and a
    test could not tell one caption from another. Loads with ``AutoProcessor`` and
    ``AutoModelForImageTextToText.from_pretrained``; about 230 kB.
    """
    recipe = {
        "kind": "llava_next",
        "seed": seed,
        "template": LLAVA_CHAT_TEMPLATE,
        "specials": list(_CHAT_SPECIALS),
    }

    def build(folder: Path) -> None:
        from transformers import (
            LlavaNextConfig,
            LlavaNextForConditionalGeneration,
            LlavaNextImageProcessorPil,
            LlavaNextProcessor,
        )

        tokenizer = tiny_chat_tokenizer()
        common = {
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
            "initializer_range": 0.3,
        }
        config = LlavaNextConfig(
            vision_config={
                "model_type": "clip_vision_model",
                **common,
                "image_size": _LLAVA_SIZE,
                "patch_size": _LLAVA_PATCH,
                "projection_dim": 32,
            },
            text_config={
                "model_type": "llama",
                **common,
                "num_key_value_heads": 2,
                "vocab_size": len(tokenizer),
                "max_position_embeddings": 4096,
                "pad_token_id": tokenizer.pad_token_id,
                "bos_token_id": tokenizer.bos_token_id,
                "eos_token_id": tokenizer.eos_token_id,
            },
            image_token_index=tokenizer.convert_tokens_to_ids("<image>"),
            image_grid_pinpoints=_LLAVA_GRID,
            vision_feature_layer=-2,
            vision_feature_select_strategy="default",
            image_seq_length=(_LLAVA_SIZE // _LLAVA_PATCH) ** 2,
            tie_word_embeddings=False,
        )
        _seeded(seed)
        model = LlavaNextForConditionalGeneration(config).eval()
        image_processor = LlavaNextImageProcessorPil(
            size={"shortest_edge": _LLAVA_SIZE},
            crop_size={"height": _LLAVA_SIZE, "width": _LLAVA_SIZE},
            image_grid_pinpoints=_LLAVA_GRID,
        )
        processor = LlavaNextProcessor(
            image_processor=image_processor,
            tokenizer=tokenizer,
            patch_size=_LLAVA_PATCH,
            vision_feature_select_strategy="default",
            chat_template=LLAVA_CHAT_TEMPLATE,
            num_additional_image_tokens=1,  # CLIP's CLS token, dropped by the "default" strategy
        )
        model.save_pretrained(folder)
        processor.save_pretrained(folder)

    return _built("llava_next", recipe, build)


def tiny_marian(seed: int = 0) -> Path:
    """A folder holding a tiny random ``MarianMTModel`` with its tokenizer.

    The architecture of ``Helsinki-NLP/opus-mt-ru-en`` at toy size: 2 encoder and 2 decoder
    layers of width 32, sinusoidal positions up to ``MARIAN_MAX_LENGTH``, shared embeddings,
    ``tiny_translation_tokenizer``. Weights are drawn wider than the default (``init_std`` 0.3):
    with 0.02 every input decodes to the same empty string, and a test could not tell that
    outputs follow their inputs. Loads with ``AutoTokenizer`` and
    ``AutoModelForSeq2SeqLM.from_pretrained``; about 100 kB.
    """
    recipe = {"kind": "marian", "seed": seed, "max_length": MARIAN_MAX_LENGTH}

    def build(folder: Path) -> None:
        from transformers import GenerationConfig, MarianConfig, MarianMTModel

        tokenizer = tiny_translation_tokenizer()
        config = MarianConfig(
            vocab_size=len(tokenizer),
            d_model=32,
            encoder_layers=2,
            decoder_layers=2,
            encoder_attention_heads=2,
            decoder_attention_heads=2,
            encoder_ffn_dim=64,
            decoder_ffn_dim=64,
            max_position_embeddings=MARIAN_MAX_LENGTH,
            pad_token_id=tokenizer.pad_token_id,
            eos_token_id=tokenizer.eos_token_id,
            decoder_start_token_id=tokenizer.pad_token_id,
            init_std=0.3,
        )
        _seeded(seed)
        model = MarianMTModel(config).eval()
        model.generation_config = GenerationConfig(
            pad_token_id=tokenizer.pad_token_id,
            eos_token_id=tokenizer.eos_token_id,
            decoder_start_token_id=tokenizer.pad_token_id,
            forced_eos_token_id=tokenizer.eos_token_id,
        )
        model.save_pretrained(folder)
        tokenizer.save_pretrained(folder)

    return _built("marian", recipe, build)


KANDINSKY3_TEXT_MAX_LENGTH = 128
"""Tokens per caption of the tiny Kandinsky 3: what ``Kandinsky3Pipeline`` pads prompts to."""


def tiny_kandinsky3(seed: int = 0) -> Path:
    """A folder holding a tiny random Kandinsky 3 in diffusers' pipeline layout.

    ``model_index.json`` plus the five subfolders ``Kandinsky3Pipeline.from_pretrained`` reads,
    at toy size and of the real classes: ``unet/`` a ``Kandinsky3UNet`` (four levels like the
    real one, so latents must divide by 8; widths 16-32, two blocks per level), ``text_encoder/``
    a 2-layer gated-GELU ``T5EncoderModel`` of width 32 (Flan-UL2's family), ``tokenizer/`` the
    character tokenizer padded to 128 tokens, ``movq/`` a spatially normalised ``VQModel`` with
    four levels (8x downsampling, as MoVQ: 64x64 images give 8x8 latents) and ``scheduler/`` a
    1000-step linear ``DDPMScheduler`` predicting the noise. Each part also loads alone with
    ``from_pretrained(folder, subfolder=...)``, the path the trainer takes for the real model.
    About 2 MB.
    """
    import diffusers

    recipe = {
        "kind": "kandinsky3",
        "seed": seed,
        "max_length": KANDINSKY3_TEXT_MAX_LENGTH,
        "diffusers": diffusers.__version__,
    }

    def build(folder: Path) -> None:
        from diffusers import DDPMScheduler, Kandinsky3Pipeline, Kandinsky3UNet, VQModel
        from transformers import T5Config, T5EncoderModel

        tokenizer = tiny_tokenizer(max_length=KANDINSKY3_TEXT_MAX_LENGTH)
        _seeded(seed)
        text_encoder = T5EncoderModel(
            T5Config(
                vocab_size=len(tokenizer),
                d_model=32,
                d_kv=8,
                d_ff=64,
                num_layers=2,
                num_heads=4,
                relative_attention_num_buckets=8,
                feed_forward_proj="gated-gelu",
                pad_token_id=tokenizer.pad_token_id,
                eos_token_id=tokenizer.eos_token_id,
                decoder_start_token_id=tokenizer.pad_token_id,
            )
        ).eval()
        unet = Kandinsky3UNet(
            in_channels=4,
            time_embedding_dim=32,
            groups=4,
            attention_head_dim=8,
            layers_per_block=2,  # the up blocks need two: one alone never reaches out_channels
            block_out_channels=(16, 32, 32, 32),
            cross_attention_dim=32,
            encoder_hid_dim=32,
        )
        movq = VQModel(
            in_channels=3,
            out_channels=3,
            down_block_types=("DownEncoderBlock2D",) * 3 + ("AttnDownEncoderBlock2D",),
            up_block_types=("AttnUpDecoderBlock2D",) + ("UpDecoderBlock2D",) * 3,
            # SpatialNorm (the decoder's MoVQ normalisation) always uses 32 groups.
            block_out_channels=(32, 32, 32, 32),
            layers_per_block=1,
            latent_channels=4,
            vq_embed_dim=4,
            num_vq_embeddings=64,
            norm_num_groups=8,
            norm_type="spatial",
            sample_size=64,
        ).eval()
        # Kandinsky 3's own schedule: 1000 linear betas from 1e-4 to 0.02, noise prediction.
        scheduler = DDPMScheduler(
            num_train_timesteps=1000,
            beta_schedule="linear",
            beta_start=0.0001,
            beta_end=0.02,
            clip_sample=False,
            prediction_type="epsilon",
        )
        pipeline = Kandinsky3Pipeline(
            tokenizer=tokenizer,
            text_encoder=text_encoder,
            unet=unet,
            scheduler=scheduler,
            movq=movq,
        )
        pipeline.save_pretrained(folder)
        # ``_built`` takes a top-level config.json as the mark of a complete folder; a pipeline
        # has model_index.json instead, so the recipe is written there too (diffusers ignores it).
        (folder / "config.json").write_text(json.dumps(recipe, sort_keys=True, indent=2))

    return _built("kandinsky3", recipe, build)
