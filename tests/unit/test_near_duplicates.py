"""Perceptual hashes, the multi-index hash search and near-duplicate grouping."""

import itertools
import random
import time

import numpy as np
import pytest
from PIL import Image

from craft_dag.collection.samples import SampleImage, build_sample_set
from craft_dag.curation import near_duplicates
from craft_dag.curation.near_duplicates import (
    HashIndex,
    choose_keepers,
    dhash,
    group_near_duplicates,
    hamming,
    phash,
)
from craft_dag.imaging.decode import open_image

ENTITIES = {f"cat{c}": [f"c{c}_entity{e}" for e in range(2)] for c in range(6)}
HASHES = {"dhash": dhash, "phash": phash}


# --- the hashes ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sample_hashes(
    tmp_path_factory: pytest.TempPathFactory,
) -> list[tuple[SampleImage, dict[str, int]]]:
    """The clean photos and planted duplicates of a sample set, with both hashes of each."""
    root = tmp_path_factory.mktemp("samples")
    rows = build_sample_set(root, ENTITIES, per_category=2, seed=0)
    result = []
    for row in rows:
        if row.planted in {"none", "duplicate"}:
            image = open_image((root / row.path).read_bytes())
            result.append((row, {name: fn(image) for name, fn in HASHES.items()}))
    return result


@pytest.mark.parametrize("name", sorted(HASHES))
def test_planted_duplicates_are_near_their_original(
    sample_hashes: list[tuple[SampleImage, dict[str, int]]], name: str
) -> None:
    clean = [(row, hashes[name]) for row, hashes in sample_hashes if row.planted == "none"]
    duplicates = [
        (row, hashes[name]) for row, hashes in sample_hashes if row.planted == "duplicate"
    ]
    assert len(duplicates) == 2
    for row, hash_ in duplicates:
        near = [other for other, h in clean if hamming(hash_, h) <= 6]
        # Exactly one clean image is that close: the one it copies, of the same photo.
        assert len(near) == 1, row.path
        assert near[0].source_file == row.source_file
    for (a, ha), (b, hb) in itertools.combinations(clean, 2):
        if a.source_file != b.source_file:
            assert hamming(ha, hb) > 10, (a.path, b.path)


@pytest.mark.parametrize("name", sorted(HASHES))
def test_grouping_the_sample_set_finds_exactly_the_planted_duplicates(
    sample_hashes: list[tuple[SampleImage, dict[str, int]]], name: str
) -> None:
    rows = [row for row, _ in sample_hashes]
    groups = group_near_duplicates([hashes[name] for _, hashes in sample_hashes], radius=8)
    assert len(groups) == 2
    for group in groups:
        assert sorted(rows[i].planted for i in group) == ["duplicate", "none"]


def test_hash_shapes() -> None:
    photo = Image.linear_gradient("L").rotate(30).resize((300, 200)).convert("RGB")
    assert 0 <= dhash(photo) < 2**64 and 0 <= phash(photo) < 2**64
    assert phash(photo) >> 63 == 0  # the DC bit
    assert 0 < dhash(photo, size=4) < 2**16
    assert 64 < dhash(photo, size=11).bit_length() <= 121
    flat = Image.new("L", (50, 50), 128)
    assert dhash(flat) == 0 and phash(flat) == 0
    # Brightness left to right: every right neighbour is brighter.
    ramp = Image.linear_gradient("L").rotate(90)
    assert dhash(ramp) == 2**64 - 1


def test_hashes_survive_resizing_and_recompression() -> None:
    source = Image.linear_gradient("L").resize((400, 300)).rotate(20, fillcolor=40)
    noisy = np.asarray(source, dtype=np.int16) + np.random.default_rng(0).integers(
        -30, 30, size=(300, 400)
    )
    photo = Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8))
    smaller = photo.resize((240, 180), Image.Resampling.BICUBIC)
    for fn in (dhash, phash):
        assert hamming(fn(photo), fn(smaller)) <= 6


def test_hamming() -> None:
    assert hamming(0, 0) == 0
    assert hamming(0b1011, 0b0001) == 2
    assert hamming(0, 2**64 - 1) == 64


