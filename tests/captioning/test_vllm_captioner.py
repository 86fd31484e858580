"""Contract tests of the vLLM captioner's calls to vLLM's API, against a fake ``vllm`` module.

vLLM needs a GPU and is not installed here, so these tests do not run vLLM: a fake module put
in ``sys.modules`` records what the adapter calls (``vllm.LLM(...)`` and its arguments,
``LLM.chat`` with one conversation per request, ``vllm.SamplingParams(...)``) and answers as
vLLM's documented API does (one ``RequestOutput`` per conversation, in order, the text in
``outputs[0].text``; ``ValueError`` for the whole call when one prompt is refused). What they
check is our side of that contract: the classes and arguments used, that results come back
in request order, and that a refused or unreadable request is a per-item error.
"""

import io
import sys
import types
from dataclasses import dataclass, field

import pytest
from PIL import Image

from craft_dag.captioning.captioner import CaptionRequest, GenerationSettings
from craft_dag.captioning.prompts import INSTRUCTIONS

REFUSE = "REFUSE-ME"  # an entity name the fake engine treats as a prompt over max_model_len


@dataclass
class FakeSamplingParams:
    kwargs: dict


@dataclass
class FakeCompletion:
    text: str


@dataclass
class FakeRequestOutput:
    outputs: list


@dataclass
class FakeLLM:
    init_kwargs: dict
    chat_calls: list = field(default_factory=list)

    def chat(self, messages, sampling_params=None, use_tqdm=True, **kwargs):
        self.chat_calls.append(
            {
                "messages": messages,
                "sampling_params": sampling_params,
                "use_tqdm": use_tqdm,
                **kwargs,
            }
        )
        texts = [conversation[0]["content"][1]["text"] for conversation in messages]
        if any(REFUSE in text for text in texts):
            raise ValueError(
                "The decoder prompt (length 9000) is longer than the maximum model length"
            )
        return [
            FakeRequestOutput(
                [FakeCompletion(f"  caption {conversation[0]['content'][0]['image_pil'].size} ")]
            )
            for conversation in messages
        ]


@pytest.fixture
def fake_vllm(monkeypatch):
    module = types.ModuleType("vllm")
    module.instances = []

    def make_llm(**kwargs):
        llm = FakeLLM(kwargs)
        module.instances.append(llm)
        return llm

    module.LLM = make_llm
    module.SamplingParams = lambda **kwargs: FakeSamplingParams(kwargs)
    monkeypatch.setitem(sys.modules, "vllm", module)
    return module


def _image(width: int, height: int) -> Image.Image:
    return Image.new("RGB", (width, height), (200, 30, 30))


