"""The ``evaluation`` asset through Dagster, on a tiny checkpoint written by the test the way
the ``checkpoint`` asset leaves one in storage (``checkpoints/<run id>/``: ``unet/``,
``base_model.json``, ``model_card.md`` last)."""

import json
import os
import time
from pathlib import Path

import pytest
import torch
from dagster import AssetMaterialization, DagsterInstance, MetadataValue, materialize

from craft_dag.assets.evaluation import (
    evaluation,
    evaluation_assets,
    evaluation_checks,
    sbs_kits,
    sbs_report,
)
from craft_dag.catalog.pack import bundled_pack_path
from craft_dag.evaluation.generate import BASE, GENERATIONS, TUNED, sbs_pairs
from craft_dag.evaluation.scores import COMPARISON, SCORES
from craft_dag.resources.curation import CurationScorersResource
from craft_dag.storage import Storage
from craft_dag.training.models import load_unet
from tests.orchestration.helpers import resources

RU = bundled_pack_path("ru")
ASSETS = [evaluation, *evaluation_checks]  # the side-by-side assets wait for votes


def write_checkpoint(store: Storage, run_id: str, *, perturb: float, mtime: float) -> str:
    unet = load_unet("tiny")
    with torch.no_grad():
        for p in unet.parameters():
            p.add_(perturb * torch.randn_like(p))
    folder = Path(store.file_path("checkpoints", run_id))
    unet.save_pretrained(folder / "unet", safe_serialization=True)
    (folder / "base_model.json").write_text(json.dumps({"base_model": "tiny", "lora": False}))
    card = folder / "model_card.md"
    card.write_text(f"# {run_id}\n")
    os.utime(card, (mtime, mtime))
    return store.file_uri("checkpoints", run_id)


@pytest.fixture
def setup(tmp_path: Path) -> tuple[Storage, dict]:
    store = Storage(str(tmp_path / "store"))
    res = {
        **resources(RU, str(tmp_path / "store")),
        "scorers": CurationScorersResource(profile="tiny", ocr="off"),
    }
    return store, res


def run_config(**overrides: object) -> dict:
    config = {"max_prompts": 2, "steps": 2} | overrides
    return {"ops": {"evaluation": {"config": config}}}


def test_evaluation_from_the_latest_materialization(setup) -> None:
    store, res = setup
    now = time.time()
    old_uri = write_checkpoint(store, "run-old", perturb=0.05, mtime=now - 100)
    write_checkpoint(store, "run-new", perturb=0.1, mtime=now)  # newer, but not materialised
    instance = DagsterInstance.ephemeral()
    instance.report_runless_asset_event(
        AssetMaterialization("checkpoint", metadata={"checkpoint": MetadataValue.path(old_uri)})
    )
    result = materialize(ASSETS, resources=res, run_config=run_config(), instance=instance)
    assert result.success
    [mat] = result.asset_materializations_for_node("evaluation")
    meta = mat.metadata
    assert meta["checkpoint_run_id"].value == "run-old"
    assert meta["checkpoint_found_by"].value == "materialization"
    assert meta["images"].value == 2 * 2 * 2 * 2  # prompts x languages x K x models
    assert "data:image/png;base64," in next(
        v.value for k, v in meta.items() if k.startswith("grid_")
    )
    assert "[" in meta["scores"].value and "all" in meta["scores"].value
    [check] = result.get_asset_check_evaluations()
    assert check.passed

    rows = store.read_table(GENERATIONS).to_pylist()
    assert {r["model"] for r in rows} == {BASE, TUNED}
    assert {(r["steps"], r["width"], r["height"]) for r in rows} == {(2, 64, 64)}
    pairs = sbs_pairs(rows)
    assert len(pairs) == 2 * 2 * 2
    assert all(p["base_sha256"] != p["tuned_sha256"] for p in pairs)
    assert store.read_table(SCORES).num_rows == 2 * 2 * 2
    assert store.read_table(COMPARISON).num_rows > 0


def test_evaluation_falls_back_to_the_newest_checkpoint_in_storage(setup) -> None:
    store, res = setup
    now = time.time()
    write_checkpoint(store, "run-a", perturb=0.05, mtime=now - 100)
    write_checkpoint(store, "run-b", perturb=0.05, mtime=now)
    (Path(store.file_path("checkpoints", "run-c")) / "unet").mkdir(parents=True)  # incomplete
    config = run_config(max_prompts=1, images_per_prompt=1)
    result = materialize(ASSETS, resources=res, run_config=config)
    assert result.success
    [mat] = result.asset_materializations_for_node("evaluation")
    assert mat.metadata["checkpoint_run_id"].value == "run-b"
    assert mat.metadata["checkpoint_found_by"].value == "storage"


def test_evaluation_without_a_checkpoint_fails(setup) -> None:
    _, res = setup
    result = materialize(ASSETS, resources=res, run_config=run_config(), raise_on_error=False)
    assert not result.success


def test_kits_votes_and_the_side_by_side_report(setup) -> None:
    """Kits from the generations, the assessors' exports in storage, the report over them."""
    from craft_dag.evaluation.sample_votes import sample_votes
    from craft_dag.evaluation.sbs_io import FOLDER, KITS, PAIRS_FILE, write_votes

    store, res = setup
    write_checkpoint(store, "run-a", perturb=0.1, mtime=time.time())
    config = run_config(max_prompts=2, images_per_prompt=1)
    assert materialize(ASSETS, resources=res, run_config=config).success

    everything = [*evaluation_assets, *evaluation_checks]
    kits = materialize(everything, resources=res, selection=[sbs_kits])
    assert kits.success
    assert store.list_files(FOLDER, KITS) == [
        "kit_assessor_1.html",
        "kit_assessor_2.html",
        PAIRS_FILE,
    ]
    page = store.read_file((FOLDER, KITS, "kit_assessor_1.html")).decode()
    assert "data:image/png;base64," in page and "tuned" not in page.split("craft-kit")[0]

    # Without votes the report refuses, saying where votes go.
    early = materialize(everything, resources=res, selection=[sbs_report], raise_on_error=False)
    assert not early.success
    pairs = json.loads(store.read_file((FOLDER, KITS, PAIRS_FILE)))
    assert len(pairs) == 2 * 2  # prompts x languages, K = 1
    write_votes(store, sample_votes(pairs))
    done = materialize(everything, resources=res, selection=[sbs_report])
    assert done.success
    meta = done.asset_materializations_for_node("sbs_report")[0].metadata
    assert meta["votes"].value == 2 * len(pairs) * 2  # assessors x pairs x questions
    assert meta["assessors"].value == ["assessor_1", "assessor_2"]
    assert "# Side-by-side evaluation" in meta["report"].value
    assert any(k.startswith("sbs_tuned_vs_base") for k in meta)
