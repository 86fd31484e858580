"""Contract test of the vLLM backend against a fake ``vllm`` module (no GPU, no weights).

What is checked is how craft_dag calls vLLM (``LLM(...)``, ``LLM.chat`` with one conversation
per text and ``SamplingParams``) and what the prompt says, not vLLM itself.
"""

from __future__ import annotations

import sys
import types
from dataclasses import dataclass
from typing import Any

import pytest

from craft_dag.catalog.pack import bundled_pack_path, load_pack
from craft_dag.translation.glossary import GlossaryMatcher
from craft_dag.translation.translator import TranslationSettings, translate_with_glossary

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@dataclass
class _Completion:
    text: str


@dataclass
class _RequestOutput:
    outputs: list[_Completion]


def _fake_vllm(answers: dict[str, str]) -> tuple[types.ModuleType, dict[str, Any]]:
    """A stand-in ``vllm`` that records its calls and answers by the text in the prompt."""
    calls: dict[str, Any] = {"chats": []}
    module = types.ModuleType("vllm")

    class SamplingParams:
        def __init__(self, **kwargs: Any) -> None:
            self.kwargs = kwargs

    class LLM:
        def __init__(self, **kwargs: Any) -> None:
            calls["init"] = kwargs

        def chat(self, messages: list[list[dict[str, str]]], **kwargs: Any) -> list[Any]:
            calls["chats"].append((messages, kwargs))
            out = []
            for conversation in messages:
                user = conversation[-1]["content"]
                answer = next(a for text, a in answers.items() if text in user)
                out.append(_RequestOutput([_Completion(answer)]))
            return out

    module.LLM = LLM  # type: ignore[attr-defined]
    module.SamplingParams = SamplingParams  # type: ignore[attr-defined]
    return module, calls


@pytest.fixture
def matcher() -> GlossaryMatcher:
    pack = load_pack(bundled_pack_path("ru"))
    return GlossaryMatcher(pack.glossary, pack.meta.source_language, pack.meta.target_language)


def test_chat_prompt_lists_the_glossary_terms(
    monkeypatch: pytest.MonkeyPatch, matcher: GlossaryMatcher
) -> None:
    fake, calls = _fake_vllm(
        {
            "Космонавты на орбите": ' "Astronauts in orbit" ',
            "Закат над рекой": "Sunset over the river",
        }
    )
    monkeypatch.setitem(sys.modules, "vllm", fake)
    from craft_dag.translation.vllm_backend import VllmTranslator

    translator = VllmTranslator("org/chat-model", tensor_parallel_size=2)
    assert calls["init"] == {"model": "org/chat-model", "tensor_parallel_size": 2, "seed": 0}
    settings = TranslationSettings(max_new_tokens=100)
    texts = ["Космонавты на орбите", "", "Закат над рекой"]
    results = translate_with_glossary(translator, texts, settings, matcher)

    [(conversations, kwargs)] = calls["chats"]
    assert len(conversations) == 2  # the blank text is not sent
    assert kwargs["sampling_params"].kwargs == {"temperature": 0.0, "max_tokens": 100}
    system, user = conversations[0]
    assert system["role"] == "system" and "Russian" in system["content"]
    assert "English" in system["content"] and "faithful" in system["content"]
    assert user["role"] == "user" and "Космонавты на орбите" in user["content"]
    assert "- космонавт -> cosmonaut (never: astronaut, spaceman)" in user["content"]
    assert "->" not in conversations[1][1]["content"]  # no terms, no list

    # The LLM ignored the instruction; the checked post-edit still fixes it.
    assert [r.raw for r in results] == ["Astronauts in orbit", "", "Sunset over the river"]
    assert results[0].text == "Cosmonauts in orbit" and results[0].misses == ()


def test_missing_vllm_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "vllm", None)  # import vllm raises ImportError
    from craft_dag.translation.vllm_backend import VllmTranslator

    with pytest.raises(ImportError, match=r"pip install 'craft-dag\[vllm\]'"):
        VllmTranslator("org/chat-model")
