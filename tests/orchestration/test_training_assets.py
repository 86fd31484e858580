"""The training assets through Dagster: shards from a hand-written ``translated_captions``, the
fan-in that refuses an incomplete set, and ``checkpoint`` launching a fake trainer through Pipes.
"""

import io
import sys
import textwrap
from pathlib import Path

import pyarrow as pa
import pytest
from dagster import DagsterInstance, materialize
from PIL import Image

from craft_dag.assets.training import training_assets, training_checks
from craft_dag.catalog.pack import bundled_pack_path, load_pack
from craft_dag.resources.training import TrainingLauncherResource
from craft_dag.storage import Storage
from craft_dag.training.dataset import TRAINING_DATASET, TRAINING_SHARDS
from craft_dag.training.pipes import CHECKPOINTS, MODEL_CARD, NullReporter, open_reporter
from craft_dag.translation.translate_category import TRANSLATED, TRANSLATED_SCHEMA
from tests.orchestration.helpers import resources

CATEGORY = "national_cuisine"
ASSETS = [*training_assets, *training_checks]
RU = bundled_pack_path("ru")


def png(size: tuple[int, int], colour: tuple[int, int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, format="PNG")
    return out.getvalue()


def write_translated(store: Storage, category: str, entities: list[str]) -> list[dict]:
    """Real images in storage and their ``translated_captions`` rows: the first entity has one
    image, the second three (one of them too small for stage 2), plus one row not trainable."""
    specs = [
        (entities[0], (1024, 1024), True),
        (entities[1], (800, 800), True),
        (entities[1], (1000, 600), True),
        (entities[1], (600, 600), True),  # too small for every stage-2 bucket
        (entities[1], (900, 900), False),  # held back by translation
    ]
    rows = []
    for i, (entity, size, trainable) in enumerate(specs):
        digest = store.put_blob(png(size, (40 * i, 100, 200)))
        rows.append(
            {name: None for name in TRANSLATED_SCHEMA.names}
            | {
                "image_id": digest,
                "entity_id": entity,
                "category": category,
                "blob_key": store.blob_key(digest),
                "width": size[0],
                "height": size[1],
                "caption_source": "human",
                "caption_native": "Борщ со сметаной в глиняной миске",
                "caption_en": "Borscht with sour cream in a clay bowl",
                "glossary_hits": [],
                "glossary_misses": [],
                "trainable": trainable,
                "excluded_reason": "" if trainable else "language ru (0.90)",
            }
        )
    store.write_table(TRANSLATED, category, pa.Table.from_pylist(rows, schema=TRANSLATED_SCHEMA))
    return rows


@pytest.fixture
def setup(tmp_path: Path) -> tuple[Storage, dict, list[str]]:
    store = Storage(str(tmp_path / "store"))
    entities = [e.id for e in load_pack(RU).entities[CATEGORY]][:2]
    write_translated(store, CATEGORY, entities)
    res = {
        **resources(RU, str(tmp_path / "store")),
        # Every asset's resources must be bound, selected or not; checkpoint tests replace it.
        "training_launcher": TrainingLauncherResource(config_path="unused.yaml"),
    }
    return store, res, entities


SHARD_CONFIG = {"ops": {"training_shards": {"config": {"target_per_entity": 6, "max_repeats": 4}}}}


def test_training_shards_metadata_and_check(setup: tuple[Storage, dict, list[str]]) -> None:
    store, res, (e1, e2) = setup
    result = materialize(
        ASSETS,
        partition_key=CATEGORY,
        resources=res,
        selection=["training_shards"],
        run_config=SHARD_CONFIG,
    )
    assert result.success
    meta = result.asset_materializations_for_node("training_shards")[0].metadata
    # T = 6, C = 4: e1 6/1 -> capped at 4; e2 6/3 = 2 -> effective 4 + 3 * 2 = 10.
    assert meta["dagster/row_count"].value == 4
    assert meta["samples"].value == 4
    assert meta["effective_samples"].value == 10.0
    assert meta["too_small_for_stage2"].value == 1
    assert meta["not_trainable_skipped"].value == 1
    assert f"| {e1} | 1 | 4.0 | 4.0 |" in meta["entities"].value
    assert f"| {e2} | 3 | 2.0 | 6.0 |" in meta["entities"].value
    (check,) = result.get_asset_check_evaluations()
    assert check.passed
    assert check.metadata["params"].value["max_repeats"] == 4.0
    shard = store.read_table(TRAINING_SHARDS, CATEGORY).to_pylist()
    assert sorted((r["width"], r["bucket_w"], r["bucket_h"]) for r in shard) == [
        (600, None, None),
        (800, 768, 768),
        (1000, 1088, 640),
        (1024, 1024, 1024),
    ]


def test_training_shards_check_fails_on_a_missing_blob(
    setup: tuple[Storage, dict, list[str]],
) -> None:
    store, res, _ = setup
    rows = store.read_table(TRANSLATED, CATEGORY).to_pylist()
    Path(store.blob_path(rows[0]["image_id"])).unlink()
    result = materialize(
        ASSETS, partition_key=CATEGORY, resources=res, selection=["training_shards"],
        raise_on_error=False,
    )  # fmt: skip
    (check,) = result.get_asset_check_evaluations()
    assert not check.passed
    assert len(check.metadata["without_blob"].value) == 1


def _shards_then(res: dict, **kwargs: object) -> object:
    assert materialize(ASSETS, partition_key=CATEGORY, resources=res, selection=["training_shards"])
    return materialize(ASSETS, resources=res, selection=["training_dataset"], **kwargs)


def test_training_dataset_refuses_an_incomplete_set(
    setup: tuple[Storage, dict, list[str]],
) -> None:
    store, res, _ = setup
    result = _shards_then(res, raise_on_error=False)
    assert not result.success
    (failure,) = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    message = failure.step_failure_data.error.message
    expected_missing = [c for c in load_pack(RU).category_ids if c != CATEGORY]
    assert f"missing for {len(expected_missing)} categories" in message
    assert "famous_personalities" in message and CATEGORY + "," not in message
    assert not store.has_table(TRAINING_DATASET)


def test_training_dataset_builds_when_allowed(setup: tuple[Storage, dict, list[str]]) -> None:
    store, res, _ = setup
    config = {"ops": {"training_dataset": {"config": {"allow_incomplete": True}}}}
    result = _shards_then(res, run_config=config)
    assert result.success
    meta = result.asset_materializations_for_node("training_dataset")[0].metadata
    assert meta["samples"].value == 4
    assert meta["categories"].value == 1
    assert len(meta["missing_categories"].value) == len(load_pack(RU).category_ids) - 1
    assert "**Incomplete**" in meta["card"].value
    assert "## Stage-2 buckets" in meta["card"].value
    assert meta["plot_buckets"].value.startswith("![buckets](data:image/png;base64,")
    assert store.read_table(TRAINING_DATASET).num_rows == 4
    card = store.read_file((TRAINING_DATASET, "card.md")).decode()
    assert card.count("data:image/png;base64,") == 3


FAKE_TRAINER = '''
"""A stand-in for craft_dag.training.train: same CLI, same outputs, reports through Pipes."""
import argparse, io, json, sys
from pathlib import Path

from PIL import Image

from craft_dag.training.pipes import open_reporter

parser = argparse.ArgumentParser()
for flag in ("--config", "--dataset", "--storage", "--output", "--prompts"):
    parser.add_argument(flag, required=True)
parser.add_argument("--max-steps", type=int, default=4)
args = parser.parse_args()
out = Path(args.output)
(out / "final" / "unet").mkdir(parents=True)
(out / "validation").mkdir()
with open_reporter() as reporter:
    reporter.log(f"fake trainer: {len(json.loads(Path(args.prompts).read_text()))} prompts")
    with open(out / "metrics.jsonl", "w") as fh:
        for step in range(1, args.max_steps + 1):
            record = {"step": step, "stage": "stage1", "loss": 1.0 / step, "lr": 1e-4,
                      "samples_per_s": 2.0 * step, "flops_per_s": 1e9, "grad_norm": 0.5}
            fh.write(json.dumps(record) + "\\n")
            reporter.step(record)
    for step in (2, 10):  # "10" sorts before "2" by name: the latest is by number
        Image.new("RGB", (64, 32), (step * 20, 0, 0)).save(out / "validation" / f"step-{step}.png")
    (out / "final" / "unet" / "config.json").write_text('{"fake": true}')
    (out / "final" / "unet" / "diffusion_pytorch_model.safetensors").write_bytes(b"\\0" * 64)
    report = {"base_model": "tiny-kandinsky3", "finetune": "full", "steps": args.max_steps,
              "stages": [{"name": "stage1", "resolution": 64, "batch_size": 4}],
              "argv": sys.argv[1:]}
    (out / "report.json").write_text(json.dumps(report))
    reporter.finish(out)
'''


def test_checkpoint_through_pipes_with_a_fake_trainer(
    setup: tuple[Storage, dict, list[str]], tmp_path: Path
) -> None:
    store, res, _ = setup
    fake = tmp_path / "fake"
    fake.mkdir()
    (fake / "fake_train.py").write_text(textwrap.dedent(FAKE_TRAINER))
    config_file = tmp_path / "train.yaml"
    config_file.write_text("stages: {}\n")
    res = {
        **res,
        "training_launcher": TrainingLauncherResource(
            config_path=str(config_file),
            trainer_module="fake_train",
            extra_args=["--max-steps", "3"],
            output_root=str(tmp_path / "runs"),
            env={"PYTHONPATH": str(fake)},
        ),
    }
    config = {"ops": {"training_dataset": {"config": {"allow_incomplete": True}}}}
    assert _shards_then(res, run_config=config).success
    instance = DagsterInstance.ephemeral()
    result = materialize(ASSETS, resources=res, selection=["checkpoint"], instance=instance)
    assert result.success

    logs = [e.user_message for e in instance.all_logs(result.run_id)]
    assert any("fake trainer: 4 prompts" in m for m in logs)
    assert any("step 3 [stage1] loss 0.3333" in m for m in logs)
    assert any("launching the trainer:" in m and "-m fake_train" in m for m in logs)

    meta = result.asset_materializations_for_node("checkpoint")[0].metadata
    assert meta["final_step"].value == 3
    assert meta["final_loss"].value == pytest.approx(1 / 3)
    assert meta["samples_per_s"].value == pytest.approx(4.0)  # mean of 2, 4, 6
    assert meta["flops_per_s"].value == pytest.approx(1e9)
    assert meta["validation"].value.startswith("Validation at step 10")
    argv = meta["report"].value["argv"]
    assert argv[argv.index("--dataset") + 1].endswith("training_dataset/part-00000.parquet")
    assert argv[argv.index("--storage") + 1] == res["storage"].base_uri
    assert argv[-2:] == ["--max-steps", "3"]

    run_id = result.run_id
    assert sorted(meta["files"].value) == [
        "unet/config.json",
        "unet/diffusion_pytorch_model.safetensors",
    ]
    assert store.read_file((CHECKPOINTS, run_id, "unet", "config.json")) == b'{"fake": true}'
    card = store.read_file((CHECKPOINTS, run_id, MODEL_CARD)).decode()
    assert "- base model: tiny-kandinsky3" in card
    assert "4 image-caption pairs" in card
    assert "astronaut" in card  # the paper's translation limitation
    assert meta["model_card"].value == card


def test_checkpoint_fails_when_the_trainer_fails(
    setup: tuple[Storage, dict, list[str]], tmp_path: Path
) -> None:
    _, res, _ = setup
    fake = tmp_path / "fake"
    fake.mkdir()
    (fake / "broken_train.py").write_text("raise SystemExit(3)\n")
    res = {
        **res,
        "training_launcher": TrainingLauncherResource(
            config_path="unused.yaml",
            trainer_module="broken_train",
            output_root=str(tmp_path / "runs"),
            env={"PYTHONPATH": str(fake)},
        ),
    }
    config = {"ops": {"training_dataset": {"config": {"allow_incomplete": True}}}}
    assert _shards_then(res, run_config=config).success
    result = materialize(ASSETS, resources=res, selection=["checkpoint"], raise_on_error=False)
    assert not result.success


def test_launcher_command_one_process_and_torchrun() -> None:
    launcher = TrainingLauncherResource(config_path="c.yaml", extra_args=["--seed", "1"])
    paths = {"dataset": "d.parquet", "storage": "/s", "output": "/o", "prompts": "p.json"}
    one = launcher.command(**paths)
    assert one == [
        sys.executable, "-m", "craft_dag.training.train", "--config", "c.yaml",
        "--dataset", "d.parquet", "--storage", "/s", "--output", "/o", "--prompts", "p.json",
        "--seed", "1",
    ]  # fmt: skip
    two = TrainingLauncherResource(config_path="c.yaml", nproc_per_node=2).command(**paths)
    assert two[:8] == [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
        "-m", "craft_dag.training.train",
    ]  # fmt: skip


def test_reporter_outside_pipes_and_on_other_ranks() -> None:
    assert type(open_reporter({})) is NullReporter
    assert type(open_reporter({"DAGSTER_PIPES_CONTEXT": "x", "RANK": "1"})) is NullReporter
    with open_reporter({}) as reporter:  # the no-op reporter takes every call
        reporter.log("hello")
        reporter.step({"step": 1, "loss": 0.5})
        reporter.finish("/nowhere")


@pytest.mark.slow
def test_checkpoint_runs_the_real_trainer_for_a_few_steps(
    setup: tuple[Storage, dict, list[str]], tmp_path: Path
) -> None:
    """The real entry point on the tiny Kandinsky 3, both stages cut to a few steps."""
    store, res, _ = setup
    res = {
        **res,
        "training_launcher": TrainingLauncherResource(
            config_path="tiny",
            extra_args=[
                "--set", "stages.stage1_64.max_steps=2",
                "--set", "stages.stage2_mixed.max_steps=2",
                "--set", "log_every=1",
                "--set", "validation.every=0",
            ],
            output_root=str(tmp_path / "runs"),
        ),
    }  # fmt: skip
    config = {"ops": {"training_dataset": {"config": {"allow_incomplete": True}}}}
    assert _shards_then(res, run_config=config).success
    instance = DagsterInstance.ephemeral()
    result = materialize(
        ASSETS, resources=res, selection=["checkpoint"], instance=instance,
        run_config={"ops": {"checkpoint": {"config": {"validation_prompts": 1}}}},
    )  # fmt: skip
    assert result.success
    # The trainer's own progress, streamed through Pipes while it ran: one line per step.
    logs = [e.user_message for e in instance.all_logs(result.run_id)]
    steps = [m for m in logs if m.startswith("step ") and "samples/s" in m and "FLOP/s" in m]
    assert [m.split()[1] for m in steps] == ["1", "2", "3", "4"]
    assert any("[stage2_mixed]" in m for m in steps)
    meta = result.asset_materializations_for_node("checkpoint")[0].metadata
    assert any(f.startswith("unet/") for f in meta["files"].value)
    assert meta["final_step"].value == 4
    assert meta["final_loss"].value > 0
    card = store.read_file((CHECKPOINTS, result.run_id, MODEL_CARD)).decode()
    assert "- base model: tiny" in card
    assert "- steps: 4" in card
