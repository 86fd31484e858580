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

The HTTP client is aiohttp: at 16 requests in flight its CPU cost per request measured about a
tenth of httpx's async client (bench/bench_fetch.py), and on two cores the event loop's CPU is
what bounds throughput. Connections are pinned to vetted addresses through a resolver that
refuses forbidden ones, so a name cannot resolve to a public address for the check and a private
one for the connection.
"""

import asyncio
import email.utils
import ipaddress
import random
import socket
import time
import urllib.robotparser
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from yarl import URL

from craft_dag.collection.records import Fetched, FetchFailure
from craft_dag.collection.safety import Network, address_allowed, noai_directive, parse_networks

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


class _ForbiddenAddress(OSError):
    """Raised by the resolver; the fetch reports it as ``forbidden_address``."""


class _VettingResolver(AbstractResolver):
    """Resolves names and refuses any answer outside the public internet (or the allow list)."""

    def __init__(self, allow: tuple[Network, ...]) -> None:
        self._allow = allow

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        infos = await asyncio.get_running_loop().getaddrinfo(
            host, port, type=socket.SOCK_STREAM, family=family
        )
        results: list[ResolveResult] = []
        for fam, _type, proto, _name, sockaddr in infos:
            address = str(sockaddr[0]).split("%")[0]
            if not address_allowed(ipaddress.ip_address(address), self._allow):
                # One bad answer is enough to refuse: the resolver could hand out either.
                raise _ForbiddenAddress(f"{host} resolves to {address}")
            results.append(
                {
                    "hostname": host,
                    "host": address,
                    "port": sockaddr[1],
                    "family": fam,
                    "proto": proto,
                    "flags": socket.AI_NUMERICHOST,
                }
            )
        return results

    async def close(self) -> None:
        return None


def _forbidden_cause(exc: BaseException) -> _ForbiddenAddress | None:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, _ForbiddenAddress):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


class Downloader:
    """Use as ``async with Downloader(config) as d: await d.fetch(url)``."""

    def __init__(
        self, config: DownloaderConfig, *, sleep: Callable[[float], Any] = asyncio.sleep
    ) -> None:
        self.config = config
        self._allow = parse_networks(config.allow_networks)
        self._sleep = sleep
        self._session: aiohttp.ClientSession | None = None
        self._global = asyncio.Semaphore(config.concurrency)
        self._gates: dict[str, _HostGate] = {}
        self._robots: dict[str, urllib.robotparser.RobotFileParser | None] = {}
        self._robots_locks: dict[str, asyncio.Lock] = {}
        self.agent_token = config.user_agent.split("/", 1)[0].split()[0]

    async def __aenter__(self) -> "Downloader":
        c = self.config
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(
                limit=c.concurrency, resolver=_VettingResolver(self._allow), ttl_dns_cache=60
            ),
            timeout=aiohttp.ClientTimeout(
                total=None, sock_connect=c.connect_timeout, sock_read=c.read_timeout
            ),
            headers={"User-Agent": c.user_agent, "Accept": "*/*"},
            # Proxies from the environment would connect on our behalf to unvetted addresses.
            trust_env=False,
            cookie_jar=aiohttp.DummyCookieJar(),
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

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
                    failure.detail += (
                        f" (Retry-After {delay:.0f}s is over the "
                        f"{self.config.max_retry_after:.0f}s limit)"
                    )
                    raise
                await self._sleep(delay)

    # -- one attempt ---------------------------------------------------------------------------

    async def _vet(self, url: URL) -> None:
        """Refuse non-http(s) URLs and hosts (names or literals) outside the allowed addresses.

        Names are checked again by the connector's resolver at connect time; IP literals never
        reach a resolver, so this check is the one that stops them.
        """
        if url.scheme not in ("http", "https"):
            raise FetchFailure("bad_url", f"scheme {url.scheme!r} is not http(s)")
        host = url.raw_host
        if not host:
            raise FetchFailure("bad_url", "no host in URL")
        try:
            await _VettingResolver(self._allow).resolve(host, url.port or 0, socket.AF_UNSPEC)
        except _ForbiddenAddress as exc:
            raise FetchFailure("forbidden_address", str(exc)) from exc
        except OSError as exc:
            raise FetchFailure("connection_error", f"cannot resolve {host}: {exc}") from exc

    def _gate(self, host: str) -> _HostGate:
        gate = self._gates.get(host)
        if gate is None:
            gate = self._gates[host] = _HostGate(
                self.config.per_host_concurrency, self.config.per_host_rate
            )
        return gate

    async def _fetch_once(
        self, url: str, params: dict[str, Any] | None, max_bytes: int, *, robots: bool = True
    ) -> Fetched:
        try:
            current = URL(url)
            if params:
                current = current.extend_query({k: str(v) for k, v in params.items()})
        except (ValueError, TypeError) as exc:
            raise FetchFailure("bad_url", str(exc)) from exc
        if not current.is_absolute():
            raise FetchFailure("bad_url", f"not an absolute URL: {url!r}")
        seen: set[str] = set()
        for _hop in range(self.config.max_redirects + 1):
            if str(current) in seen:
                raise FetchFailure("too_many_redirects", f"redirect loop at {current}")
            seen.add(str(current))
            await self._vet(current)
            if robots and self.config.respect_robots:
                await self._check_robots(current)
            async with self._gate(current.host or ""):
                location, fetched = await self._exchange(current, max_bytes)
            if fetched is not None:
                fetched.url = url
                return fetched
            try:
                current = current.join(URL(location))
            except ValueError as exc:
                raise FetchFailure("bad_url", f"bad redirect Location {location!r}") from exc
        raise FetchFailure("too_many_redirects", f"more than {self.config.max_redirects} redirects")

    async def _exchange(self, url: URL, max_bytes: int) -> tuple[str, Fetched | None]:
        assert self._session is not None, "use the Downloader as an async context manager"
        try:
            async with asyncio.timeout(self.config.total_timeout):
                async with self._session.get(url, allow_redirects=False) as response:
                    return await self._read(url, response, max_bytes)
        except FetchFailure:
            raise
        except TimeoutError as exc:
            # aiohttp's socket read/connect timeouts are TimeoutErrors too: tell them apart.
            if isinstance(exc, aiohttp.ServerTimeoutError):
                raise FetchFailure("timeout", f"{type(exc).__name__} from {url.host}") from exc
            raise FetchFailure(
                "timeout", f"whole transfer over {self.config.total_timeout:.0f}s"
            ) from exc
        except aiohttp.ClientPayloadError as exc:
            raise FetchFailure("truncated", f"{url.host}: {exc}") from exc
        except (aiohttp.ClientError, OSError) as exc:
            if (forbidden := _forbidden_cause(exc)) is not None:
                raise FetchFailure("forbidden_address", str(forbidden)) from exc
            raise FetchFailure(
                "connection_error", f"{url.host}: {type(exc).__name__}: {exc}"
            ) from exc

    async def _read(
        self, url: URL, response: aiohttp.ClientResponse, max_bytes: int
    ) -> tuple[str, Fetched | None]:
        status = response.status
        if status in _REDIRECTS:
            location = response.headers.get("Location")
            if not location:
                raise FetchFailure("http_error", f"{status} without a Location", http_status=status)
            return location, None
        if status == 429 or status >= 500:
            raise FetchFailure(
                "rate_limited" if status == 429 else "server_error",
                f"{status} from {url.host}",
                http_status=status,
                retry_after=_retry_after(response.headers.get("Retry-After")),
            )
        if status >= 400:
            raise FetchFailure("http_error", f"{status} from {url.host}", http_status=status)
        if self.config.respect_noai and noai_directive(
            response.headers.getall("X-Robots-Tag", []), self.agent_token
        ):
            raise FetchFailure("noai", "X-Robots-Tag forbids AI use", http_status=status)
        declared = response.content_length
        if declared is not None and declared > max_bytes:
            raise FetchFailure(
                "too_large", f"Content-Length {declared} > {max_bytes}", http_status=status
            )
        chunks, size = [], 0
        async for chunk in response.content.iter_chunked(256 * 1024):
            size += len(chunk)
            if size > max_bytes:
                raise FetchFailure("too_large", f"body over {max_bytes} bytes", http_status=status)
            chunks.append(chunk)
        if declared is not None and size < declared:
            raise FetchFailure("truncated", f"{size} of {declared} bytes", http_status=status)
        return "", Fetched(
            url=str(url),
            final_url=str(url),
            data=b"".join(chunks),
            content_type=response.headers.get("Content-Type", ""),
            http_status=status,
            headers={k.lower(): v for k, v in response.headers.items()},
        )

    # -- robots.txt ------------------------------------------------------------------------------

    async def _check_robots(self, url: URL) -> None:
        origin = str(url.origin())
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
