"""The transformers captioner on the tiny random LLaVA-NeXT: batching, seeds, per-item errors.

The tiny model writes noise, but through the real path: ``AutoProcessor`` and
``AutoModelForImageTextToText.from_pretrained`` of a saved folder, the processor's chat
template, batched left-padded generation.
"""

import io
import time

import numpy as np
import pytest
import torch
from PIL import Image

from craft_dag.captioning.captioner import CaptionRequest, GenerationSettings
from craft_dag.captioning.prompts import INSTRUCTIONS
from craft_dag.captioning.transformers_backend import TransformersCaptioner, tiny_captioner
from craft_dag.models.tiny import tiny_llava_next

GREEDY = GenerationSettings(max_new_tokens=12, temperature=0)
SAMPLED = GenerationSettings(max_new_tokens=12, temperature=0.7, top_p=0.9, seed=3)
SIZES = [(120, 200), (300, 300), (640, 480), (60, 400), (256, 128), (90, 90)]


@pytest.fixture(scope="module")
def captioner() -> TransformersCaptioner:
    return tiny_captioner(batch_size=8)


def _photo(height: int, width: int, seed: int) -> Image.Image:
    rng = np.random.default_rng(seed)
    # Smooth gradients plus noise: different images give the vision tower different inputs.
    y, x = np.mgrid[0:height, 0:width]
    base = np.stack([x * 255 / width, y * 255 / height, (x + y) * 127 / (width + height)], -1)
    pixels = np.clip(base + rng.normal(0, 40, base.shape), 0, 255).astype(np.uint8)
    return Image.fromarray(pixels)


def _requests(count: int = len(SIZES)) -> list[CaptionRequest]:
    return [
        CaptionRequest(f"img-{i}", _photo(*SIZES[i % len(SIZES)], seed=i), "Матрёшка", "crafts")
        for i in range(count)
    ]


def _truncated_jpeg() -> Image.Image:
    buffer = io.BytesIO()
    _photo(64, 64, seed=9).save(buffer, format="JPEG")
    # Opened lazily, as the pipeline opens stored blobs: the damage shows when it is decoded.
    data = buffer.getvalue()
    return Image.open(io.BytesIO(data[: len(data) // 2]))


def test_batched_generation_matches_one_image_at_a_time(captioner) -> None:
    requests = _requests()
    batched = captioner.caption(requests, GREEDY)
    single = [captioner.caption([request], GREEDY)[0] for request in requests]
    assert [r.key for r in batched] == [r.key for r in requests]
    assert all(r.ok and r.text for r in batched)
    assert [r.text for r in batched] == [r.text for r in single]
    # The images differ, and so does the noise the random model writes for them.
    assert len({r.text for r in batched}) > 1


def test_sampling_is_reproducible_for_a_seed_and_leaves_the_global_rng_alone(captioner) -> None:
    requests = _requests(3)
    state = torch.random.get_rng_state()
    first = [r.text for r in captioner.caption(requests, SAMPLED)]
    assert torch.equal(torch.random.get_rng_state(), state)
    again = [r.text for r in captioner.caption(requests, SAMPLED)]
    other = [
        r.text
        for r in captioner.caption(
            requests, GenerationSettings(max_new_tokens=12, temperature=0.7, top_p=0.9, seed=4)
        )
    ]
    assert first == again
    assert first != other


def test_an_unreadable_image_is_a_per_item_error(captioner) -> None:
    requests = _requests(3)
    requests.insert(1, CaptionRequest("broken", _truncated_jpeg()))
    results = captioner.caption(requests, GREEDY)
    assert [r.key for r in results] == ["img-0", "broken", "img-1", "img-2"]
    broken = results[1]
    assert not broken.ok and broken.text == ""
    assert broken.error.startswith("unreadable image: decode_error")
    assert all(r.ok and r.text for r in results if r.key != "broken")
    # The others are captioned as if the broken one had not been there.
    clean = captioner.caption([r for r in requests if r.key != "broken"], GREEDY)
    assert [r.text for r in clean] == [r.text for r in results if r.key != "broken"]


def test_a_request_the_processor_refuses_fails_alone(captioner, monkeypatch) -> None:
    processor = captioner._processor
    real_call = type(processor).__call__

    def picky(self, images=None, text=None, **kwargs):
        if any(image.width == 77 for image in images):
            raise ValueError("cannot tile a 77 px wide image")
        return real_call(self, images=images, text=text, **kwargs)

    monkeypatch.setattr(type(processor), "__call__", picky)
    requests = _requests(3)
    requests[2] = CaptionRequest("odd", _photo(50, 77, seed=5))
    results = captioner.caption(requests, GREEDY)
    assert [r.ok for r in results] == [True, True, False]
    assert results[2].error == "preprocessing failed: cannot tile a 77 px wide image"


def test_results_carry_the_model_the_settings_and_the_instruction(captioner) -> None:
    request = _requests(1)[0]
    result = captioner.caption([request], GREEDY)[0]
    assert result.model == str(tiny_llava_next())
    assert result.params["max_new_tokens"] == 12
    assert result.params["temperature"] == 0
    assert result.params["instruction"] == "medium"
    assert result.params["instruction_text"] == (
        INSTRUCTIONS["medium"] + '. The image shows "Матрёшка" (category: crafts). Use this name.'
    )
    plain = GenerationSettings(max_new_tokens=4, include_entity=False, instruction="short")
    assert (
        captioner.caption([request], plain)[0].params["instruction_text"] == INSTRUCTIONS["short"]
    )


def test_the_prompt_is_the_processors_chat_template(captioner) -> None:
    inputs = captioner._inputs([_photo(64, 64, seed=1)], ["Describe this image"])
    text = captioner._processor.tokenizer.decode(inputs["input_ids"][0])
    assert text.startswith("<|im_start|>user\n<image>")
    assert text.endswith("describe this image<|im_end|>\n<|im_start|>assistant\n")


def test_well_under_a_second_per_image_on_a_cpu(captioner) -> None:
    requests = _requests()
    captioner.caption(requests[:1], GREEDY)  # warm-up
    start = time.perf_counter()
    captioner.caption(requests, GenerationSettings(max_new_tokens=8, temperature=0))
    # About 10 ms an image on an idle 2-core machine; the margin is for a busy shared host,
    # where torch's spinning threads can make the same work 10x slower.
    assert (time.perf_counter() - start) / len(requests) < 1.0


def test_empty_input_and_bad_settings() -> None:
    with pytest.raises(ValueError, match="batch_size"):
        TransformersCaptioner(str(tiny_llava_next()), batch_size=0, local_files_only=True)
    with pytest.raises(ValueError, match="unknown instruction"):
        GenerationSettings(instruction="poem")
    with pytest.raises(ValueError, match="temperature"):
        GenerationSettings(temperature=-1)


def test_no_requests_no_results(captioner) -> None:
    assert captioner.caption([], GREEDY) == []
