"""Shards in-process: stable keys, atomic parts, resume by shard, failures counted."""

from pathlib import Path

import pyarrow as pa
import pytest

from craft_dag.curation.policy import CurationPolicy, effective
from craft_dag.curation.score import Scorers
from craft_dag.curation.score_category import score_category
from craft_dag.parallel import scoring
from craft_dag.parallel.engines import InProcessEngine
from craft_dag.parallel.scoring import SHARDS_ASSET, score_category_sharded
from craft_dag.parallel.shards import (
    part_fingerprint,
    read_part,
    shard_of,
    split,
    write_part,
)
from craft_dag.storage import Storage
from tests.parallel.helpers import assert_same_rows, sample_category


def test_shard_of_depends_on_the_key_only() -> None:
    keys = [f"img{i}" for i in range(500)]
    first = split(keys, str, 8)
    again = split(reversed(keys), str, 8)
    assert {s: sorted(v) for s, v in first.items()} == {s: sorted(v) for s, v in again.items()}
    assert all(shard_of(k, 8) == s for s, v in first.items() for k in v)
    # A hash spreads keys: no shard of 8 holds more than twice its share of 500.
    assert max(len(v) for v in first.values()) < 2 * 500 / 8
    with pytest.raises(ValueError, match="num_shards"):
        shard_of("x", 0)


def test_a_part_keeps_its_fingerprint(tmp_path: Path) -> None:
    store = Storage(str(tmp_path))
    write_part(store, "a", "cat", 3, pa.table({"x": [1, 2]}), "fp1")
    table, fp = read_part(store, "a", "cat", 3)
    assert fp == "fp1" and table["x"].to_pylist() == [1, 2]
    assert part_fingerprint(store, "a", "cat", 4) is None
    assert store.list_files("a", "cat") == ["part-00003.parquet"]  # no temporary left


@pytest.fixture(scope="module")
def category(tmp_path_factory: pytest.TempPathFactory) -> Storage:
    return sample_category(tmp_path_factory.mktemp("shards"))


def test_sharded_scoring_gives_the_in_process_rows(category: Storage) -> None:
    thresholds = effective(CurationPolicy(), "all")
    whole = score_category(category, "all", thresholds, Scorers()).table
    sharded = score_category_sharded(
        category, "all", thresholds, Scorers(), InProcessEngine(), num_shards=4
    )
    assert sharded.report.count("done") == len(sharded.report.outcomes) > 1
    # Near-duplicate groups span shards: the grouping ran once, over the whole category.
    assert any(r["dup_group"] >= 0 for r in whole.to_pylist())
    assert_same_rows(sharded.result.table, whole)


def test_a_rerun_reuses_parts_and_a_failed_shard_is_counted(
    category: Storage, monkeypatch: pytest.MonkeyPatch
) -> None:
    thresholds = effective(CurationPolicy(), "all")
    first = score_category_sharded(
        category, "all", thresholds, Scorers(), InProcessEngine(), num_shards=3
    )
    victim = first.report.outcomes[0].shard
    category.fs.rm(category.file_path(SHARDS_ASSET, "all", f"part-{victim:05d}.parquet"))

    real = scoring.score_shard

    def broken(task: scoring.ScoreShard) -> int:
        if task.shard == victim:
            raise ValueError("planted failure")
        return real(task)

    monkeypatch.setattr(scoring, "score_shard", broken)
    second = score_category_sharded(
        category, "all", thresholds, Scorers(), InProcessEngine(), num_shards=3
    )
    assert second.report.count("failed") == 1
    assert second.report.count("reused") == len(second.report.outcomes) - 1
    assert "ValueError: planted failure" in second.report.failures()[str(victim)]
    assert second.result.table.num_rows < first.result.table.num_rows  # its images left out

    monkeypatch.setattr(scoring, "score_shard", real)
    third = score_category_sharded(
        category, "all", thresholds, Scorers(), InProcessEngine(), num_shards=3
    )
    assert [o.shard for o in third.report.outcomes if o.status == "done"] == [victim]
    assert_same_rows(third.result.table, first.result.table)


def test_every_shard_failing_fails_the_category(
    category: Storage, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(task: scoring.ScoreShard) -> int:
        raise OSError("disk gone")

    monkeypatch.setattr(scoring, "score_shard", broken)
    with pytest.raises(RuntimeError, match="every shard failed"):
        score_category_sharded(
            category,
            "all",
            effective(CurationPolicy(), "all", {"min_blur": 1.0}),
            Scorers(),
            InProcessEngine(),
            num_shards=2,
        )


def _counting_loads(monkeypatch: pytest.MonkeyPatch, module) -> list[str]:
    loads: list[str] = []
    real = module.blob_loader

    def counting(store: Storage, image_id: str):
        load = real(store, image_id)

        def counted() -> bytes:
            loads.append(image_id)
            return load()

        return counted

    monkeypatch.setattr(module, "blob_loader", counting)
    return loads


def test_the_whole_category_pass_decodes_only_what_in_process_decodes_twice(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The parts carry each image's coarse thumbnail, so ranking a near-duplicate group on the
    driver decodes only the members whose crop screen passed, as in-process: never every
    member (the driver would then decode a category's images)."""
    from craft_dag.curation import score_category as in_process

    store = sample_category(tmp_path)
    thresholds = effective(CurationPolicy(), "all")
    in_process_loads = _counting_loads(monkeypatch, in_process)
    whole = score_category(store, "all", thresholds, Scorers()).table
    images = whole.num_rows
    second_decodes = len(in_process_loads) - images  # each image once, then the crop checks
    assert second_decodes < sum(r["dup_group"] >= 0 for r in whole.to_pylist())

    score_category_sharded(store, "all", thresholds, Scorers(), InProcessEngine(), num_shards=4)
    driver_loads = _counting_loads(monkeypatch, scoring)
    again = score_category_sharded(
        store, "all", thresholds, Scorers(), InProcessEngine(), num_shards=4
    )
    assert again.report.count("reused") == len(again.report.outcomes)  # only the driver ran
    assert len(driver_loads) == second_decodes
    assert_same_rows(again.result.table, whole)
