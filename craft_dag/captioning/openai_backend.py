"""A captioner calling an OpenAI-compatible chat completions endpoint (a ``vllm serve`` fleet).

Each request is one ``POST {base_url}/chat/completions`` with the image as a base64 JPEG data
URL in an ``image_url`` content part, then the instruction as a ``text`` part: the format
OpenAI defined and vLLM, SGLang and TGI serve, so the server applies the model's own chat
template. Requests run concurrently over aiohttp, at most ``concurrency`` at a time.

What goes wrong is handled per request: 429 and 5xx answers, timeouts and dropped connections
are retried up to ``max_retries`` times, waiting as long as the server's ``Retry-After`` says
or else an exponential backoff with full jitter (so a fleet that hiccups is not hit again by
every client at the same instant); any other answer (400 for a prompt too long, 401, 404 for
a wrong model name), a malformed body, or running out of retries is that request's error, and
the other requests go on.
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
import random
import threading
from collections.abc import Sequence
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import aiohttp
from PIL import Image

from craft_dag.captioning.captioner import (
    CaptionRequest,
    CaptionResult,
    GenerationSettings,
    prepared_image,
    provenance,
    rejection_text,
    request_instruction,
)
from craft_dag.imaging.decode import ImageRejected

RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
"""Answers worth another try: rate limits, overload, a restarting server or proxy."""


class _Retryable(Exception):
    """One attempt failed in a way another attempt may not; ``wait`` is the server's wish."""

    def __init__(self, message: str, wait: float | None = None) -> None:
        super().__init__(message)
        self.wait = wait


class _Fatal(Exception):
    """One request failed in a way that retrying would not change."""


