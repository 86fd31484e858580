"""What an evaluation generates: languages, model names, the shared ``GenerationSpec``, prompts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from craft_dag.catalog.models import EvalPrompt

SOURCE = "source"
ENGLISH = "english"
LANGUAGES = (SOURCE, ENGLISH)
BASE = "base"
"""The model name of the base model's generations; a checkpoint's is ``TUNED`` by default."""
TUNED = "tuned"
TINY_PROMPTS = 8
"""The tiny profile's prompts per run: enough to exercise every step quickly."""


@dataclass(frozen=True)
class GenerationSpec:
    """What every model is asked to do: the same for base and tuned, so pairs compare."""

    images_per_prompt: int = 2
    steps: int = 25
    guidance_scale: float = 3.0
    width: int = 1024
    height: int = 1024
    seed: int = 0

    def __post_init__(self) -> None:
        if self.images_per_prompt < 1 or self.steps < 1:
            raise ValueError("images_per_prompt and steps must be at least 1")
        if self.width % 8 or self.height % 8:
            raise ValueError(f"width and height must divide by 8, not {self.width}x{self.height}")

    @classmethod
    def for_profile(cls, profile: str, **overrides: Any) -> GenerationSpec:
        """``tiny``: 4 steps at 64x64 (the tiny model's MoVQ gives 8x8 latents); ``full``: 25
        steps at 1024x1024, Kandinsky 3's native size. ``overrides`` that are falsy are ignored."""
        base = {"steps": 4, "width": 64, "height": 64} if profile == "tiny" else {}
        base.update({k: v for k, v in overrides.items() if v})
        return cls(**base)

    def seeds(self) -> list[int]:
        return [self.seed + k for k in range(self.images_per_prompt)]

    def params(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Generated:
    """One generated image and how it was made."""

    prompt_id: str
    category: str
    entity: str | None
    language: str
    text: str
    seed: int
    image_index: int
    model: str
    image: bytes  # PNG
    params: dict[str, Any] = field(default_factory=dict)


def prompt_text(prompt: EvalPrompt, language: str) -> str:
    """The prompt's text in ``language`` (``source`` or ``english``)."""
    if language not in LANGUAGES:
        raise ValueError(f"language must be one of {LANGUAGES}, not {language!r}")
    return prompt.source if language == SOURCE else prompt.english


def select_prompts(prompts: Sequence[EvalPrompt], limit: int) -> list[EvalPrompt]:
    """At most ``limit`` prompts (0: all), taken one category at a time in turn, so a few
    prompts still cover several categories; pack order within a category."""
    if limit <= 0 or limit >= len(prompts):
        return list(prompts)
    queues: dict[str, list[EvalPrompt]] = {}
    for p in prompts:
        queues.setdefault(p.category, []).append(p)
    chosen: list[EvalPrompt] = []
    while len(chosen) < limit:
        for queue in queues.values():
            if queue and len(chosen) < limit:
                chosen.append(queue.pop(0))
    return chosen


def prompt_limit(max_prompts: int, profile: str) -> int:
    """The ``limit`` of ``select_prompts``: ``max_prompts`` when set (0: all); -1: the
    profile's default (``TINY_PROMPTS`` for tiny, all for full)."""
    if max_prompts >= 0:
        return max_prompts
    return TINY_PROMPTS if profile == "tiny" else 0
