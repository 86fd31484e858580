"""Captions and translations materialised through Dagster on the two-node Ray cluster: the
model loads once per Ray Data actor, and the tables equal the in-process ones."""

import pytest
from dagster import materialize

pytest.importorskip("ray")

from craft_dag.captioning.choose import HUMAN_CAPTIONS
from craft_dag.resources.captioning import CaptionerResource
from craft_dag.resources.executor import ExecutorResource
from craft_dag.storage import Storage
from tests.orchestration.test_captioning_assets import ASSETS, CATEGORY
from tests.parallel.test_model_shards import reviewed, store  # noqa: F401  (fixtures)

pytestmark = pytest.mark.slow
STAGES = ["captions", "translated_captions"]


def _run(res: dict, executor: ExecutorResource):
    result = materialize(
        ASSETS,
        partition_key=CATEGORY,
        resources={**res, "executor": executor},
        selection=STAGES,
        run_config={"ops": {"captions": {"config": {"policy": "human_else_auto"}}}},
    )
    assert result.success
    return {s: result.asset_materializations_for_node(s)[0].metadata for s in STAGES}


def test_captions_and_translations_through_ray(
    ray_cluster: str,
    reviewed,  # noqa: F811
    store: Storage,  # noqa: F811
) -> None:
    res, _, _ = reviewed
    # A person's caption for half the images (translated), the model's for the rest.
    lines = store.read_file((HUMAN_CAPTIONS, CATEGORY, "all.csv")).decode().splitlines()
    kept = [lines[0], *lines[1::2]]
    store.write_file((HUMAN_CAPTIONS, CATEGORY, "all.csv"), ("\n".join(kept) + "\n").encode())
    # Greedy: the transformers backend seeds its sampler per batch (tests/parallel/test_model_shards.py).
    res = {**res, "captioner": CaptionerResource(max_new_tokens=12, temperature=0)}
    _run(res, ExecutorResource())
    expected = {s: store.read_table(s, CATEGORY).to_pylist() for s in STAGES}
    assert any(r["caption_source"] == "auto" for r in expected["captions"])
    assert any(r["caption_native"] for r in expected["translated_captions"])

    md = _run(res, ExecutorResource(engine="ray", address=ray_cluster, num_shards=3))
    for stage in STAGES:
        assert md[stage]["shards_done"].value >= 1 and md[stage]["shards_failed"].value == 0
        assert store.read_table(stage, CATEGORY).to_pylist() == expected[stage], stage
    # Ray Data hands each shard to the first free actor of the pool: the nodes that ran one.
    assert 1 <= md["captions"]["shard_nodes"].value <= 2
