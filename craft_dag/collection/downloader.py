"""A polite, bounded, safe HTTP fetcher for web images (and the JSON of search APIs).

- concurrency: a global limit, a per-host limit, and a per-host request rate;
- time: connect and read timeouts, plus a limit on the whole transfer (a server that trickles
  bytes forever never trips a read timeout);
- retries: 429 and 5xx, timeouts, resets and truncated bodies are retried a bounded number of
  times with exponential backoff and jitter, honouring Retry-After;
- size: a declared Content-Length over the limit is refused before reading, and the limit is
  enforced again while streaming;
- safety: only http(s); every hop (redirects followed by hand) is resolved and vetted against
  private, loopback and link-local addresses, and the connection goes to the vetted address;
- manners: robots.txt is honoured per origin, and ``X-Robots-Tag: noai`` is respected.
"""

import asyncio
import email.utils
import ipaddress
import random
import time
import urllib.robotparser
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from craft_dag.collection.records import Fetched, FetchFailure
from craft_dag.collection.safety import address_allowed, noai_directive, parse_networks

_REDIRECTS = (301, 302, 303, 307, 308)
_RETRY_IN_RUN = frozenset(
    {"server_error", "rate_limited", "timeout", "connection_error", "truncated"}
)


@dataclass(frozen=True)
class DownloaderConfig:
    user_agent: str
    concurrency: int = 16
    per_host_concurrency: int = 4
    per_host_rate: float = 10.0  # request starts per second per host; 0 for no limit
    connect_timeout: float = 5.0
    read_timeout: float = 10.0
    total_timeout: float = 60.0
    max_retries: int = 3
    backoff_base: float = 0.5
    backoff_max: float = 30.0
    max_retry_after: float = 60.0
    max_bytes: int = 25 * 2**20
    max_redirects: int = 5
    respect_robots: bool = True
    respect_noai: bool = True
    allow_networks: tuple[str, ...] = ()  # e.g. ("127.0.0.1/32",) for tests; empty in production

    def __post_init__(self) -> None:
        if not self.user_agent.strip():
            raise ValueError("a user agent is required (name the project and a contact)")
        parse_networks(self.allow_networks)  # fail at configuration, not at the first fetch


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


class _HostGate:
    """At most ``limit`` requests at once to one host, and starts spaced by ``interval``."""

    def __init__(self, limit: int, rate: float) -> None:
        self._slots = asyncio.Semaphore(limit)
        self._interval = 1.0 / rate if rate > 0 else 0.0
        self._lock = asyncio.Lock()
        self._next = 0.0

    async def __aenter__(self) -> None:
        await self._slots.acquire()
        if self._interval:
            async with self._lock:
                now = time.monotonic()
                wait = self._next - now
                self._next = max(now, self._next) + self._interval
            if wait > 0:
                await asyncio.sleep(wait)

    async def __aexit__(self, *exc: object) -> None:
        self._slots.release()


