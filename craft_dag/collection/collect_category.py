"""Collect one category's images: search, fetch, verify, store; resumable and idempotent.

Re-running a category fetches only candidates it has not settled yet: images already stored
are kept as they are, final failures (a 404, not an image) are carried over, and retryable
failures (timeouts, 5xx, rate limits) are tried again. While it works, the collector writes a
checkpoint every few outcomes, atomically, so a run killed mid-way loses at most the last few
fetches and a new run finishes with the same rows as an uninterrupted one. Blobs are
content-addressed, so fetching the same bytes twice stores them once.

Rows come out in a fixed order (entity, then the source's rank), independent of which fetch
finished first; when two URLs of one entity give the same bytes, the better-ranked one wins.
"""

import asyncio
import hashlib
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pyarrow as pa

from craft_dag.collection.downloader import Downloader, DownloaderConfig
from craft_dag.collection.records import FINAL_REASONS, Candidate, EntityRef, FetchFailure
from craft_dag.collection.sources import ImageSource
from craft_dag.imaging.decode import DEFAULT_MAX_PIXELS, ImageRejected, decode_image
from craft_dag.storage import Storage

IMAGES = "raw_images"
FETCH_LOG = "raw_images_fetch_log"
CHECKPOINT_IMAGES = "raw_images_checkpoint"
CHECKPOINT_LOG = "raw_images_checkpoint_log"

IMAGE_SCHEMA = pa.schema(
    [
        ("image_id", pa.string()),  # sha256 of the stored bytes
        ("source_sha256", pa.string()),  # sha256 of the bytes as fetched (differs if re-oriented)
        ("entity_id", pa.string()),
        ("category", pa.string()),
        ("source", pa.string()),
        ("query", pa.string()),
        ("rank", pa.int32()),
        ("url", pa.string()),
        ("page_url", pa.string()),
        ("licence", pa.string()),
        ("author", pa.string()),
        ("title", pa.string()),
        ("width", pa.int32()),
        ("height", pa.int32()),
        ("format", pa.string()),
        ("mode", pa.string()),
        ("frames", pa.int32()),
        ("bytes", pa.int64()),
        ("blob_key", pa.string()),
        ("fetched_at", pa.timestamp("us", tz="UTC")),
    ]
)
LOG_SCHEMA = pa.schema(
    [
        ("entity_id", pa.string()),
        ("category", pa.string()),
        ("source", pa.string()),
        ("query", pa.string()),
        ("rank", pa.int32()),
        ("url", pa.string()),
        ("reason", pa.string()),
        ("retryable", pa.bool_()),
        ("detail", pa.string()),
        ("http_status", pa.int32()),
        ("attempts", pa.int32()),
        ("logged_at", pa.timestamp("us", tz="UTC")),
    ]
)


@dataclass(frozen=True)
class CollectLimits:
    per_query: int = 10  # candidates asked of a source for each query
    per_entity: int = 40  # candidates kept for one entity, over all its queries
    max_pixels: int = DEFAULT_MAX_PIXELS
    checkpoint_every: int = 25  # outcomes between checkpoints


@dataclass
class CollectResult:
    images: pa.Table
    fetch_log: pa.Table
    fetched: int  # candidates fetched over the network / file system in this run
    reused: int  # candidates settled by an earlier run and carried over
    outcomes: Counter = field(default_factory=Counter)  # "ok" and failure reasons
    coverage: dict[str, int] = field(default_factory=dict)  # entity id -> images
    over_quota: int = 0  # candidates left out by the per-entity quota


def _now() -> datetime:
    return datetime.now(UTC)


def _key(entity_id: str, url: str) -> tuple[str, str]:
    return entity_id, url


def _prior(storage: Storage, asset: str, checkpoint: str, category: str) -> list[dict]:
    rows: list[dict] = []
    for name in (asset, checkpoint):
        if storage.has_table(name, category):
            rows.extend(storage.read_table(name, category).to_pylist())
    return rows


