"""The launching side of a training run, without Dagster: the validation prompts handed to
the trainer and the checkpoint's model card made from what it wrote."""

import json
from pathlib import Path

import pyarrow as pa

from craft_dag.catalog.models import EvalPrompt
from craft_dag.training.shards import SHARD_SCHEMA
from craft_dag.training.trainer_handoff import (
    PROMPTS_FILE,
    checkpoint_card,
    validation_prompts,
    write_validation_prompts,
)


def _prompt(i: int, category: str) -> EvalPrompt:
    return EvalPrompt(
        id=f"p{i}", category=category, source=f"источник {i}", english=f"{category} {i}"
    )


PROMPTS = [_prompt(1, "food"), _prompt(2, "food"), _prompt(3, "food"), _prompt(4, "fauna")]


def test_validation_prompts_take_categories_in_turn() -> None:
    assert validation_prompts(PROMPTS, 3) == ["food 1", "fauna 4", "food 2"]
    assert validation_prompts(PROMPTS, 10) == ["food 1", "fauna 4", "food 2", "food 3"]
    assert validation_prompts(PROMPTS, 0) == []


def test_prompts_file_is_written_in_a_new_run_folder(tmp_path: Path) -> None:
    path = write_validation_prompts(tmp_path / "run-1", PROMPTS, 2)
    assert path == tmp_path / "run-1" / PROMPTS_FILE
    assert json.loads(path.read_text()) == ["food 1", "fauna 4"]


def _dataset() -> pa.Table:
    row = {"sample_id": "s", "image_id": "i", "entity_id": "blini", "category": "food",
           "blob_key": "b", "caption_en": "Blini.", "caption_native": "Блины.", "width": 800,
           "height": 800, "bucket_w": 768, "bucket_h": 768, "stage2": True,
           "stage2_reason": "", "repeat_weight": 2.0, "licence": "CC BY 4.0"}  # fmt: skip
    return pa.Table.from_pylist([row, {**row, "sample_id": "t"}], schema=SHARD_SCHEMA)


def test_checkpoint_card_from_the_run_output_and_its_dataset(tmp_path: Path) -> None:
    metrics = [{"step": 1, "loss": 0.9, "stage": "stage1"}, {"step": 7, "loss": 0.5, "stage": "s2"}]
    (tmp_path / "metrics.jsonl").write_text("\n".join(json.dumps(m) for m in metrics))
    made = checkpoint_card(tmp_path, _dataset(), checkpoint_uri="file:///ck/run-1", culture="RU")
    assert made.summary["final_step"] == 7 and made.summary["final_loss"] == 0.5
    assert made.card.startswith("# Model card")
    assert "- weights: file:///ck/run-1" in made.card
    assert "- steps: 7" in made.card  # no trainer report: the steps come from the metrics
    assert "2 image-caption pairs of 1 entities in 1 categories (food)" in made.card
    assert "| CC BY 4.0 | 2 |" in made.card
    assert "Text-to-image generation that knows the RU's cultural code" in made.card