def _broken() -> Image.Image:
    buffer = io.BytesIO()
    _image(64, 64).save(buffer, format="PNG")
    data = buffer.getvalue()
    return Image.open(io.BytesIO(data[: len(data) // 2]))


def test_engine_arguments(fake_vllm) -> None:
    from craft_dag.captioning.vllm_backend import VllmCaptioner

    captioner = VllmCaptioner(
        tensor_parallel_size=4,
        max_model_len=6144,
        gpu_memory_utilization=0.85,
        engine_options={"enforce_eager": True},
    )
    assert captioner.name == "vllm"
    assert captioner.model == "llava-hf/llava-v1.6-34b-hf"
    assert fake_vllm.instances[0].init_kwargs == {
        "model": "llava-hf/llava-v1.6-34b-hf",
        "tensor_parallel_size": 4,
        "max_model_len": 6144,
        "gpu_memory_utilization": 0.85,
        "limit_mm_per_prompt": {"image": 1},
        "dtype": "auto",
        "enforce_eager": True,
    }


def test_chat_calls_sampling_params_and_order(fake_vllm) -> None:
    from craft_dag.captioning.vllm_backend import VllmCaptioner

    captioner = VllmCaptioner("some/llava")
    settings = GenerationSettings(max_new_tokens=256, temperature=0.2, top_p=0.9, seed=7)
    requests = [
        CaptionRequest("a", _image(10, 20), "Матрёшка", "crafts"),
        CaptionRequest("b", _image(30, 40)),
        CaptionRequest("c", _image(50, 60), "Самовар"),
    ]
    results = captioner.caption(requests, settings)
    assert [(r.key, r.text, r.error) for r in results] == [
        ("a", "caption (10, 20)", ""),
        ("b", "caption (30, 40)", ""),
        ("c", "caption (50, 60)", ""),
    ]
    assert all(r.model == "some/llava" for r in results)
    (call,) = fake_vllm.instances[0].chat_calls
    assert call["use_tqdm"] is False
    assert call["sampling_params"].kwargs == {
        "max_tokens": 256,
        "temperature": 0.2,
        "top_p": 0.9,
        "seed": 7,
    }
    first = call["messages"][0]
    assert first == [
        {
            "role": "user",
            "content": [
                {"type": "image_pil", "image_pil": first[0]["content"][0]["image_pil"]},
                {
                    "type": "text",
                    "text": INSTRUCTIONS["medium"]
                    + '. The image shows "Матрёшка" (category: crafts). Use this name.',
                },
            ],
        }
    ]
    assert isinstance(first[0]["content"][0]["image_pil"], Image.Image)
    assert call["messages"][1][0]["content"][1]["text"] == INSTRUCTIONS["medium"]
    assert results[0].params["seed"] == 7
    assert results[0].params["instruction_text"] == first[0]["content"][1]["text"]


def test_greedy_decoding_sends_temperature_zero_and_top_p_one(fake_vllm) -> None:
    from craft_dag.captioning.vllm_backend import VllmCaptioner

    captioner = VllmCaptioner()
    captioner.caption([CaptionRequest("a", _image(8, 8))], GenerationSettings(temperature=0))
    sampling = fake_vllm.instances[0].chat_calls[0]["sampling_params"]
    assert sampling.kwargs == {"max_tokens": 512, "temperature": 0, "top_p": 1.0, "seed": 0}


def test_unreadable_and_refused_requests_are_per_item_errors(fake_vllm) -> None:
    from craft_dag.captioning.vllm_backend import VllmCaptioner

    captioner = VllmCaptioner()
    requests = [
        CaptionRequest("ok-1", _image(11, 11)),
        CaptionRequest("broken", _broken()),
        CaptionRequest("refused", _image(12, 12), REFUSE),
        CaptionRequest("ok-2", _image(13, 13)),
    ]
    results = captioner.caption(requests, GenerationSettings())
    assert [r.key for r in results] == ["ok-1", "broken", "refused", "ok-2"]
    assert results[0].text == "caption (11, 11)" and results[3].text == "caption (13, 13)"
    assert results[1].error.startswith("unreadable image: decode_error")
    assert results[2].error.startswith("refused by vLLM: The decoder prompt")
    assert results[1].text == results[2].text == ""
    calls = fake_vllm.instances[0].chat_calls
    # The batch of the three readable ones, then each on its own to find the refused one.
    assert [len(call["messages"]) for call in calls] == [3, 1, 1, 1]


def test_without_vllm_installed_the_error_says_how_to_install_it(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "vllm", None)  # what an uninstalled package looks like
    from craft_dag.captioning.vllm_backend import VllmCaptioner

    with pytest.raises(ImportError, match=r"pip install 'craft-dag\[vllm\]'"):
        VllmCaptioner()


def test_importing_the_backend_does_not_import_vllm(monkeypatch) -> None:
    monkeypatch.delitem(sys.modules, "vllm", raising=False)
    monkeypatch.delitem(sys.modules, "craft_dag.captioning.vllm_backend", raising=False)
    import craft_dag.captioning.vllm_backend  # noqa: F401

    assert "vllm" not in sys.modules