class OpenAICompatibleCaptioner:
    """Captions through ``/v1/chat/completions``; see the module docstring.

    ``base_url`` is the API root as OpenAI clients take it (``http://host:8000/v1``); a URL
    without the ``/v1`` gets it appended. ``model`` is the served model name. ``timeout_s``
    bounds each attempt, from connecting to the last byte of the answer. Backoff before retry
    ``n`` (from 0) is uniform in ``[0, min(max_backoff_s, backoff_s * 2**n)]``; a
    ``Retry-After`` is honoured up to ``max_retry_after_s``. Images are sent as JPEG (quality
    95), scaled down first so that their longer side is at most ``max_side`` pixels when set.
    ``trust_env`` lets aiohttp use proxy settings from the environment (off: a fleet is
    usually reached directly, and a stray ``HTTP_PROXY`` would capture loopback calls).
    """

    name = "openai"

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str = "",
        concurrency: int = 8,
        timeout_s: float = 120,
        max_retries: int = 3,
        *,
        backoff_s: float = 1.0,
        max_backoff_s: float = 30.0,
        max_retry_after_s: float = 120.0,
        max_side: int | None = None,
        trust_env: bool = False,
    ) -> None:
        if concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, not {concurrency}")
        if timeout_s <= 0:
            raise ValueError(f"timeout_s must be positive, not {timeout_s}")
        if max_retries < 0:
            raise ValueError(f"max_retries must be 0 or more, not {max_retries}")
        root = base_url.rstrip("/")
        if not root.endswith("/v1"):
            root += "/v1"
        self.url = root + "/chat/completions"
        self.model = model
        self.concurrency = concurrency
        self.timeout_s = timeout_s
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self.max_retry_after_s = max_retry_after_s
        self.max_side = max_side
        self.trust_env = trust_env
        self._headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.attempts = 0
        """HTTP attempts made so far, retries included."""

    def caption(
        self, requests: Sequence[CaptionRequest], settings: GenerationSettings
    ) -> list[CaptionResult]:
        """One result per request, in order; runs its own event loop (see ``acaption``)."""
        coroutine = self.acaption(requests, settings)
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(coroutine)
        # Called from a running loop (a notebook, an async caller): asyncio.run would refuse,
        # so the requests run on a loop of their own in a helper thread.
        box: dict[str, object] = {}

        def run() -> None:
            try:
                box["value"] = asyncio.run(coroutine)
            except BaseException as exc:  # handed back to the caller's thread below
                box["error"] = exc

        thread = threading.Thread(target=run, name="craft-captions")
        thread.start()
        thread.join()
        if "error" in box:
            raise box["error"]  # type: ignore[misc]
        return box["value"]  # type: ignore[return-value]

    async def acaption(
        self, requests: Sequence[CaptionRequest], settings: GenerationSettings
    ) -> list[CaptionResult]:
        """``caption`` for a caller that already has an event loop."""
        semaphore = asyncio.Semaphore(self.concurrency)
        connector = aiohttp.TCPConnector(limit=self.concurrency)
        async with aiohttp.ClientSession(
            connector=connector, headers=self._headers, trust_env=self.trust_env
        ) as session:

            async def one(request: CaptionRequest) -> CaptionResult:
                async with semaphore:
                    return await self._caption_one(session, request, settings)

            return list(await asyncio.gather(*(one(request) for request in requests)))

    async def _caption_one(
        self,
        session: aiohttp.ClientSession,
        request: CaptionRequest,
        settings: GenerationSettings,
    ) -> CaptionResult:
        instruction = request_instruction(request, settings)
        text, error = "", ""
        try:
            # JPEG encoding is CPU work: off the loop, so other requests keep flowing.
            data_url = await asyncio.to_thread(self._data_url, request.image)
        except ImageRejected as exc:
            error = rejection_text(exc)
        else:
            payload = self._payload(data_url, instruction, settings)
            try:
                text = await self._post_with_retries(session, payload)
            except _Fatal as exc:
                error = str(exc)
        return CaptionResult(
            key=request.key,
            text=text,
            error=error,
            model=self.model,
            params=provenance(settings, instruction),
        )

    def _data_url(self, image: Image.Image) -> str:
        rgb = prepared_image(image)
        if self.max_side and max(rgb.size) > self.max_side:
            rgb = rgb.copy()
            rgb.thumbnail((self.max_side, self.max_side), Image.Resampling.LANCZOS)
        buffer = io.BytesIO()
        rgb.save(buffer, format="JPEG", quality=95)
        return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")

    def _payload(self, data_url: str, instruction: str, settings: GenerationSettings) -> dict:
        return {
            "model": self.model,
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "image_url", "image_url": {"url": data_url}},
                        {"type": "text", "text": instruction},
                    ],
                }
            ],
            "max_tokens": settings.max_new_tokens,
            "temperature": settings.temperature,
            # Greedy (temperature 0) ignores top_p; 1 says so to servers that validate it.
            "top_p": 1.0 if settings.greedy else settings.top_p,
            "seed": settings.seed,
        }

    async def _post_with_retries(self, session: aiohttp.ClientSession, payload: dict) -> str:
        for attempt in range(self.max_retries + 1):
            try:
                return await self._post(session, payload)
            except _Retryable as exc:
                if attempt == self.max_retries:
                    tries = self.max_retries + 1
                    raise _Fatal(f"{exc} (gave up after {tries} attempts)") from exc
                await asyncio.sleep(self._delay(attempt, exc.wait))
        raise AssertionError("unreachable: the loop returns or raises")

    async def _post(self, session: aiohttp.ClientSession, payload: dict) -> str:
        self.attempts += 1
        timeout = aiohttp.ClientTimeout(total=self.timeout_s)
        try:
            async with session.post(self.url, json=payload, timeout=timeout) as response:
                body = await response.read()
                status = response.status
                retry_after = response.headers.get("Retry-After")
        except TimeoutError as exc:
            raise _Retryable(f"timed out after {self.timeout_s:g} s") from exc
        except aiohttp.ClientError as exc:
            # Connection refused or reset, a server that closed mid-answer: transient.
            raise _Retryable(f"connection failed: {type(exc).__name__}: {exc}") from exc
        snippet = body[:300].decode("utf-8", "replace")
        if status in RETRY_STATUSES or status >= 500:
            raise _Retryable(f"HTTP {status}: {snippet}", _retry_after_seconds(retry_after))
        if status != 200:
            raise _Fatal(f"HTTP {status}: {snippet}")
        return _content(body)

    def _delay(self, attempt: int, wait: float | None) -> float:
        if wait is not None:
            return min(max(wait, 0.0), self.max_retry_after_s)
        return random.uniform(0, min(self.max_backoff_s, self.backoff_s * 2**attempt))


def _content(body: bytes) -> str:
    """The first choice's message text of a chat completion, or ``_Fatal`` saying what is off."""
    try:
        answer = json.loads(body)
        content = answer["choices"][0]["message"]["content"]
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise _Fatal(f"malformed completion ({type(exc).__name__}): {body[:200]!r}") from exc
    if not isinstance(content, str):
        raise _Fatal(f"completion without text content: {body[:200]!r}")
    return content.strip()


def _retry_after_seconds(value: str | None) -> float | None:
    """A ``Retry-After`` header in seconds: delay-seconds (fractions accepted) or an HTTP date."""
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - datetime.now(UTC)).total_seconds(), 0.0)