class Downloader:
    """Use as ``async with Downloader(config) as d: await d.fetch(url)``."""

    def __init__(
        self,
        config: DownloaderConfig,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Callable[[float], Any] = asyncio.sleep,
    ) -> None:
        self.config = config
        self._allow = parse_networks(config.allow_networks)
        self._transport = transport
        self._sleep = sleep
        self._client: httpx.AsyncClient | None = None
        self._global = asyncio.Semaphore(config.concurrency)
        self._gates: dict[str, _HostGate] = {}
        self._robots: dict[str, urllib.robotparser.RobotFileParser | None] = {}
        self._robots_locks: dict[str, asyncio.Lock] = {}
        self.agent_token = config.user_agent.split("/", 1)[0].split()[0]

    async def __aenter__(self) -> "Downloader":
        c = self.config
        self._client = httpx.AsyncClient(
            follow_redirects=False,
            timeout=httpx.Timeout(
                connect=c.connect_timeout, read=c.read_timeout, write=c.read_timeout, pool=None
            ),
            limits=httpx.Limits(
                max_connections=c.concurrency, max_keepalive_connections=c.concurrency
            ),
            # Proxies from the environment would connect on our behalf to unvetted addresses.
            trust_env=False,
            transport=self._transport,
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    # -- public --------------------------------------------------------------------------------

    async def fetch(
        self, url: str, *, params: dict[str, Any] | None = None, max_bytes: int | None = None
    ) -> Fetched:
        """GET ``url`` with retries; return its body or raise FetchFailure with a reason."""
        attempts = 0
        while True:
            attempts += 1
            try:
                async with self._global:
                    fetched = await self._fetch_once(
                        url, params, max_bytes or self.config.max_bytes
                    )
                fetched.attempts = attempts
                return fetched
            except FetchFailure as failure:
                failure.attempts = attempts
                if failure.reason not in _RETRY_IN_RUN or attempts > self.config.max_retries:
                    raise
                delay = failure.retry_after
                if delay is None:
                    base = self.config.backoff_base * 2 ** (attempts - 1)
                    delay = min(self.config.backoff_max, base) + random.uniform(
                        0, self.config.backoff_base
                    )
                elif delay > self.config.max_retry_after:
                    failure.detail += f" (Retry-After {delay:.0f}s is over the {self.config.max_retry_after:.0f}s limit)"
                    raise
                await self._sleep(delay)

    # -- one attempt ---------------------------------------------------------------------------

    async def _vet(self, url: httpx.URL) -> str:
        """Resolve the host and return an address it is safe to connect to."""
        if url.scheme not in ("http", "https"):
            raise FetchFailure("bad_url", f"scheme {url.scheme!r} is not http(s)")
        host = url.raw_host.decode("ascii")
        if not host:
            raise FetchFailure("bad_url", "no host in URL")
        port = url.port or (443 if url.scheme == "https" else 80)
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=1)
        except OSError as exc:
            raise FetchFailure("connection_error", f"cannot resolve {host}: {exc}") from exc
        addresses = [ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos]
        refused = [str(a) for a in addresses if not address_allowed(a, self._allow)]
        if refused:
            # One bad answer is enough to refuse: the resolver could hand out either.
            raise FetchFailure("forbidden_address", f"{host} resolves to {', '.join(refused)}")
        return str(addresses[0])

    def _gate(self, host: str) -> _HostGate:
        gate = self._gates.get(host)
        if gate is None:
            gate = self._gates[host] = _HostGate(
                self.config.per_host_concurrency, self.config.per_host_rate
            )
        return gate

    async def _send(
        self, url: httpx.URL, address: str, params: dict[str, Any] | None
    ) -> httpx.Response:
        assert self._client is not None, "use the Downloader as an async context manager"
        host_header = url.netloc.decode("ascii")
        target = url.copy_with(host=address)
        if params:
            target = target.copy_merge_params(params)
        request = self._client.build_request(
            "GET",
            target,
            headers={"Host": host_header, "User-Agent": self.config.user_agent, "Accept": "*/*"},
            extensions={"sni_hostname": url.raw_host.decode("ascii")}
            if url.scheme == "https"
            else {},
        )
        return await self._client.send(request, stream=True)

    async def _fetch_once(
        self, url: str, params: dict[str, Any] | None, max_bytes: int, *, robots: bool = True
    ) -> Fetched:
        try:
            current = httpx.URL(url)
        except (httpx.InvalidURL, TypeError) as exc:
            raise FetchFailure("bad_url", str(exc)) from exc
        seen: set[str] = set()
        for _hop in range(self.config.max_redirects + 1):
            key = str(current.copy_merge_params(params or {}))
            if key in seen:
                raise FetchFailure("too_many_redirects", f"redirect loop at {current}")
            seen.add(key)
            address = await self._vet(current)
            if robots and self.config.respect_robots:
                await self._check_robots(current)
            host = current.host
            async with self._gate(host):
                location, fetched = await self._exchange(current, address, params, max_bytes)
            if fetched is not None:
                fetched.url = url
                return fetched
            current = current.join(location)
            params = None  # the Location header carries its own query
        raise FetchFailure("too_many_redirects", f"more than {self.config.max_redirects} redirects")

    async def _exchange(
        self, url: httpx.URL, address: str, params: dict[str, Any] | None, max_bytes: int
    ) -> tuple[str, Fetched | None]:
        try:
            async with asyncio.timeout(self.config.total_timeout):
                response = await self._send(url, address, params)
                try:
                    return await self._read(url, response, max_bytes)
                finally:
                    await response.aclose()
        except TimeoutError as exc:
            raise FetchFailure(
                "timeout", f"whole transfer over {self.config.total_timeout:.0f}s"
            ) from exc
        except httpx.TimeoutException as exc:
            raise FetchFailure("timeout", f"{type(exc).__name__} from {url.host}") from exc
        except httpx.RemoteProtocolError as exc:
            raise FetchFailure("truncated", f"{url.host}: {exc}") from exc
        except httpx.TransportError as exc:
            raise FetchFailure(
                "connection_error", f"{url.host}: {type(exc).__name__}: {exc}"
            ) from exc

    async def _read(
        self, url: httpx.URL, response: httpx.Response, max_bytes: int
    ) -> tuple[str, Fetched | None]:
        status = response.status_code
        if status in _REDIRECTS:
            location = response.headers.get("location")
            if not location:
                raise FetchFailure("http_error", f"{status} without a Location", http_status=status)
            return location, None
        if status == 429:
            raise FetchFailure(
                "rate_limited",
                f"429 from {url.host}",
                http_status=status,
                retry_after=_retry_after(response.headers.get("retry-after")),
            )
        if status >= 500:
            raise FetchFailure(
                "server_error",
                f"{status} from {url.host}",
                http_status=status,
                retry_after=_retry_after(response.headers.get("retry-after")),
            )
        if status >= 400:
            raise FetchFailure("http_error", f"{status} from {url.host}", http_status=status)
        if self.config.respect_noai and noai_directive(
            response.headers.get_list("x-robots-tag"), self.agent_token
        ):
            raise FetchFailure("noai", "X-Robots-Tag forbids AI use", http_status=status)
        declared = response.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > max_bytes:
            raise FetchFailure(
                "too_large", f"Content-Length {declared} > {max_bytes}", http_status=status
            )
        chunks, size = [], 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > max_bytes:
                raise FetchFailure("too_large", f"body over {max_bytes} bytes", http_status=status)
            chunks.append(chunk)
        return "", Fetched(
            url=str(url),
            final_url=str(url),
            data=b"".join(chunks),
            content_type=response.headers.get("content-type", ""),
            http_status=status,
            headers={k.lower(): v for k, v in response.headers.items()},
        )

    # -- robots.txt ------------------------------------------------------------------------------

    async def _check_robots(self, url: httpx.URL) -> None:
        origin = f"{url.scheme}://{url.netloc.decode('ascii')}"
        lock = self._robots_locks.setdefault(origin, asyncio.Lock())
        async with lock:
            if origin not in self._robots:
                self._robots[origin] = await self._load_robots(origin)
        parser = self._robots[origin]
        if parser is not None and not parser.can_fetch(self.agent_token, str(url)):
            raise FetchFailure("robots_disallowed", f"robots.txt of {origin} disallows {url.path}")

    async def _load_robots(self, origin: str) -> urllib.robotparser.RobotFileParser | None:
        """The parsed robots.txt, or None when there is none (RFC 9309: 4xx means allow all)."""
        try:
            fetched = await self._fetch_once(f"{origin}/robots.txt", None, 512 * 1024, robots=False)
        except FetchFailure as failure:
            if failure.reason in ("http_error", "too_many_redirects", "bad_url", "too_large"):
                return None
            # 5xx or unreachable: RFC 9309 says assume complete disallow, for now.
            raise FetchFailure(
                "robots_unavailable", f"robots.txt of {origin}: {failure.reason} {failure.detail}"
            ) from failure
        parser = urllib.robotparser.RobotFileParser()
        parser.parse(fetched.data.decode("utf-8", errors="replace").splitlines())
        return parser
