"""A near-duplicate search over perceptual hashes that stays feasible at a million images.

The same photo turns up many times in a web collection: resized, recompressed, lightly
cropped. Two perceptual hashes (``dhash``: brightness gradients; ``phash``: low DCT
frequencies, both in ``perceptual_hash`` and re-exported here) map such copies to 64-bit
values a few bits apart, and ``group_near_duplicates`` puts every set of copies in one group,
so that ``keeper`` can keep the best of each (``choose_keepers``, re-exported here).

Search structure: multi-index hashing (Norouzi et al., "Fast search in Hamming space with
multi-index hashing", CVPR 2012). The 64 bits are cut into ``m`` chunks; if two hashes are
within ``radius`` bits, some chunk differs in at most ``radius // m`` bits (pigeonhole), so
the candidates are the entries whose chunk equals one of the query's chunk with up to that
many bits flipped, and each candidate is then checked with a full Hamming distance. ``m`` is
chosen per index size from a cost model. With ``m = radius + 1`` (exact chunk match) the
chunks are only 7-8 bits wide, every bucket holds 1/128-1/256 of the hashes and verifying
them dominates; fewer, wider chunks with a flip or two cost a few hundred lookups and leave a
few hundred candidates. Measured on a 2-core VM at radius 8, per query: 3 chunks of 21-22
bits with up to 2 flips, 0.18 ms at 100k hashes and 0.27 ms at 1M (tables built in 0.8 s);
9 exact chunks, 1.8 ms and 26 ms. Small indexes are simply scanned (one vectorised XOR and
popcount), which the cost model prefers below roughly 50k hashes.

Why not a BK-tree: 64-bit hashes sit around 32 bits apart, so at radius 8 the triangle
inequality prunes few branches and a query visits much of the tree, in interpreted Python:
60 ms a query at 100k hashes, 670 ms at 1M (and 12 s to build).

The tables are numpy arrays (a counting sort of each chunk), not dicts of lists: a million
entries take about 130 MB instead of half a GB, build in under a second instead of ten, and
a query does its few hundred lookups in a handful of vectorised calls. Grouping a whole
collection joins the tables with themselves, one vectorised pass per chunk and flip pattern
rather than one query per image: 2 s for 100k hashes and 35 s for 1M at radius 8, against
17 s for 100k through per-image queries.
"""

import itertools
import math
import operator
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy.sparse import coo_array
from scipy.sparse.csgraph import connected_components

from craft_dag.curation.keeper import choose_keepers as choose_keepers
from craft_dag.curation.perceptual_hash import dhash as dhash
from craft_dag.curation.perceptual_hash import hamming as hamming
from craft_dag.curation.perceptual_hash import phash as phash

HASH_BITS = 64
_HASH_LIMIT = 1 << HASH_BITS

# Cost model, in microseconds, measured on a small VM with numpy 2; only the ratios matter.
# One query: numpy calls per chunk, a bucket lookup per flipped chunk, a check per candidate;
# or a full scan of every hash (one XOR + popcount pass).
_QUERY_CHUNK_US = 45.0
_QUERY_LOOKUP_US = 0.07
_QUERY_CANDIDATE_US = 0.25
_SCAN_FIXED_US = 8.0
_SCAN_HASH_US = 0.0026
# The batch self-join of group_near_duplicates: per item and flip, and per candidate pair.
_JOIN_MASK_US = 60.0
_JOIN_LOOKUP_US = 0.02
_JOIN_CANDIDATE_US = 0.03
# Direct bucket addressing (an offsets array of 2**width int32) while that stays within this
# many offsets per hash (256 bytes); beyond it, binary search in the sorted chunk values,
# which costs memory only per hash but doubles the query time (0.36 against 0.17 ms at 100k
# hashes, radius 8). The batch join always addresses directly up to 22-bit chunks (16 MiB
# of offsets each): its binary searches, a million random probes per flip pattern, were 90%
# of its time.
_DIRECT_SLOTS_PER_HASH = 64
_MAX_DIRECT_WIDTH = 24  # 64 MiB of offsets; the 32-bit chunks of radius 0-1 always search
_JOIN_DIRECT_WIDTH = 22
# The join hands its edges to the components step in batches no larger than this.
_EDGE_BATCH = 1 << 22


# --- multi-index tables --------------------------------------------------------------------


