"""The captioner and the translator as configurable resources, one backend chosen in config."""

from collections.abc import Callable
from functools import partial
from typing import Any

from dagster import ConfigurableResource
from pydantic import Field

CAPTION_BACKENDS = ("tiny", "transformers", "vllm", "openai")
TRANSLATION_BACKENDS = ("tiny", "transformers", "vllm")


class CaptionerResource(ConfigurableResource):
    """Automatic captions: LLaVA-NeXT through vLLM, transformers, or an OpenAI-compatible API."""

    backend: str = Field(
        default="tiny",
        description="tiny (a tiny random LLaVA-NeXT, CPU), transformers, vllm (GPU, the "
        "`vllm` extra) or openai (any OpenAI-compatible endpoint, e.g. a `vllm serve` fleet).",
    )
    model: str = Field(
        default="llava-hf/llava-v1.6-34b-hf",
        description="Model id or path (the paper's LLaVA-NeXT 34B by default).",
    )
    device: str = Field(default="cpu", description="torch device (transformers backend).")
    batch_size: int = Field(default=8, description="Images per generation batch.")
    tensor_parallel_size: int = Field(default=1, description="GPUs per vLLM model replica.")
    base_url: str = Field(default="", description="openai backend: the server's base URL.")
    api_key: str = Field(default="", description="openai backend: the API key (use EnvVar).")
    concurrency: int = Field(default=8, description="openai backend: requests in flight.")
    max_new_tokens: int = Field(default=512, description="The paper chose 512 tokens.")
    temperature: float = Field(
        default=0.2, description="Low: at 0.7-1 the paper's model hallucinated."
    )
    instruction: str = Field(default="medium", description="short, medium (the paper's) or long.")
    include_entity: bool = Field(
        default=True,
        description="Give the model the entity's name and category (it does not know them).",
    )

    def settings(self) -> Any:
        from craft_dag.captioning.captioner import GenerationSettings

        return GenerationSettings(
            max_new_tokens=self.max_new_tokens,
            temperature=self.temperature,
            instruction=self.instruction,
            include_entity=self.include_entity,
        )

    def captioner(self) -> Any:
        if self.backend not in CAPTION_BACKENDS:
            raise ValueError(
                f"captioner backend must be one of {', '.join(CAPTION_BACKENDS)}, "
                f"not {self.backend!r}"
            )
        if self.backend == "tiny":
            from craft_dag.captioning.transformers_backend import tiny_captioner

            return tiny_captioner()
        if self.backend == "transformers":
            from craft_dag.captioning.transformers_backend import TransformersCaptioner

            return TransformersCaptioner(self.model, device=self.device, batch_size=self.batch_size)
        if self.backend == "vllm":
            from craft_dag.captioning.vllm_backend import VllmCaptioner

            return VllmCaptioner(self.model, tensor_parallel_size=self.tensor_parallel_size)
        from craft_dag.captioning.openai_backend import OpenAICompatibleCaptioner

        if not self.base_url:
            raise ValueError("the openai captioner backend needs base_url")
        return OpenAICompatibleCaptioner(
            self.base_url, self.model, api_key=self.api_key, concurrency=self.concurrency
        )


class TranslatorResource(ConfigurableResource):
    """Source -> target translation of the captions (Marian opus-mt by default)."""

    backend: str = Field(
        default="tiny",
        description="tiny (a tiny random Marian, CPU), transformers (seq2seq) or vllm (an "
        "instruction-following LLM, GPU).",
    )
    model: str = Field(
        default="",
        description="Model id or path; empty: Helsinki-NLP/opus-mt-<source>-<target> "
        "(CC-BY-4.0) for transformers. NLLB models are CC-BY-NC: non-commercial only.",
    )
    device: str = Field(default="cpu", description="torch device (transformers backend).")
    num_beams: int = Field(default=4, description="Beam width.")
    batch_size: int = Field(default=16, description="Captions per batch.")
    tensor_parallel_size: int = Field(default=1, description="GPUs per vLLM model replica.")
    min_language_confidence: float = Field(
        default=0.5, description="Output must be detected as the target language this surely."
    )

    def settings(self) -> Any:
        from craft_dag.translation.translator import TranslationSettings

        return TranslationSettings(num_beams=self.num_beams, batch_size=self.batch_size)

    def signals(self, target_language: str) -> Callable[[str, str], Any]:
        """The cheap quality signals of (source, translation); lingua loads on first use."""
        from craft_dag.translation.quality import quality_signals

        return partial(quality_signals, target_language=target_language)

    def translator(self, source_language: str, target_language: str) -> Any:
        if self.backend not in TRANSLATION_BACKENDS:
            raise ValueError(
                f"translator backend must be one of {', '.join(TRANSLATION_BACKENDS)}, "
                f"not {self.backend!r}"
            )
        if self.backend == "tiny":
            from craft_dag.translation.transformers_backend import tiny_translator

            return tiny_translator()
        model = self.model or f"Helsinki-NLP/opus-mt-{source_language}-{target_language}"
        if self.backend == "transformers":
            from craft_dag.translation.transformers_backend import TransformersTranslator

            return TransformersTranslator(model, device=self.device)
        from craft_dag.translation.vllm_backend import VllmTranslator

        if not self.model:
            raise ValueError("the vllm translator backend needs a model (an instruction LLM)")
        return VllmTranslator(self.model, tensor_parallel_size=self.tensor_parallel_size)
