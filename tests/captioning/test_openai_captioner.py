"""The OpenAI-compatible captioner against a loopback chat-completions server.

The server (aiohttp, 127.0.0.1, an ephemeral port, its own thread and event loop) answers
``POST /v1/chat/completions`` by the entity named in the instruction: ``ok`` succeeds,
``flaky`` fails with 500 once, ``busy`` answers 429 with ``Retry-After`` once, ``slow`` sends
its headers then stalls the body past the client's timeout, ``bad`` answers 400.
"""

import asyncio
import base64
import io
import re
import threading
import time
from collections import Counter
from collections.abc import Iterator

import pytest
from aiohttp import web
from PIL import Image

from craft_dag.captioning.captioner import CaptionRequest, GenerationSettings
from craft_dag.captioning.openai_backend import OpenAICompatibleCaptioner, _retry_after_seconds
from craft_dag.captioning.prompts import INSTRUCTIONS

SETTINGS = GenerationSettings(max_new_tokens=300, temperature=0.2, top_p=0.9, seed=11)


class ChatServer:
    """A scripted chat-completions endpoint that records what it was sent."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.payloads: list[dict] = []
        self.headers: list[dict] = []
        self.in_flight = 0
        self.most_in_flight = 0
        self.slow_s = 0.6
        self.port = 0
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def start(self) -> None:
        self._thread.start()
        assert self._ready.wait(10), "the test server did not start"

    def stop(self) -> None:
        assert self._loop is not None
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def _serve(self) -> None:
        loop = self._loop = asyncio.new_event_loop()
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._handle)
        runner = web.AppRunner(app)
        loop.run_until_complete(runner.setup())
        site = web.TCPSite(runner, "127.0.0.1", 0)
        loop.run_until_complete(site.start())
        self.port = runner.addresses[0][1]
        self._ready.set()
        loop.run_forever()
        loop.run_until_complete(runner.cleanup())
        loop.close()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        payload = await request.json()
        self.payloads.append(payload)
        self.headers.append(dict(request.headers))
        text = payload["messages"][0]["content"][1]["text"]
        found = re.search(r'The image shows "([^"]+)"', text)
        scenario = found.group(1) if found else "ok"
        self.calls[scenario] += 1
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            return await self._answer(request, scenario)
        finally:
            self.in_flight -= 1

    async def _answer(self, request: web.Request, scenario: str) -> web.StreamResponse:
        first = self.calls[scenario] == 1
        if scenario == "flaky" and first:
            return web.Response(status=500, text="upstream crashed")
        if scenario == "busy" and first:
            return web.Response(status=429, text="slow down", headers={"Retry-After": "0.4"})
        if scenario == "bad":
            return web.json_response({"error": {"message": "prompt too long"}}, status=400)
        if scenario == "slow":
            response = web.StreamResponse(headers={"Content-Type": "application/json"})
            await response.prepare(request)
            await response.write(b'{"choices": [')
            await asyncio.sleep(self.slow_s)
            await response.write(b"]}")
            return response
        await asyncio.sleep(0.05)  # long enough for requests to overlap
        return web.json_response(
            {
                "id": "cmpl-1",
                "object": "chat.completion",
                "choices": [
                    {
                        "index": 0,
                        "finish_reason": "stop",
                        "message": {"role": "assistant", "content": f" caption for {scenario} "},
                    }
                ],
            }
        )


@pytest.fixture
def server() -> Iterator[ChatServer]:
    chat = ChatServer()
    chat.start()
    yield chat
    chat.stop()


def _request(key: str, entity: str, size: tuple[int, int] = (64, 48)) -> CaptionRequest:
    return CaptionRequest(key, Image.new("RGB", size, (10, 120, 200)), entity, "crafts")


def _captioner(server: ChatServer, **options) -> OpenAICompatibleCaptioner:
    defaults = {"concurrency": 4, "timeout_s": 5, "max_retries": 2, "backoff_s": 0.01}
    return OpenAICompatibleCaptioner(server.base_url, "llava-34b", **{**defaults, **options})


def test_success_and_the_request_payload(server) -> None:
    captioner = _captioner(server, api_key="sk-test")
    (result,) = captioner.caption([_request("k1", "ok", (64, 48))], SETTINGS)
    assert (result.key, result.text, result.error, result.model) == (
        "k1",
        "caption for ok",
        "",
        "llava-34b",
    )
    (payload,) = server.payloads
    assert payload["model"] == "llava-34b"
    assert payload["max_tokens"] == 300
    assert payload["temperature"] == 0.2
    assert payload["top_p"] == 0.9
    assert payload["seed"] == 11
    image_part, text_part = payload["messages"][0]["content"]
    assert payload["messages"][0]["role"] == "user"
    assert text_part == {
        "type": "text",
        "text": INSTRUCTIONS["medium"]
        + '. The image shows "ok" (category: crafts). Use this name.',
    }
    assert image_part["type"] == "image_url"
    url = image_part["image_url"]["url"]
    assert url.startswith("data:image/jpeg;base64,")
    sent = Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1])))
    assert (sent.format, sent.size) == ("JPEG", (64, 48))
    assert server.headers[0]["Authorization"] == "Bearer sk-test"
    assert result.params["instruction_text"] == text_part["text"]


def test_500_then_success_is_retried(server) -> None:
    captioner = _captioner(server)
    (result,) = captioner.caption([_request("k", "flaky")], SETTINGS)
    assert result.ok and result.text == "caption for flaky"
    assert server.calls["flaky"] == 2


def test_429_waits_as_long_as_retry_after_says(server) -> None:
    captioner = _captioner(server)
    start = time.perf_counter()
    (result,) = captioner.caption([_request("k", "busy")], SETTINGS)
    assert result.ok and result.text == "caption for busy"
    assert server.calls["busy"] == 2
    assert time.perf_counter() - start >= 0.4  # backoff alone would be at most 0.01 s


def test_a_body_slower_than_the_timeout_is_a_per_item_error(server) -> None:
    captioner = _captioner(server, timeout_s=0.3, max_retries=1)
    results = captioner.caption([_request("slow", "slow"), _request("fine", "ok")], SETTINGS)
    assert results[1].ok and results[1].text == "caption for ok"
    assert not results[0].ok and results[0].text == ""
    assert results[0].error == "timed out after 0.3 s (gave up after 2 attempts)"
    assert server.calls["slow"] == 2


def test_400_is_not_retried_and_fails_alone(server) -> None:
    captioner = _captioner(server)
    results = captioner.caption(
        [_request("a", "ok"), _request("b", "bad"), _request("c", "ok")], SETTINGS
    )
    assert [r.key for r in results] == ["a", "b", "c"]
    assert results[0].ok and results[2].ok
    assert results[1].error.startswith("HTTP 400: ")
    assert "prompt too long" in results[1].error
    assert server.calls["bad"] == 1


def test_concurrency_is_bounded_and_order_kept(server) -> None:
    captioner = _captioner(server, concurrency=2)
    requests = [_request(f"k{i}", "ok") for i in range(8)]
    results = captioner.caption(requests, SETTINGS)
    assert [r.key for r in results] == [f"k{i}" for i in range(8)]
    assert all(r.ok for r in results)
    assert server.most_in_flight == 2


def test_an_unreadable_image_is_never_sent(server) -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 64)).save(buffer, format="PNG")
    data = buffer.getvalue()
    broken = CaptionRequest("broken", Image.open(io.BytesIO(data[: len(data) // 2])))
    results = _captioner(server).caption([broken, _request("ok", "ok")], SETTINGS)
    assert results[0].error.startswith("unreadable image: decode_error")
    assert results[1].ok
    assert len(server.payloads) == 1


def test_caption_works_from_inside_a_running_event_loop(server) -> None:
    captioner = _captioner(server)

    async def inside() -> list:
        return captioner.caption([_request("k", "ok")], SETTINGS)

    (result,) = asyncio.run(inside())
    assert result.ok


def test_base_url_with_or_without_v1() -> None:
    assert (
        OpenAICompatibleCaptioner("http://h:8000", "m").url == "http://h:8000/v1/chat/completions"
    )
    assert (
        OpenAICompatibleCaptioner("http://h:8000/v1/", "m").url
        == "http://h:8000/v1/chat/completions"
    )


def test_retry_after_forms() -> None:
    assert _retry_after_seconds("3") == 3.0
    assert _retry_after_seconds("0.5") == 0.5
    assert _retry_after_seconds(None) is None
    assert _retry_after_seconds("soon") is None
    assert _retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # in the past
