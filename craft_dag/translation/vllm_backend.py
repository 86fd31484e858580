"""Translation by an instruction-following LLM served in-process by vLLM (a GPU host).

Each text becomes one chat: a system message asking for a faithful, complete translation
with nothing added, and a user message with the text and, when the pack glossary has terms in
it, their required renderings ("космонавт -> cosmonaut") and the renderings never to use. An
LLM can follow such a list where a seq2seq model cannot be told; the checked post-edit
(``GlossaryMatcher.enforce``) still runs on its output, since an instruction is not a
guarantee.

All texts go to ``vllm.LLM.chat`` at once (vLLM schedules its own batches, so
``TranslationSettings.batch_size`` is not used) with greedy decoding (``temperature`` 0);
``num_beams`` is not used either: ``LLM.chat`` has no beam search. vLLM is imported only
when this backend is built (``pip install 'craft-dag[vllm]'``). The model's licence is the
model's: check it before publishing a dataset translated with it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from craft_dag.translation.glossary import GlossaryHit, GlossaryMatcher
from craft_dag.translation.translator import TranslationSettings, language_name

SYSTEM_PROMPT = (
    "You are a professional translator of image captions from {source} into {target}. "
    "Translate faithfully and completely: keep every detail, name and number, add nothing, "
    "explain nothing. Answer with the translation only."
)

_QUOTES = {'"': '"', "'": "'", "\u201c": "\u201d", "\u00ab": "\u00bb"}


def _import_vllm() -> Any:
    try:
        import vllm
    except ImportError as error:
        raise ImportError(
            "the vllm translation backend needs vLLM on a GPU host: pip install 'craft-dag[vllm]'"
        ) from error
    return vllm


class VllmTranslator:
    """Translates with ``vllm.LLM.chat``; see the module docstring.

    ``model`` is a hub id or folder of a chat model; ``tensor_parallel_size`` the GPUs to
    shard it over. ``source_language`` / ``target_language`` (the pack's codes) name the
    languages in the prompt. ``llm_options`` go to ``vllm.LLM`` as they are
    (``max_model_len``, ``gpu_memory_utilization``, ``dtype``, ...).
    """

    name = "vllm"
    accepts_glossary = True

    def __init__(
        self,
        model: str,
        tensor_parallel_size: int = 1,
        *,
        source_language: str = "ru",
        target_language: str = "en",
        seed: int = 0,
        llm_options: dict[str, Any] | None = None,
    ) -> None:
        self._vllm = _import_vllm()
        self.model = model
        self.source_language = source_language
        self.target_language = target_language
        self._llm = self._vllm.LLM(
            model=model,
            tensor_parallel_size=tensor_parallel_size,
            seed=seed,
            **(llm_options or {}),
        )

    def messages(
        self, text: str, hits: Sequence[GlossaryHit] = (), matcher: GlossaryMatcher | None = None
    ) -> list[dict[str, str]]:
        """The chat for one text: the instruction, then the text and its glossary terms."""
        source = language_name(self.source_language)
        target = language_name(self.target_language)
        system = SYSTEM_PROMPT.format(source=source, target=target)
        lines = [f"Translate this {source} text into {target}:", "", text]
        terms = list(dict.fromkeys(hit.source for hit in hits))
        if terms:
            lines += ["", f"Render these terms exactly as given (-> the required {target}):"]
            for source_term in terms:
                hit = next(h for h in hits if h.source == source_term)
                line = f"- {source_term} -> {hit.target}"
                wrong = matcher.term(source_term).wrong if matcher is not None else []
                if wrong:
                    line += f" (never: {', '.join(wrong)})"
                lines.append(line)
        return [
            {"role": "system", "content": system},
            {"role": "user", "content": "\n".join(lines)},
        ]

    @staticmethod
    def _clean(output: str, source: str) -> str:
        """The model's answer without surrounding space, or quotes the source did not have."""
        text = output.strip()
        closing = _QUOTES.get(text[:1])
        if (
            closing
            and len(text) > 1
            and text.endswith(closing)
            and not source.strip().startswith(text[:1])
        ):
            text = text[1:-1].strip()
        return text

    def translate(
        self,
        texts: Sequence[str],
        settings: TranslationSettings,
        *,
        glossary: GlossaryMatcher | None = None,
        sources: Sequence[str] | None = None,
    ) -> list[str]:
        """One translation per text, in input order; blank texts give "" without a request.

        With ``glossary``, each prompt lists the terms found in ``sources[i]`` (by default
        ``texts[i]``) with their required renderings.
        """
        texts = list(texts)
        if sources is not None and len(sources) != len(texts):
            raise ValueError(f"{len(sources)} sources for {len(texts)} texts")
        sources = list(sources) if sources is not None else texts
        wanted = [i for i, text in enumerate(texts) if text.strip()]
        results = [""] * len(texts)
        if not wanted:
            return results
        conversations = [
            self.messages(
                texts[i],
                glossary.find(sources[i]) if glossary is not None else (),
                glossary,
            )
            for i in wanted
        ]
        params = self._vllm.SamplingParams(temperature=0.0, max_tokens=settings.max_new_tokens)
        outputs = self._llm.chat(conversations, sampling_params=params, use_tqdm=False)
        if len(outputs) != len(wanted):
            raise RuntimeError(f"vLLM returned {len(outputs)} outputs for {len(wanted)} chats")
        for i, output in zip(wanted, outputs, strict=True):
            results[i] = self._clean(output.outputs[0].text, texts[i])
        return results
