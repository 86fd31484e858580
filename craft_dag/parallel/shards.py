"""Shards of a category's work items: a stable key, atomic part files, resume by shard.

A shard's content depends only on its items' keys (a hash, not the order of a table), so the
same image lands in the same shard on every run. Each shard writes one part file
``<asset>/<category>/part-<shard>.parquet`` atomically through ``Storage``; the part carries a
fingerprint of what made it (its keys and the settings), so a re-materialisation reuses a part
whose fingerprint still matches and redoes only the shards that are missing, stale or failed.
"""

import hashlib
import io
import json
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from craft_dag.storage import Storage, StorageError

FINGERPRINT_KEY = b"craft_dag.shard_fingerprint"
MANIFEST = "manifest.json"


def shard_of(key: str, num_shards: int) -> int:
    """The shard of ``key``: a hash, so it never depends on the order items come in."""
    if num_shards < 1:
        raise ValueError(f"num_shards must be >= 1, got {num_shards}")
    digest = hashlib.sha256(key.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % num_shards


def split(items: Iterable[Any], key: Callable[[Any], str], num_shards: int) -> dict[int, list]:
    """Items by shard (only shards with items), each in its input order."""
    out: dict[int, list] = {}
    for item in items:
        out.setdefault(shard_of(key(item), num_shards), []).append(item)
    return dict(sorted(out.items()))


def fingerprint(keys: Sequence[str], settings: str) -> str:
    """What a part was made from: its sorted keys and the settings (scorers, thresholds...)."""
    h = hashlib.sha256(settings.encode("utf-8"))
    for k in sorted(keys):
        h.update(b"\0" + k.encode("utf-8"))
    return h.hexdigest()[:16]


def part_name(shard: int) -> str:
    return f"part-{shard:05d}.parquet"


def write_part(
    store: Storage, asset: str, category: str, shard: int, table: pa.Table, fp: str
) -> str:
    """Write one shard's table atomically, its fingerprint in the Parquet metadata."""
    meta = dict(table.schema.metadata or {})
    meta[FINGERPRINT_KEY] = fp.encode()
    buffer = io.BytesIO()
    pq.write_table(table.replace_schema_metadata(meta), buffer, compression="zstd")
    return store.write_file((asset, category, part_name(shard)), buffer.getvalue())


def read_part(store: Storage, asset: str, category: str, shard: int) -> tuple[pa.Table, str]:
    table = pq.read_table(io.BytesIO(store.read_file((asset, category, part_name(shard)))))
    fp = (table.schema.metadata or {}).get(FINGERPRINT_KEY, b"").decode()
    return table, fp


def part_fingerprint(store: Storage, asset: str, category: str, shard: int) -> str | None:
    """The fingerprint of a stored part, or None when there is none (or it is unreadable)."""
    try:
        data = store.read_file((asset, category, part_name(shard)))
        meta = pq.read_schema(io.BytesIO(data)).metadata or {}
    except (StorageError, OSError, pa.ArrowInvalid):
        return None
    return meta.get(FINGERPRINT_KEY, b"").decode() or None


@dataclass(frozen=True)
class ShardOutcome:
    shard: int
    status: str  # done | reused | failed
    items: int
    seconds: float = 0.0
    error: str = ""  # "ExceptionType: message" when failed
    node: str = ""  # the Ray node that ran it ("" in process, or when reused)


@dataclass
class ShardReport:
    """What happened to each shard of one materialisation, for metadata and the manifest."""

    outcomes: list[ShardOutcome] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(1 for o in self.outcomes if o.status == status)

    @property
    def all_failed(self) -> bool:
        return bool(self.outcomes) and self.count("failed") == len(self.outcomes)

    def summary(self) -> dict[str, Any]:
        ran = [o.seconds for o in self.outcomes if o.status == "done"]
        return {
            "shards": len(self.outcomes),
            "shards_done": self.count("done"),
            "shards_reused": self.count("reused"),
            "shards_failed": self.count("failed"),
            "shard_seconds_max": round(max(ran), 3) if ran else 0.0,
            "shard_seconds_total": round(sum(ran), 3),
            "shard_nodes": len(self.nodes()),
        }

    def nodes(self) -> set[str]:
        """The Ray nodes that ran a shard this time (empty in process)."""
        return {o.node for o in self.outcomes if o.node}

    def failures(self) -> dict[str, str]:
        return {str(o.shard): o.error for o in self.outcomes if o.status == "failed"}

    def write_manifest(self, store: Storage, asset: str, category: str) -> str:
        payload = {"summary": self.summary(), "shards": [asdict(o) for o in self.outcomes]}
        return store.write_file((asset, category, MANIFEST), json.dumps(payload, indent=1).encode())


@dataclass(frozen=True)
class ShardTask:
    """One shard to run: a picklable, module-level function and its argument."""

    shard: int
    items: int
    fn: Callable[[Any], Any]
    arg: Any


@dataclass(frozen=True)
class ShardResult:
    shard: int
    items: int
    seconds: float
    value: Any = None
    error: str = ""
    node: str = ""  # the Ray node id it ran on; "" in process


def run_local(tasks: Sequence[ShardTask]) -> Iterator[ShardResult]:
    """Run shards one after another in this process; an exception is that shard's failure."""
    for task in tasks:
        started = time.perf_counter()
        try:
            value = task.fn(task.arg)
        except Exception as exc:  # one failed shard never fails the category
            yield ShardResult(
                task.shard, task.items, time.perf_counter() - started, error=_why(exc)
            )
            continue
        yield ShardResult(task.shard, task.items, time.perf_counter() - started, value)


def _why(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"