class _Run:
    def __init__(
        self,
        category: str,
        storage: Storage,
        limits: CollectLimits,
        log: Callable[[str], None],
        *,
        checkpoint: bool = True,
    ) -> None:
        self.category = category
        self.writes_checkpoint = checkpoint
        self.storage = storage
        self.limits = limits
        self.log = log
        self.images: dict[tuple[str, str], dict] = {}
        self.failures: dict[tuple[str, str], dict] = {}
        self.new_since_checkpoint = 0
        self.fetched = 0
        self.total = 0
        self.done = 0
        self.last_progress = time.monotonic()

    def checkpoint(self) -> None:
        if not self.writes_checkpoint or self.new_since_checkpoint < self.limits.checkpoint_every:
            return
        self.storage.write_table(
            CHECKPOINT_IMAGES,
            self.category,
            pa.Table.from_pylist(list(self.images.values()), schema=IMAGE_SCHEMA),
        )
        self.storage.write_table(
            CHECKPOINT_LOG,
            self.category,
            pa.Table.from_pylist(list(self.failures.values()), schema=LOG_SCHEMA),
        )
        self.new_since_checkpoint = 0

    def progress(self) -> None:
        now = time.monotonic()
        if self.done == self.total or now - self.last_progress >= 5.0:
            self.last_progress = now
            reasons = Counter(f["reason"] for f in self.failures.values())
            detail = ", ".join(f"{r} {n}" for r, n in reasons.most_common(4))
            self.log(
                f"{self.category}: {self.done}/{self.total} candidates settled, "
                f"{len(self.images)} images, {len(self.failures)} failures"
                + (f" ({detail})" if detail else "")
            )

    def failure_row(self, c: Candidate, failure: FetchFailure) -> dict:
        return {
            "entity_id": c.entity_id,
            "category": c.category,
            "source": c.source,
            "query": c.query,
            "rank": c.rank,
            "url": c.url,
            "reason": failure.reason,
            "retryable": failure.retryable,
            "detail": failure.detail[:500],
            "http_status": failure.http_status,
            "attempts": failure.attempts,
            "logged_at": _now(),
        }

    async def settle(self, c: Candidate, source: ImageSource, downloader: Downloader) -> None:
        key = _key(c.entity_id, c.url)
        try:
            fetched = await source.fetch(c, downloader)
            try:
                decoded = await asyncio.to_thread(
                    decode_image, fetched.data, self.limits.max_pixels
                )
            except ImageRejected as rejected:
                raise FetchFailure(
                    rejected.reason, rejected.detail, attempts=fetched.attempts
                ) from None
            image_id = await asyncio.to_thread(self.storage.put_blob, decoded.data)
            self.images[key] = {
                "image_id": image_id,
                "source_sha256": hashlib.sha256(fetched.data).hexdigest(),
                "entity_id": c.entity_id,
                "category": c.category,
                "source": c.source,
                "query": c.query,
                "rank": c.rank,
                "url": c.url,
                "page_url": c.page_url,
                "licence": c.licence,
                "author": c.author,
                "title": c.title,
                "width": decoded.width,
                "height": decoded.height,
                "format": decoded.format,
                "mode": decoded.mode,
                "frames": decoded.frames,
                "bytes": len(decoded.data),
                "blob_key": self.storage.blob_key(image_id),
                "fetched_at": _now(),
            }
            self.failures.pop(key, None)
        except FetchFailure as failure:
            self.failures[key] = self.failure_row(c, failure)
        self.fetched += 1
        self.done += 1
        self.new_since_checkpoint += 1
        self.checkpoint()
        self.progress()


def _finalise(
    candidates: Sequence[Candidate],
    images: dict[tuple[str, str], dict],
    failures: dict[tuple[str, str], dict],
    entity_order: dict[str, int],
) -> tuple[list[dict], list[dict]]:
    """Rows in (entity, rank) order; the best-ranked URL of each (entity, image) pair wins."""
    image_rows: list[dict] = []
    log_rows: list[dict] = []
    winner: dict[tuple[str, str], str] = {}
    ordered = sorted(candidates, key=lambda c: (entity_order[c.entity_id], c.rank, c.url))
    for c in ordered:
        key = _key(c.entity_id, c.url)
        if key in images:
            row = images[key]
            pair = (c.entity_id, row["image_id"])
            if pair in winner:
                log_rows.append(
                    {
                        **{
                            k: row[k]
                            for k in ("entity_id", "category", "source", "query", "rank", "url")
                        },
                        "reason": "duplicate",
                        "retryable": False,
                        "detail": f"same image as {winner[pair]}",
                        "http_status": None,
                        "attempts": 0,
                        "logged_at": row["fetched_at"],
                    }
                )
                continue
            winner[pair] = c.url
            image_rows.append({**row, "rank": c.rank, "query": c.query})
        elif key in failures:
            log_rows.append({**failures[key], "rank": c.rank})
    return image_rows, log_rows


async def gather_candidates(
    category: str,
    entities: Sequence[EntityRef],
    source: ImageSource,
    downloader: Downloader,
    limits: CollectLimits,
    log: Callable[[str], None],
) -> tuple[list[Candidate], int]:
    """Every entity's candidates from ``source``, each entity's cut to the quota; and how many
    the quota left out. A failed search is logged and that entity has none this run."""
    searched = await asyncio.gather(
        *(source.candidates(e, limits.per_query, downloader) for e in entities),
        return_exceptions=True,
    )
    candidates: list[Candidate] = []
    over_quota = 0
    for entity, found in zip(entities, searched, strict=True):
        if isinstance(found, FetchFailure):
            log(f"{category}: search for {entity.entity_id} failed: {found}")
            continue
        if isinstance(found, BaseException):
            raise found
        candidates.extend(found[: limits.per_entity])
        over_quota += max(0, len(found) - limits.per_entity)
    if over_quota:
        log(
            f"{category}: {over_quota} candidates over the per-entity quota "
            f"({limits.per_entity}) were left out"
        )
    return candidates, over_quota


