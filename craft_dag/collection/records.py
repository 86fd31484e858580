"""What collection produces: candidates from sources, fetch outcomes, and the reasons vocabulary."""

from dataclasses import dataclass, field

# Why a candidate did not become an image. Retryable reasons are fetched again when a partition
# is re-materialised; the others are final (the same URL would fail the same way).
RETRYABLE_REASONS = frozenset(
    {
        "server_error",  # 5xx after the retries of one run
        "rate_limited",  # 429 after the retries of one run, or a Retry-After too long to wait
        "timeout",  # connect, read or whole-transfer timeout
        "connection_error",  # refused, reset, DNS failure
        "truncated",  # the body ended before its Content-Length
        "robots_unavailable",  # robots.txt answered 5xx or not at all (RFC 9309: assume disallow)
    }
)
FINAL_REASONS = frozenset(
    {
        "http_error",  # 4xx other than 429
        "too_large",  # over the byte limit (declared or streamed)
        "not_an_image",  # the bytes are no image format we accept, whatever Content-Type says
        "decode_error",  # an image header, but Pillow cannot decode it
        "decompression_bomb",  # more pixels than the limit
        "forbidden_address",  # private, loopback or link-local target (also after a redirect)
        "too_many_redirects",  # a redirect loop or a chain over the limit
        "bad_url",  # not http(s), malformed, or a source path that does not exist
        "robots_disallowed",  # robots.txt disallows the path for our user agent
        "noai",  # X-Robots-Tag: noai / noimageai
        "duplicate",  # the same image bytes already collected for this entity
    }
)
REASONS = RETRYABLE_REASONS | FINAL_REASONS


@dataclass(frozen=True)
class EntityRef:
    """What a source needs to know about an entity to find images of it."""

    entity_id: str
    category: str
    native_name: str
    english_name: str
    queries: tuple[str, ...]
    english_queries: tuple[str, ...] = ()


@dataclass(frozen=True)
class Candidate:
    """An image a source proposes for an entity, with everything known of its provenance."""

    entity_id: str
    category: str
    source: str
    query: str
    url: str
    rank: int  # position in the source's answer for this entity: the stable row order
    page_url: str = ""
    licence: str = ""
    author: str = ""
    title: str = ""


@dataclass
class FetchFailure(Exception):
    """A fetch that produced no image, with a reason from ``REASONS``."""

    reason: str
    detail: str = ""
    http_status: int | None = None
    attempts: int = 1
    retry_after: float | None = None  # seconds the server asked us to wait, if it said

    def __post_init__(self) -> None:
        if self.reason not in REASONS:
            raise ValueError(f"unknown fetch failure reason {self.reason!r}")
        super().__init__(f"{self.reason}: {self.detail}")

    @property
    def retryable(self) -> bool:
        return self.reason in RETRYABLE_REASONS


@dataclass
class Fetched:
    """The bytes of one successful fetch."""

    url: str
    final_url: str
    data: bytes
    content_type: str = ""
    http_status: int | None = None
    attempts: int = 1
    headers: dict[str, str] = field(default_factory=dict)
