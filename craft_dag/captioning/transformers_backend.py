"""A captioner running a transformers vision-language model in-process (LLaVA-NeXT and kin).

The model loads through ``AutoProcessor`` and ``AutoModelForImageTextToText.from_pretrained``,
by hub id or local folder, so the ``tiny`` profile's random model (``tiny_captioner``) and the
``full`` profile's LLaVA-NeXT 34B run the same code. Prompts are built with the processor's own
chat template (an image part and the instruction), so each model gets the format it was
trained on. Requests are generated in batches: the tokenizer pads on the left, so every row's
new tokens start at the same position and only those are decoded.

vLLM (``vllm_backend``) is the faster choice on a GPU host; this backend is for CPUs, tests and
small runs, and needs nothing beyond transformers and torch.
"""

from __future__ import annotations

from collections.abc import Sequence

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


class TransformersCaptioner:
    """Captions with ``AutoModelForImageTextToText``; see the module docstring.

    ``dtype`` is passed to ``from_pretrained`` (``"bfloat16"``, ``"auto"``, a ``torch.dtype``;
    ``None`` keeps transformers' default). ``batch_size`` requests go through ``generate``
    together. With ``temperature`` 0 decoding is greedy, and a caption does not depend on the
    batch it was in (up to floating-point differences of padded batches). With sampling the
    torch generator is seeded from ``settings.seed`` before each batch, so the same requests,
    settings and ``batch_size`` give the same captions; batch composition changes the draws.
    """

    name = "transformers"

    def __init__(
        self,
        model: str = DEFAULT_CAPTION_MODEL,
        device: str = "cpu",
        batch_size: int = 8,
        dtype: object = None,
        local_files_only: bool = False,
        *,
        revision: str | None = None,
    ) -> None:
        import torch
        from transformers import AutoModelForImageTextToText, AutoProcessor

        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, not {batch_size}")
        self.model = model
        self.device = device
        self.batch_size = batch_size
        options: dict[str, object] = {"revision": revision, "local_files_only": local_files_only}
        self._processor = AutoProcessor.from_pretrained(model, **options)
        tokenizer = getattr(self._processor, "tokenizer", None)
        if tokenizer is None or getattr(self._processor, "chat_template", None) is None:
            raise ValueError(f"{model}: its processor has no tokenizer or no chat template")
        # Batched generation appends new tokens on the right of every row: padding goes left.
        tokenizer.padding_side = "left"
        self._pad_token_id = (
            tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
        )
        if dtype is not None:
            options["dtype"] = dtype
        self._model = AutoModelForImageTextToText.from_pretrained(model, **options)
        self._model.to(device).eval()
        self._torch = torch

    def caption(
        self, requests: Sequence[CaptionRequest], settings: GenerationSettings
    ) -> list[CaptionResult]:
        """One result per request, in order; unreadable images get a per-item error."""
        instructions = [request_instruction(request, settings) for request in requests]
        results: dict[int, CaptionResult] = {}
        readable: list[tuple[int, Image.Image, str]] = []
        for index, request in enumerate(requests):
            try:
                readable.append((index, prepared_image(request.image), instructions[index]))
            except ImageRejected as exc:
                results[index] = self._result(request, settings, instructions[index], error=exc)
        for start in range(0, len(readable), self.batch_size):
            batch = readable[start : start + self.batch_size]
            for index, text, error in self._caption_batch(batch, settings):
                results[index] = self._result(
                    requests[index], settings, instructions[index], text, error
                )
        return [results[index] for index in range(len(requests))]

    def _caption_batch(
        self, batch: list[tuple[int, Image.Image, str]], settings: GenerationSettings
    ) -> list[tuple[int, str, str]]:
        """(index, text, error) for each item of ``batch``, generated together."""
        try:
            inputs = self._inputs([image for _, image, _ in batch], [text for *_, text in batch])
        except (ValueError, TypeError, OSError) as exc:
            # The processor refused something in the batch (an image it cannot resize or tile):
            # split the batch, so only the culprit gets the error.
            if len(batch) == 1:
                return [(batch[0][0], "", f"preprocessing failed: {exc}")]
            return [item for one in batch for item in self._caption_batch([one], settings)]
        texts = self._generate(inputs, settings)
        return [(index, text, "") for (index, _, _), text in zip(batch, texts, strict=True)]

    def _inputs(self, images: list[Image.Image], instructions: list[str]):  # -> BatchFeature
        prompts = [
            self._processor.apply_chat_template(
                [
                    {
                        "role": "user",
                        "content": [{"type": "image"}, {"type": "text", "text": instruction}],
                    }
                ],
                add_generation_prompt=True,
                tokenize=False,
            )
            for instruction in instructions
        ]
        inputs = self._processor(images=images, text=prompts, padding=True, return_tensors="pt")
        # Floating tensors (pixel values) take the model's dtype; ids and masks only move.
        return inputs.to(self.device, dtype=self._model.dtype)

    def _generate(self, inputs, settings: GenerationSettings) -> list[str]:
        torch = self._torch
        options: dict[str, object] = {
            "max_new_tokens": settings.max_new_tokens,
            "pad_token_id": self._pad_token_id,
            "do_sample": not settings.greedy,
        }
        if not settings.greedy:
            options.update(temperature=settings.temperature, top_p=settings.top_p)
        else:
            # A checkpoint's generation_config may set sampling defaults; greedy ignores them.
            options.update(temperature=None, top_p=None, top_k=None)
        devices = [self.device] if str(self.device).startswith("cuda") else []
        # fork_rng: seeding for reproducible sampling without moving the caller's global RNG.
        with torch.random.fork_rng(devices=devices), torch.inference_mode():
            torch.manual_seed(settings.seed)
            output = self._model.generate(**inputs, **options)
        new_tokens = output[:, inputs["input_ids"].shape[1] :]
        decoded = self._processor.batch_decode(new_tokens, skip_special_tokens=True)
        return [text.strip() for text in decoded]

    def _result(
        self,
        request: CaptionRequest,
        settings: GenerationSettings,
        instruction: str,
        text: str = "",
        error: object = "",
    ) -> CaptionResult:
        if isinstance(error, ImageRejected):
            error = rejection_text(error)
        return CaptionResult(
            key=request.key,
            text="" if error else text,
            error=str(error),
            model=self.model,
            params=provenance(settings, instruction),
        )


def tiny_captioner(seed: int = 0, batch_size: int = 8) -> TransformersCaptioner:
    """A captioner over a tiny random LLaVA-NeXT (``craft_dag.models.tiny``), for ``tiny``.

    Its captions are noise; they are deterministic for ``seed``, cost milliseconds per token on
    a CPU, and come through the same ``from_pretrained`` and chat-template path as the
    ``full`` profile's LLaVA-NeXT.
    """
    from craft_dag.models.tiny import tiny_llava_next

    return TransformersCaptioner(
        str(tiny_llava_next(seed)), batch_size=batch_size, local_files_only=True
    )
