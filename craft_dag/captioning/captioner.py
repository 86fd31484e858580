"""What every captioner shares: its settings, its requests and results, and its interface.

A captioner turns images into English captions with a vision-language model (LLaVA-NeXT in the
paper). Three backends implement ``Captioner``: ``transformers`` in-process (the ``tiny``
profile and small GPU runs), vLLM's offline engine (batch captioning on a GPU host), and any
OpenAI-compatible HTTP endpoint (a ``vllm serve`` fleet). They take the same
``GenerationSettings`` and return one ``CaptionResult`` per request, in request order; an image
that cannot be captioned gets a result with ``error`` set and empty ``text``, so one broken
file never fails a batch.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from PIL import Image

from craft_dag.captioning.prompts import INSTRUCTIONS, instruction_text
from craft_dag.imaging.decode import ImageRejected
from craft_dag.models import to_rgb

DEFAULT_CAPTION_MODEL = "llava-hf/llava-v1.6-34b-hf"
"""The ``full`` profile's captioner: LLaVA-NeXT 34B, the model the paper captioned with.

The transformers-format checkpoint (Yi-34B language model, ChatML chat template, about 70 GB
in bfloat16): vLLM serves it too, so every backend uses the same id. A 34B model needs two or
more 40-80 GB GPUs (vLLM ``tensor_parallel_size``); ``llava-hf/llava-v1.6-mistral-7b-hf`` is
the one-GPU alternative through the same code.
"""


@dataclass(frozen=True)
class GenerationSettings:
    """How captions are generated; the defaults are the paper's choices (section 4.3).

    ``max_new_tokens`` 512: the paper tried 100 to 1024, and short limits truncated captions or
    left out significant elements. ``temperature`` 0.2: at 0.7-1 the model hallucinated objects
    or dwelt on insignificant ones; 0 means greedy decoding. ``instruction`` names one of
    ``prompts.INSTRUCTIONS`` (the paper kept ``medium``); ``include_entity`` appends the
    entity's name and category to it (``prompts.instruction_text``). ``seed`` makes sampling
    reproducible: the same request, settings and seed give the same caption.
    """

    max_new_tokens: int = 512
    temperature: float = 0.2
    top_p: float = 0.9
    instruction: str = "medium"
    include_entity: bool = True
    seed: int = 0

    def __post_init__(self) -> None:
        if self.max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be at least 1, not {self.max_new_tokens}")
        if self.temperature < 0:
            raise ValueError(f"temperature must be 0 (greedy) or more, not {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], not {self.top_p}")
        if self.instruction not in INSTRUCTIONS:
            known = ", ".join(sorted(INSTRUCTIONS))
            raise ValueError(f"unknown instruction {self.instruction!r}: known are {known}")

    @property
    def greedy(self) -> bool:
        """Whether decoding is greedy (temperature 0), which makes ``top_p`` and ``seed`` moot."""
        return self.temperature == 0


@dataclass(frozen=True)
class CaptionRequest:
    """One image to caption; ``key`` identifies it in the result (an image id, a row key).

    ``entity`` and ``category`` are the entity's display name and category the image was
    collected for, given to the model when ``GenerationSettings.include_entity`` is set.
    """

    key: str
    image: Image.Image
    entity: str = ""
    category: str = ""


@dataclass(frozen=True)
class CaptionResult:
    """The caption of one request, or why there is none.

    ``text`` is the model's raw output (``cleanup.clean_caption`` tidies it); ``error`` is
    empty on success and says what went wrong otherwise (``text`` is then empty). ``model`` is
    the model id that wrote it; ``params`` holds the generation settings and the exact
    instruction sent, for provenance.
    """

    key: str
    text: str
    error: str = ""
    model: str = ""
    params: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """Whether a caption was produced."""
        return not self.error


class Captioner(Protocol):
    """Captions images; one result per request, in request order, errors per item."""

    name: str
    """The backend's name: ``transformers``, ``vllm`` or ``openai``."""
    model: str
    """The model id (hub id, local folder or served model name)."""

    def caption(
        self, requests: Sequence[CaptionRequest], settings: GenerationSettings
    ) -> list[CaptionResult]:
        """Caption every request; never raises for one bad image (its result has ``error``)."""
        ...


def request_instruction(request: CaptionRequest, settings: GenerationSettings) -> str:
    """The instruction sent for ``request``: the chosen prompt, with the entity hint if asked."""
    if not settings.include_entity:
        return instruction_text(settings.instruction)
    return instruction_text(settings.instruction, entity=request.entity, category=request.category)


def provenance(settings: GenerationSettings, instruction: str) -> dict:
    """``CaptionResult.params``: every generation setting and the instruction actually sent."""
    return {**dataclasses.asdict(settings), "instruction_text": instruction}


def prepared_image(image: Image.Image) -> Image.Image:
    """``image`` decoded as 8-bit RGB; raises ``ImageRejected`` if it cannot be read or is empty."""
    rgb = to_rgb(image)
    if rgb.width < 1 or rgb.height < 1:
        raise ImageRejected("empty", f"{rgb.width}x{rgb.height} image")
    return rgb


def rejection_text(exc: ImageRejected) -> str:
    """The per-item error for an image that could not be read."""
    return f"unreadable image: {exc}"
