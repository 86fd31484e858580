"""Generations with the tiny Kandinsky 3: decodable, reproducible per seed, model-sensitive."""

import copy
import json
from pathlib import Path

import pytest
import torch

from craft_dag.catalog.pack import bundled_pack_path, load_pack
from craft_dag.evaluation.generate import (
    BASE,
    GENERATIONS,
    TUNED,
    GenerationSpec,
    base_pipeline,
    generate,
    generation_rows,
    list_checkpoints,
    load_checkpoint_unet,
    local_checkpoint,
    missing_generations,
    prompt_limit,
    read_checkpoint,
    sbs_pairs,
    select_prompts,
    with_unet,
    write_generations,
)
from craft_dag.imaging.decode import open_image
from craft_dag.storage import Storage

SPEC = GenerationSpec(images_per_prompt=2, steps=2, width=64, height=64)


@pytest.fixture(scope="module")
def tiny() -> tuple[object, object]:
    return base_pipeline("tiny")


@pytest.fixture(scope="module")
def prompts() -> list:
    return select_prompts(load_pack(bundled_pack_path("ru")).prompts, 2)


def test_select_prompts_takes_categories_in_turn() -> None:
    all_prompts = load_pack(bundled_pack_path("ru")).prompts
    chosen = select_prompts(all_prompts, 4)
    assert len(chosen) == 4 and len({p.category for p in chosen}) == 4
    assert select_prompts(all_prompts, 0) == list(all_prompts)


@pytest.mark.parametrize(
    ("max_prompts", "profile", "expected"),
    [(-1, "tiny", 8), (-1, "full", 0), (0, "tiny", 0), (3, "full", 3), (3, "tiny", 3)],
)
def test_prompt_limit_is_the_config_or_the_profile_default(
    max_prompts: int, profile: str, expected: int
) -> None:
    assert prompt_limit(max_prompts, profile) == expected


def test_generations_decode_and_repeat_exactly(tiny, prompts) -> None:
    pipeline, _ = tiny
    out = generate(pipeline, prompts, SPEC, model_name=BASE)
    assert len(out) == 2 * 2 * 2
    assert {(g.language, g.seed) for g in out} == {
        (lang, s) for lang in ("source", "english") for s in (0, 1)
    }
    for g in out:
        assert open_image(g.image).size == (64, 64)
        assert g.params["steps"] == 2
    source = [g for g in out if g.language == "source"]
    assert source[0].text == prompts[0].source and out[2].text == prompts[0].english
    assert source[0].image != source[1].image  # different seeds, different noise
    again = generate(pipeline, prompts[:1], SPEC, model_name=BASE)
    assert [g.image for g in again] == [g.image for g in out[:4]]


def test_a_modified_unet_changes_the_images_not_the_base(tiny, prompts) -> None:
    pipeline, components = tiny
    before = generate(pipeline, prompts[:1], SPEC, model_name=BASE)
    unet = copy.deepcopy(components.unet)
    with torch.no_grad():
        for p in unet.parameters():
            p.add_(0.05 * torch.randn_like(p))
    tuned = generate(with_unet(components, unet), prompts[:1], SPEC, model_name=TUNED)
    assert all(a.image != b.image for a, b in zip(before, tuned, strict=True))
    after = generate(pipeline, prompts[:1], SPEC, model_name=BASE)
    assert [g.image for g in after] == [g.image for g in before]


def test_checkpoint_round_trip_and_storage(tmp_path: Path, tiny, prompts) -> None:
    pipeline, components = tiny
    store = Storage(str(tmp_path / "store"))
    assert list_checkpoints(store) == []
    folder = Path(store.file_path("checkpoints", "run-1"))
    components.unet.save_pretrained(folder / "unet")
    (folder / "base_model.json").write_text(json.dumps({"base_model": "tiny", "lora": False}))
    assert list_checkpoints(store) == []  # no model card yet: an incomplete copy
    (folder / "model_card.md").write_text("# card\n")
    [found] = list_checkpoints(store)
    assert found == read_checkpoint(store, "run-1") and found.base_model == "tiny"
    with local_checkpoint(store, "run-1") as local:
        unet = load_checkpoint_unet(local)
    base = generate(pipeline, prompts[:1], SPEC, model_name=BASE)
    same = generate(with_unet(components, unet), prompts[:1], SPEC, model_name=TUNED)
    assert [g.image for g in same] == [g.image for g in base]

    rows = generation_rows(store, [*base, *same], model_refs={BASE: "tiny"}, sampler="DDPM")
    table = write_generations(store, rows)
    assert store.read_table(GENERATIONS).num_rows == table.num_rows == 8
    assert all(store.has_blob(r["sha256"]) for r in rows)
    pairs = sbs_pairs(table.to_pylist())
    assert len(pairs) == 4
    assert {p["tuned_model"] for p in pairs} == {TUNED}
    assert pairs[0]["base_sha256"] == pairs[0]["tuned_sha256"]  # same weights, same noise
    assert pairs[0]["category"] == prompts[0].category
    assert missing_generations(rows, [prompts[0].id], [BASE, TUNED], 2) == []
    assert missing_generations(rows, [prompts[0].id], [BASE, TUNED], 3) != []