def prior_settled(
    storage: Storage, category: str
) -> tuple[dict[tuple[str, str], dict], dict[tuple[str, str], dict]]:
    """What earlier runs settled, by (entity, url): stored images, and final failures only (a
    retryable failure is tried again)."""
    images = {
        _key(r["entity_id"], r["url"]): r
        for r in _prior(storage, IMAGES, CHECKPOINT_IMAGES, category)
    }
    failures = {
        _key(r["entity_id"], r["url"]): r
        for r in _prior(storage, FETCH_LOG, CHECKPOINT_LOG, category)
        if r["reason"] in FINAL_REASONS
    }
    return images, failures


@dataclass
class Fetching:
    """One run's outcome per (entity, url), before the rows are put in order."""

    images: dict[tuple[str, str], dict]
    failures: dict[tuple[str, str], dict]
    fetched: int
    reused: int


async def fetch_candidates(
    category: str,
    candidates: Sequence[Candidate],
    prior_images: dict[tuple[str, str], dict],
    prior_failures: dict[tuple[str, str], dict],
    source: ImageSource,
    downloader: Downloader,
    storage: Storage,
    limits: CollectLimits,
    log: Callable[[str], None],
    *,
    checkpoint: bool = True,
) -> Fetching:
    """Settle every candidate: carry over what ``prior_*`` settled (an image only while its
    blob is stored), fetch, verify and store the rest. ``checkpoint`` writes the category's
    checkpoint tables as it goes (a shard does not: it is redone whole)."""
    run = _Run(category, storage, limits, log, checkpoint=checkpoint)
    todo: list[Candidate] = []
    reused = 0
    for c in candidates:
        key = _key(c.entity_id, c.url)
        if key in prior_images and storage.has_blob(prior_images[key]["image_id"]):
            run.images[key] = prior_images[key]
            reused += 1
        elif key in prior_failures:
            run.failures[key] = prior_failures[key]
            reused += 1
        else:
            todo.append(c)
    run.total, run.done = len(candidates), reused
    log(f"{category}: {len(candidates)} candidates; {reused} settled earlier, {len(todo)} to fetch")
    await asyncio.gather(*(run.settle(c, source, downloader) for c in todo))
    return Fetching(run.images, run.failures, run.fetched, reused)


def collect_result(
    candidates: Sequence[Candidate],
    entities: Sequence[EntityRef],
    fetching: Fetching,
    over_quota: int,
) -> CollectResult:
    """The category's tables in their fixed order, with the counts for the materialisation."""
    entity_order = {e.entity_id: i for i, e in enumerate(entities)}
    image_rows, log_rows = _finalise(candidates, fetching.images, fetching.failures, entity_order)
    images = pa.Table.from_pylist(image_rows, schema=IMAGE_SCHEMA)
    fetch_log = pa.Table.from_pylist(log_rows, schema=LOG_SCHEMA)
    outcomes = Counter({"ok": len(image_rows)}) + Counter(r["reason"] for r in log_rows)
    coverage = {e.entity_id: 0 for e in entities}
    for row in image_rows:
        coverage[row["entity_id"]] += 1
    return CollectResult(
        images, fetch_log, fetching.fetched, fetching.reused, outcomes, coverage, over_quota
    )


def write_collected(storage: Storage, category: str, result: CollectResult) -> None:
    """Write the category's ``raw_images`` and fetch log, then drop the checkpoint."""
    storage.write_table(IMAGES, category, result.images)
    storage.write_table(FETCH_LOG, category, result.fetch_log)
    storage.delete_table(CHECKPOINT_IMAGES, category)
    storage.delete_table(CHECKPOINT_LOG, category)


async def _collect(
    category: str,
    entities: Sequence[EntityRef],
    source: ImageSource,
    config: DownloaderConfig,
    storage: Storage,
    limits: CollectLimits,
    log: Callable[[str], None],
) -> CollectResult:
    prior_images, prior_failures = prior_settled(storage, category)
    async with Downloader(config) as downloader:
        candidates, over_quota = await gather_candidates(
            category, entities, source, downloader, limits, log
        )
        fetching = await fetch_candidates(
            category, candidates, prior_images, prior_failures, source, downloader, storage,
            limits, log,
        )  # fmt: skip
    return collect_result(candidates, entities, fetching, over_quota)


def collect_category(
    category: str,
    entities: Sequence[EntityRef],
    source: ImageSource,
    config: DownloaderConfig,
    storage: Storage,
    limits: CollectLimits | None = None,
    log: Callable[[str], None] = print,
) -> CollectResult:
    """Collect, then write the category's ``raw_images`` and fetch log and drop the checkpoint."""
    result = asyncio.run(
        _collect(category, entities, source, config, storage, limits or CollectLimits(), log)
    )
    write_collected(storage, category, result)
    return result
