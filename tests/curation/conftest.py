"""The sample set, scored once per session: real photos with planted problems."""

from dataclasses import dataclass
from pathlib import Path

import pytest

from craft_dag.collection.samples import SampleImage, build_sample_set
from craft_dag.curation.policy import CurationPolicy, effective
from craft_dag.curation.score import ScoredImage, ScoreItem, score_images

# Six categories of two entities: every planted kind appears at least once.
ENTITIES = {f"cat{c}": [f"c{c}_entity{e}" for e in range(2)] for c in range(6)}


@dataclass(frozen=True)
class Scored:
    row: SampleImage
    result: ScoredImage


@pytest.fixture(scope="session")
def sample_set(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[SampleImage]]:
    root = tmp_path_factory.mktemp("curation_samples")
    return root, build_sample_set(root, ENTITIES, per_category=2, seed=0)


def items_of(root: Path, rows: list[SampleImage]) -> list[ScoreItem]:
    return [ScoreItem(r.path, r.entity_id, (root / r.path).read_bytes) for r in rows]


@pytest.fixture(scope="session")
def cpu_scored(sample_set: tuple[Path, list[SampleImage]]) -> list[Scored]:
    """The whole set scored with the default thresholds and no costly scorers."""
    root, rows = sample_set
    results = score_images(items_of(root, rows), effective(CurationPolicy(), "cat0"))
    return [Scored(row, result) for row, result in zip(rows, results, strict=True)]
