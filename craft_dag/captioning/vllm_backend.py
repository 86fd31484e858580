"""A captioner on vLLM's offline engine: batch captioning on one or more GPUs.

vLLM is an optional dependency (``pip install 'craft-dag[vllm]'``, a GPU host): it is imported
only when this captioner is constructed. Requests go to ``vllm.LLM.chat`` as one conversation
each, an ``image_pil`` content part (the decoded image, no base64 round trip) followed by the
instruction, so vLLM renders them with the model's own chat template and schedules them all
with continuous batching. Each request has its own ``SamplingParams`` with the settings' seed,
so a caption is reproducible and does not depend on which other requests ran with it.

``LLM.chat`` returns its outputs in the order of the conversations given. A request vLLM
refuses (a prompt longer than ``max_model_len``, an image its processor cannot take) makes the
whole call raise ``ValueError``; the batch is then retried one request at a time, so only that
request gets the error.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import ModuleType

from PIL import Image

from craft_dag.captioning.captioner import (
    DEFAULT_CAPTION_MODEL,
    CaptionRequest,
    CaptionResult,
    GenerationSettings,
    prepared_image,
    provenance,
    rejection_text,
    request_instruction,
)
from craft_dag.imaging.decode import ImageRejected

INSTALL_HINT = "pip install 'craft-dag[vllm]'"


def import_vllm() -> ModuleType:
    """The ``vllm`` module, or an ``ImportError`` saying how to install it."""
    try:
        import vllm
    except ImportError as exc:
        raise ImportError(
            f"the vllm captioner needs vLLM (a GPU host): {INSTALL_HINT}; "
            f"or choose the transformers or openai captioner ({exc})"
        ) from exc
    return vllm


class VllmCaptioner:
    """Captions with ``vllm.LLM``; see the module docstring.

    ``tensor_parallel_size`` splits the model over that many GPUs (LLaVA-NeXT 34B in bfloat16
    needs about 70 GB of weights: 2 x 80 GB or 4 x 40 GB). ``max_model_len`` bounds prompt plus
    caption: LLaVA-NeXT's any-resolution tiling costs up to about 2,900 image tokens, plus the
    instruction and the 512 new tokens, so 4096 fits and keeps the KV cache small.
    ``limit_mm_per_prompt`` is one image per prompt, which lets vLLM reserve memory for
    exactly that. ``engine_options`` go to ``vllm.LLM`` as they are (``enforce_eager``,
    ``max_num_seqs``, ``download_dir``...).
    """

    name = "vllm"

    def __init__(
        self,
        model: str = DEFAULT_CAPTION_MODEL,
        tensor_parallel_size: int = 1,
        max_model_len: int = 4096,
        gpu_memory_utilization: float = 0.9,
        limit_mm_per_prompt: Mapping[str, int] | None = None,
        *,
        dtype: str = "auto",
        engine_options: Mapping[str, object] | None = None,
    ) -> None:
        if tensor_parallel_size < 1:
            raise ValueError(f"tensor_parallel_size must be at least 1, not {tensor_parallel_size}")
        if not 0 < gpu_memory_utilization <= 1:
            raise ValueError(
                f"gpu_memory_utilization must be in (0, 1], not {gpu_memory_utilization}"
            )
        vllm = import_vllm()
        self.model = model
        self._vllm = vllm
        self._llm = vllm.LLM(
            model=model,
            tensor_parallel_size=tensor_parallel_size,
            max_model_len=max_model_len,
            gpu_memory_utilization=gpu_memory_utilization,
            limit_mm_per_prompt=dict(limit_mm_per_prompt or {"image": 1}),
            dtype=dtype,
            **dict(engine_options or {}),
        )

    def caption(
        self, requests: Sequence[CaptionRequest], settings: GenerationSettings
    ) -> list[CaptionResult]:
        """One result per request, in order; unreadable or refused ones get a per-item error."""
        instructions = [request_instruction(request, settings) for request in requests]
        outcomes: dict[int, tuple[str, str]] = {}  # index -> (text, error)
        readable: list[tuple[int, Image.Image]] = []
        for index, request in enumerate(requests):
            try:
                readable.append((index, prepared_image(request.image)))
            except ImageRejected as exc:
                outcomes[index] = ("", rejection_text(exc))
        if readable:
            try:
                texts = self._chat(readable, instructions, settings)
            except ValueError:
                # One request refused fails the call: find it by running each on its own.
                for item in readable:
                    try:
                        outcomes[item[0]] = self._chat([item], instructions, settings)[0]
                    except ValueError as exc:
                        outcomes[item[0]] = ("", f"refused by vLLM: {exc}")
            else:
                outcomes.update(zip((index for index, _ in readable), texts, strict=True))
        return [
            CaptionResult(
                key=request.key,
                text=outcomes[index][0],
                error=outcomes[index][1],
                model=self.model,
                params=provenance(settings, instructions[index]),
            )
            for index, request in enumerate(requests)
        ]

    def _chat(
        self,
        items: list[tuple[int, Image.Image]],
        instructions: list[str],
        settings: GenerationSettings,
    ) -> list[tuple[str, str]]:
        """(text, error) per item, in order, from one ``LLM.chat`` call."""
        conversations = [
            [
                {
                    "role": "user",
                    "content": [
                        {"type": "image_pil", "image_pil": image},
                        {"type": "text", "text": instructions[index]},
                    ],
                }
            ]
            for index, image in items
        ]
        # One SamplingParams for all: vLLM applies it to every prompt, each with its own
        # generator seeded from it, so a caption does not depend on the rest of the batch.
        outputs = self._llm.chat(
            conversations, sampling_params=self._sampling(settings), use_tqdm=False
        )
        if len(outputs) != len(items):
            raise RuntimeError(f"vLLM returned {len(outputs)} outputs for {len(items)} prompts")
        answers: list[tuple[str, str]] = []
        for output in outputs:
            completions = getattr(output, "outputs", None) or []
            if not completions:
                answers.append(("", "vLLM returned no completion"))
            else:
                answers.append((completions[0].text.strip(), ""))
        return answers

    def _sampling(self, settings: GenerationSettings):  # -> vllm.SamplingParams
        # Greedy in vLLM is temperature 0; top_p must then be 1 and the seed is moot.
        return self._vllm.SamplingParams(
            max_tokens=settings.max_new_tokens,
            temperature=settings.temperature,
            top_p=1.0 if settings.greedy else settings.top_p,
            seed=settings.seed,
        )