# --- the index -----------------------------------------------------------------------------


def _planted_hashes(rng: random.Random, n: int, radius: int) -> list[int]:
    """Random hashes, a fifth of them copies of others with 0..radius+2 bits flipped."""
    hashes = [rng.getrandbits(64) for _ in range(n - n // 5)]
    for _ in range(n // 5):
        copy = rng.choice(hashes)
        for bit in rng.sample(range(64), rng.randrange(radius + 3)):
            copy ^= 1 << bit
        hashes.append(copy)
    rng.shuffle(hashes)
    return hashes


def _brute_force(hashes: np.ndarray, query: int, radius: int) -> list[tuple[int, int]]:
    distances = np.bitwise_count(hashes ^ np.uint64(query))
    keys = np.flatnonzero(distances <= radius)
    return sorted(((int(k), int(distances[k])) for k in keys), key=lambda kd: (kd[1], kd[0]))


@pytest.fixture(params=["scan", "tables-direct", "tables-binary-search"])
def index_mode(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """The same answers whichever way the index decides to search."""
    if request.param != "scan":
        # Make scanning look expensive, so that even 5,000 hashes get tables.
        monkeypatch.setattr(near_duplicates, "_SCAN_HASH_US", 1.0)
    slots = {"tables-direct": 2**40, "tables-binary-search": 0}.get(request.param)
    if slots is not None:
        monkeypatch.setattr(near_duplicates, "_DIRECT_SLOTS_PER_HASH", slots)
    return request.param


@pytest.mark.parametrize("radius", [0, 3, 6, 8, 10])
def test_query_matches_brute_force(index_mode: str, radius: int) -> None:
    rng = random.Random(radius)
    hashes = _planted_hashes(rng, 5000, radius)
    index = HashIndex(radius)
    for key, hash_ in enumerate(hashes):
        index.add(key, hash_)
    assert len(index) == 5000
    array = np.array(hashes, dtype=np.uint64)
    queries = rng.sample(hashes, 150) + [rng.getrandbits(64) for _ in range(50)]
    found = 0
    for query in queries:
        expected = _brute_force(array, query, radius)
        assert index.query(query) == expected
        found += len(expected)
    assert found > 150  # the planted copies were within reach
    assert (index._tables is None) == (index_mode == "scan")


def test_interleaved_adds_and_queries(monkeypatch: pytest.MonkeyPatch) -> None:
    # Small rebuild thresholds and expensive scans: the tables are rebuilt many times.
    monkeypatch.setattr(HashIndex, "_MIN_PENDING", 50)
    monkeypatch.setattr(near_duplicates, "_SCAN_HASH_US", 1.0)
    rng = random.Random(7)
    hashes = _planted_hashes(rng, 3000, 8)
    index = HashIndex(8)
    for key, hash_ in enumerate(hashes):
        if key % 97 == 0:
            array = np.array(hashes[:key], dtype=np.uint64)
            assert index.query(hash_) == _brute_force(array, hash_, 8)
        index.add(key, hash_)
    assert index._tables is not None and index._indexed < len(index)


def test_keys_are_returned_as_given_and_ties_sorted_by_key() -> None:
    index = HashIndex(2)
    for key, hash_ in [(30, 0b111), (-5, 0b011), (10, 0b111), (7, 0b1111_0000)]:
        index.add(key, hash_)
    assert index.query(0b111) == [(10, 0), (30, 0), (-5, 1)]
    assert index.query(2**64 - 1) == []


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match="radius"):
        HashIndex(65)
    index = HashIndex(4)
    for bad in (-1, 2**64):
        with pytest.raises(ValueError, match="64-bit"):
            index.add(1, bad)
        with pytest.raises(ValueError, match="64-bit"):
            index.query(bad)
    with pytest.raises(TypeError):
        index.add(1, 1.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="key"):
        index.add(2**63, 1)
    assert len(index) == 0


def test_100k_hashes_answer_1000_queries_in_seconds() -> None:
    rng = random.Random(11)
    hashes = [rng.getrandbits(64) for _ in range(100_000)]
    started = time.perf_counter()
    index = HashIndex(8)
    for key, hash_ in enumerate(hashes):
        index.add(key, hash_)
    results = [index.query(hash_ ^ 0b1011) for hash_ in hashes[:1000]]
    elapsed = time.perf_counter() - started
    assert all((key, 3) in found for key, found in enumerate(results))
    assert index._tables is not None
    assert elapsed < 10, f"{elapsed:.1f} s"


# --- grouping and choosing -----------------------------------------------------------------


def _brute_force_groups(hashes: list[int], radius: int) -> list[list[int]]:
    parent = list(range(len(hashes)))

    def find(i: int) -> int:
        while parent[i] != i:
            i = parent[i]
        return i

    for i, j in itertools.combinations(range(len(hashes)), 2):
        if hamming(hashes[i], hashes[j]) <= radius:
            parent[find(i)] = find(j)
    groups: dict[int, list[int]] = {}
    for i in range(len(hashes)):
        groups.setdefault(find(i), []).append(i)
    return sorted((g for g in groups.values() if len(g) >= 2), key=lambda g: g[0])


@pytest.mark.parametrize("radius", [0, 2, 6, 8, 10])
@pytest.mark.parametrize("path", ["pairs", "tables", "tables-small-batches"])
def test_groups_match_brute_force_union_find(
    radius: int, path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if path != "pairs":
        monkeypatch.setattr(near_duplicates, "_SCAN_HASH_US", 1.0)
    if path == "tables-small-batches":
        monkeypatch.setattr(near_duplicates, "_EDGE_BATCH", 3)
    rng = random.Random(radius)
    hashes = _planted_hashes(rng, 400, radius)
    hashes += hashes[:20]  # exact duplicates too
    assert group_near_duplicates(hashes, radius) == _brute_force_groups(hashes, radius)


def test_groups_are_transitive_chains() -> None:
    a = 0
    b = a ^ 0b1111  # 4 from a
    c = b ^ 0b1111_0000  # 4 from b, 8 from a
    far = 2**64 - 1
    assert group_near_duplicates([c, far, a, b, far], radius=4) == [[0, 2, 3], [1, 4]]
    assert group_near_duplicates([a], radius=4) == []
    assert group_near_duplicates([], radius=4) == []


def test_choose_keepers_keeps_the_best_of_each_group() -> None:
    groups = [[0, 3, 5], [1, 2], [4, 6]]
    quality = [0.2, 0.9, 0.9, 0.7, float("nan"), 0.1, 0.0]
    assert choose_keepers(groups, quality) == {0: 3, 5: 3, 2: 1, 4: 6}
    assert choose_keepers([], quality) == {}
    with pytest.raises(ValueError, match="more than one group"):
        choose_keepers([[0, 1], [1, 2]], quality)
    with pytest.raises(IndexError):
        choose_keepers([[0, 9]], quality)


def test_confirmed_groups_are_phash_components_inside_dhash_groups() -> None:
    """Both hashes must agree: a dHash group as large as the category (alike pictures chain)
    splits into exactly the pHash components that union-find over every pair gives."""
    from craft_dag.curation.score_duplicates import confirmed_groups
    from craft_dag.curation.score_records import RawScores, ScoreItem

    rng = random.Random(7)
    n, radius = 3000, 6
    dhashes = [0] * n  # one dHash group of everything
    phashes = _planted_hashes(rng, n, radius)
    scored = [
        (ScoreItem(str(i), "e", lambda: b""), RawScores("ok", dhash=d, phash=p))
        for i, (d, p) in enumerate(zip(dhashes, phashes, strict=True))
    ]
    scored[5] = (scored[5][0], RawScores("error", error="unreadable: x"))
    ok = [i for i in range(n) if i != 5]
    expected = [
        sorted(ok[j] for j in group)
        for group in _brute_force_groups([phashes[i] for i in ok], radius)
    ]
    assert confirmed_groups(scored, radius) == sorted(expected, key=lambda g: g[0])
    # Far apart in dHash: no group, however alike in pHash.
    apart = [(item, RawScores("ok", dhash=rng.getrandbits(64), phash=0)) for item, _ in scored[:50]]
    assert confirmed_groups(apart, radius) == []