@dataclass(frozen=True)
class _Plan:
    """How to cut the hash: chunk (shift, width) pairs and the bits flipped per chunk."""

    chunks: tuple[tuple[int, int], ...]
    flips: int  # a candidate's chunk differs from the query's in at most this many bits


def _chunk_widths(m: int) -> list[int]:
    return [HASH_BITS // m + (1 if i < HASH_BITS % m else 0) for i in range(m)]


def _plan(
    radius: int, n: int, *, chunk_cost: float, lookup_cost: float, candidate_cost: float
) -> tuple[_Plan, float]:
    """The cheapest chunking for ``n`` uniformly spread hashes, and its cost per query.

    Real hashes are not uniform (plain or dark images share many bits), which makes some
    buckets fuller than this model thinks; that costs time, never a missed neighbour.
    """
    best: tuple[_Plan, float] | None = None
    # At least two chunks: chunk values then fit in int64 (and a single 64-bit chunk with
    # flips is never the cheapest anyway). More than radius + 1 chunks only narrows buckets.
    for m in range(2, max(2, min(radius + 1, HASH_BITS)) + 1):
        flips = radius // m
        cost = m * chunk_cost
        for width in _chunk_widths(m):
            lookups = sum(math.comb(width, k) for k in range(flips + 1))
            cost += lookups * (lookup_cost + candidate_cost * n / (1 << width))
        if best is None or cost < best[1]:
            shifts = itertools.accumulate([0, *_chunk_widths(m)[:-1]])
            best = _Plan(tuple(zip(shifts, _chunk_widths(m), strict=True)), flips), cost
    assert best is not None  # m = 2 is always tried
    return best


@lru_cache(maxsize=64)
def _flip_masks(width: int, flips: int) -> np.ndarray:
    """Every ``width``-bit value with at most ``flips`` bits set (0 first)."""
    masks = [
        sum(1 << bit for bit in bits)
        for k in range(flips + 1)
        for bits in itertools.combinations(range(width), k)
    ]
    array = np.array(masks, dtype=np.int64)
    array.flags.writeable = False
    return array


class _Tables:
    """Multi-index tables over a fixed array of hashes: per chunk, a counting sort."""

    def __init__(self, hashes: np.ndarray, plan: _Plan, *, direct_width: int | None = None) -> None:
        self.hashes = hashes
        self.plan = plan
        self.values: list[np.ndarray] = []  # each entry's chunk value
        self.order: list[np.ndarray] = []  # entry indices, sorted by chunk value
        self.starts: list[np.ndarray | None] = []  # bucket offsets (direct addressing)
        self.sorted: list[np.ndarray | None] = []  # sorted chunk values (binary search)
        for shift, width in plan.chunks:
            values = ((hashes >> np.uint64(shift)) & np.uint64((1 << width) - 1)).astype(np.int64)
            order = np.argsort(values, kind="stable")
            self.values.append(values)
            self.order.append(order)
            if direct_width is None:
                direct = width <= _MAX_DIRECT_WIDTH and (
                    (1 << width) <= _DIRECT_SLOTS_PER_HASH * max(1, len(hashes))
                )
            else:
                direct = width <= min(direct_width, _MAX_DIRECT_WIDTH)
            if direct:
                starts = np.zeros(
                    (1 << width) + 1, dtype=np.int32 if len(hashes) < 2**31 else np.int64
                )
                np.cumsum(np.bincount(values, minlength=1 << width), out=starts[1:])
                self.starts.append(starts)
                self.sorted.append(None)
            else:
                self.starts.append(None)
                self.sorted.append(values[order])

    def ranges(self, chunk: int, wanted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For each wanted chunk value, where its bucket starts in ``order`` and its size."""
        starts = self.starts[chunk]
        if starts is not None:
            lo = starts[wanted]
            return lo, starts[wanted + 1] - lo
        sorted_values = self.sorted[chunk]
        assert sorted_values is not None
        lo = np.searchsorted(sorted_values, wanted, side="left")
        return lo, np.searchsorted(sorted_values, wanted, side="right") - lo

    def candidates(self, hash_: int) -> np.ndarray:
        """Indices of the entries sharing a chunk, up to the flips, with ``hash_``."""
        found = []
        for chunk, (shift, width) in enumerate(self.plan.chunks):
            wanted = _flip_masks(width, self.plan.flips) ^ ((hash_ >> shift) & ((1 << width) - 1))
            lo, size = self.ranges(chunk, wanted)
            hit = size > 0
            if hit.any():
                found.append(self.order[chunk][_expand(lo[hit], size[hit])])
        if not found:
            return np.empty(0, dtype=np.int64)
        return np.unique(np.concatenate(found))


def _expand(starts: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """The concatenated ranges ``starts[i] .. starts[i] + sizes[i] - 1``."""
    total = int(sizes.sum())
    offsets = np.cumsum(sizes) - sizes
    return np.repeat(starts - offsets, sizes) + np.arange(total)


def _as_hash(value: int) -> int:
    value = operator.index(value)  # a float or a string is a caller's bug, not a hash
    if not 0 <= value < _HASH_LIMIT:
        raise ValueError(f"a hash must be an unsigned {HASH_BITS}-bit integer, not {value}")
    return value


def _check_radius(radius: int) -> None:
    if not 0 <= radius <= HASH_BITS:
        raise ValueError(f"radius must be within 0..{HASH_BITS}, not {radius}")


class HashIndex:
    """Hashes under integer keys; ``query`` finds every entry within ``radius`` bits.

    Entries added since the tables were last built are scanned directly; the tables are
    rebuilt (and the chunking re-planned for the new size) on a query, once those exceed a
    sixteenth of the indexed entries. Adding everything then querying builds them once;
    interleaving costs O(n log n) in rebuilds overall.
    """

    _MIN_PENDING = 4096

    def __init__(self, radius: int) -> None:
        _check_radius(radius)
        self.radius = radius
        self._hashes = np.zeros(1024, dtype=np.uint64)
        self._keys = np.zeros(1024, dtype=np.int64)
        self._size = 0
        self._tables: _Tables | None = None  # None: every entry is scanned
        self._indexed = 0  # entries [0, _indexed) are in the tables
        self._planned = 0  # the size the current choice (tables or scan) was made for

    def __len__(self) -> int:
        return self._size

    def add(self, key: int, hash_: int) -> None:
        """Add ``hash_`` under ``key`` (add each key once: entries are not deduplicated)."""
        _as_hash(hash_)
        if self._size == len(self._hashes):
            self._hashes = np.concatenate([self._hashes, np.zeros_like(self._hashes)])
            self._keys = np.concatenate([self._keys, np.zeros_like(self._keys)])
        try:
            self._keys[self._size] = key
        except OverflowError as exc:
            raise ValueError(f"a key must fit in a signed 64-bit integer, not {key}") from exc
        self._hashes[self._size] = hash_
        self._size += 1

    def query(self, hash_: int) -> list[tuple[int, int]]:
        """(key, distance) of every entry within ``radius`` bits, by distance, then key."""
        _as_hash(hash_)
        self._refresh()
        query = np.uint64(hash_)
        # Entries not in the tables (all of them when scanning) are compared directly.
        rest = self._hashes[self._indexed : self._size]
        rest_distances = np.bitwise_count(rest ^ query)
        rest_near = np.flatnonzero(rest_distances <= self.radius)
        keys = self._keys[self._indexed + rest_near]
        distances = rest_distances[rest_near]
        if self._tables is not None:
            candidates = self._tables.candidates(hash_)
            found = np.bitwise_count(self._tables.hashes[candidates] ^ query)
            near = found <= self.radius
            keys = np.concatenate([self._keys[candidates[near]], keys])
            distances = np.concatenate([found[near], distances])
        order = np.lexsort((keys, distances))
        return list(zip(keys[order].tolist(), distances[order].tolist(), strict=True))

    def _refresh(self) -> None:
        if self._size - self._planned <= max(self._MIN_PENDING, self._planned // 16):
            return
        self._planned = self._size
        plan, cost = _plan(
            self.radius,
            self._size,
            chunk_cost=_QUERY_CHUNK_US,
            lookup_cost=_QUERY_LOOKUP_US,
            candidate_cost=_QUERY_CANDIDATE_US,
        )
        # A plain scan wins for small indexes (and very large radii): no tables at all.
        if cost >= _SCAN_FIXED_US + _SCAN_HASH_US * self._size:
            self._tables = None
            self._indexed = 0
            return
        self._tables = _Tables(self._hashes[: self._size].copy(), plan)
        self._indexed = self._size


# --- grouping ------------------------------------------------------------------------------


def group_near_duplicates(hashes: Sequence[int], radius: int) -> list[list[int]]:
    """Groups of indices whose hashes chain together within ``radius`` bits.

    The connected components of the "within radius" graph (what union-find over every close
    pair gives): sorted within each group, only groups of two or more, ordered by their first
    index. Identical hashes are merged first; the distinct ones are joined with each other
    through the multi-index tables, one vectorised pass per chunk and flip pattern.
    """
    _check_radius(radius)
    array = np.array([_as_hash(h) for h in hashes], dtype=np.uint64)
    if len(array) < 2:
        return []
    unique, inverse = np.unique(array, return_inverse=True)
    rows, cols = _close_pairs(unique, radius)
    _, component = connected_components(_graph(rows, cols, len(unique)), directed=False)
    labels = component[inverse.ravel()]
    # Most images have no duplicate: drop the singletons before splitting into groups.
    members = np.flatnonzero(np.bincount(labels)[labels] >= 2)
    order = members[np.argsort(labels[members], kind="stable")]  # indices ascend in a group
    bounds = np.flatnonzero(np.diff(labels[order])) + 1
    groups = [group.tolist() for group in np.split(order, bounds)] if len(order) else []
    groups.sort(key=lambda group: group[0])
    return groups


def _close_pairs(unique: np.ndarray, radius: int) -> tuple[np.ndarray, np.ndarray]:
    """Index pairs of distinct hashes within ``radius`` bits: every close pair at least once,
    in either order, possibly more than once (only the components they make matter)."""
    n = len(unique)
    # Per item: the join's fixed cost per flip pattern is shared by all n items.
    plan, cost = _plan(
        radius,
        n,
        chunk_cost=0.0,
        lookup_cost=_JOIN_LOOKUP_US + _JOIN_MASK_US / n,
        candidate_cost=_JOIN_CANDIDATE_US,
    )
    rows: list[np.ndarray] = []
    cols: list[np.ndarray] = []
    if cost >= _SCAN_FIXED_US + _SCAN_HASH_US * n / 2:
        # Small inputs: every pair, row by row.
        for i in range(n - 1):
            close = np.flatnonzero(np.bitwise_count(unique[i + 1 :] ^ unique[i]) <= radius)
            rows.append(np.full(len(close), i))
            cols.append(close + i + 1)
    else:
        tables = _Tables(unique, plan, direct_width=_JOIN_DIRECT_WIDTH)
        held = 0
        for chunk, (_, width) in enumerate(plan.chunks):
            values = tables.values[chunk]
            for mask in _flip_masks(width, plan.flips).tolist():
                if mask:
                    # The pair (i, j) with chunk_i ^ chunk_j == mask is met from both ends;
                    # starting only from the end whose top flipped bit is 0 halves the work.
                    start = np.flatnonzero((values & (1 << (mask.bit_length() - 1))) == 0)
                    lo, size = tables.ranges(chunk, values[start] ^ mask)
                else:
                    start = np.arange(n)
                    lo, size = tables.ranges(chunk, values)
                hit = size > 0
                left = np.repeat(start[hit], size[hit])
                right = tables.order[chunk][_expand(lo[hit], size[hit])]
                keep = (left != right) & (np.bitwise_count(unique[left] ^ unique[right]) <= radius)
                rows.append(left[keep])
                cols.append(right[keep])
                held += int(keep.sum())
                if held > _EDGE_BATCH:
                    spanning = _spanning_edges(np.concatenate(rows), np.concatenate(cols), n)
                    rows, cols = [spanning[0]], [spanning[1]]
                    held = len(spanning[0])
    if not rows:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    return np.concatenate(rows).astype(np.int64), np.concatenate(cols).astype(np.int64)


def _spanning_edges(rows: np.ndarray, cols: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Edges making the same components, at most one per node (to its component's first).

    Keeps memory bounded when a big cluster of near-identical hashes yields millions of pairs.
    """
    graph = _graph(rows, cols, n)
    count, labels = connected_components(graph, directed=False)
    first = np.full(count, n, dtype=np.int64)
    np.minimum.at(first, labels, np.arange(n))
    nodes = np.flatnonzero(first[labels] != np.arange(n))
    return nodes, first[labels[nodes]]


def _graph(rows: np.ndarray, cols: np.ndarray, n: int) -> coo_array:
    # bool weights: repeated edges are summed when scipy converts the matrix, and an integer
    # sum could wrap round to an explicit zero.
    return coo_array((np.ones(len(rows), dtype=bool), (rows, cols)), shape=(n, n))
