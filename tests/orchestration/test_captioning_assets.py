"""The captioning assets through Dagster: human captions from a review export and a CSV, the
linter check, automatic captions where the policy asks, and translation with the glossary."""

from pathlib import Path

import pytest
from dagster import materialize

from craft_dag.assets.captioning import captioning_assets, captioning_checks
from craft_dag.assets.catalog import entities, pack_files
from craft_dag.assets.collection import raw_images
from craft_dag.assets.curation import curation_assets, curation_checks
from craft_dag.captioning.choose import HUMAN_CAPTIONS
from craft_dag.catalog.pack import load_pack
from craft_dag.collection.samples import build_sample_set
from craft_dag.resources import DownloaderResource, LocalFolderSourceResource
from craft_dag.resources.captioning import CaptionerResource, TranslatorResource
from craft_dag.resources.curation import CurationScorersResource
from craft_dag.review.tasks_and_exports import EXPORTS
from craft_dag.storage import Storage
from tests.orchestration.helpers import resources

CATEGORY = "national_cuisine"
ASSETS = [
    pack_files,
    entities,
    raw_images,
    *curation_assets,
    *curation_checks,
    *captioning_assets,
    *captioning_checks,
]
# Captions name their image's entity ({name}); both mention борщ, a glossary term.
CLEAN = (
    "«{name}» стоит на праздничном столе рядом с тарелкой борща. Рядом лежат ложки и "
    "льняные салфетки."
)
VIEWING = "На этом фото мы видим «{name}». Блюдо стоит на столе."
CLEAN_2 = (
    "Хозяйка подаёт «{name}» к обеду вместе с борщом. Скатерть на столе белая, с вышивкой по краю."
)


def names_of(store: Storage) -> dict[str, str]:
    return {
        r["entity_id"]: r["native_name"] for r in store.read_table("entities", CATEGORY).to_pylist()
    }


@pytest.fixture
def reviewed(ru_pack_copy: Path, tmp_path: Path) -> tuple[dict, Storage, list[dict]]:
    """One category collected, scored and reviewed: every task kept, three with captions."""
    pack = load_pack(ru_pack_copy)
    samples = tmp_path / "samples"
    build_sample_set(samples, {CATEGORY: [e.id for e in pack.entities[CATEGORY]]}, per_category=3)
    res = {
        **resources(ru_pack_copy, str(tmp_path / "store")),
        "image_source": LocalFolderSourceResource(root=str(samples)),
        "downloader": DownloaderResource(),
        "scorers": CurationScorersResource(ocr="off", relevance_model="off"),
        "captioner": CaptionerResource(max_new_tokens=12),
        "translator": TranslatorResource(num_beams=1),
    }
    store = Storage(str(tmp_path / "store"))
    selection = ["entities", "raw_images", "image_scores", "review_tasks", "filtered_images"]
    assert materialize(ASSETS, partition_key=CATEGORY, resources=res, selection=selection).success
    scores = [
        r
        for r in store.read_table("image_scores", CATEGORY).to_pylist()
        if r["decision"] != "reject"
    ]
    assert len(scores) >= 3
    lines = ["image_id,entity_id,category,verdict,reasons,caption,annotator,annotated_at"]
    names = names_of(store)
    for i, r in enumerate(scores):
        caption = {0: CLEAN, 1: VIEWING}.get(i, "").format(name=names[r["entity_id"]])
        lines.append(
            f'{r["image_id"]},{r["entity_id"]},{CATEGORY},keep,,"{caption}",ann@example.org,'
            "2026-11-30T10:00:00Z"
        )
    store.write_file((EXPORTS, CATEGORY, "review.csv"), ("\n".join(lines) + "\n").encode())
    assert materialize(
        ASSETS, partition_key=CATEGORY, resources=res, selection=["filtered_images"]
    ).success
    return res, store, scores


def run(res: dict, policy: str) -> object:
    result = materialize(
        ASSETS,
        partition_key=CATEGORY,
        resources=res,
        selection=["captions", "translated_captions"],
        run_config={"ops": {"captions": {"config": {"policy": policy}}}},
    )
    assert result.success
    return result


def test_human_only_lints_and_translates_the_human_captions(
    reviewed: tuple[dict, Storage, list[dict]],
) -> None:
    res, store, scores = reviewed
    # A dedicated caption pass in a CSV wins over the review caption of the same image.
    third = scores[2]
    caption_2 = CLEAN_2.format(name=names_of(store)[third["entity_id"]])
    csv = f'image_id,entity_id,caption,author\n{third["image_id"]},,"{caption_2}",Ольга\n'
    store.write_file((HUMAN_CAPTIONS, CATEGORY, "pass1.csv"), csv.encode())
    result = run(res, "human_only")

    rows = {r["image_id"]: r for r in store.read_table("captions", CATEGORY).to_pylist()}
    clean, viewing, from_csv = (rows[s["image_id"]] for s in scores[:3])
    assert (clean["caption_source"], clean["included"], clean["violations"]) == ("human", True, [])
    assert viewing["included"] is False and viewing["violations"] == ["viewing_phrase"]
    assert viewing["excluded_reason"] == "guidelines: viewing_phrase"
    assert (from_csv["human_source"], from_csv["human_author"]) == ("csv", "Ольга")
    # human_only runs no captioner at all.
    assert all(r["auto_caption_raw"] == "" for r in rows.values())
    uncaptioned = [r for r in rows.values() if r["caption_source"] == "none"]
    assert uncaptioned and all(r["excluded_reason"] == "no caption" for r in uncaptioned)

    checks = {c.check_name: c for c in result.get_asset_check_evaluations()}
    assert checks["captions_follow_guidelines"].passed
    assert checks["captions_follow_guidelines"].metadata["excluded_by_rule"].value == {
        "viewing_phrase": 1
    }
    assert checks["translated_glossary_clean"].passed
    assert checks["translated_in_target_language"].passed

    translated = store.read_table("translated_captions", CATEGORY).to_pylist()
    assert {r["image_id"] for r in translated} == {clean["image_id"], from_csv["image_id"]}
    assert {r["caption_native"] for r in translated} == {clean["caption"], from_csv["caption"]}
    for r in translated:
        assert r["translation_backend"]
        assert "борщ" in r["glossary_hits"]  # the glossary term, found by lemma ("борщом")
        # The tiny model's English is noise: it cannot render "borscht", so the row is held back.
        assert "борщ" in r["glossary_misses"] and r["trainable"] is False
    md = result.asset_materializations_for_node("translated_captions")[0].metadata
    assert "text is noise" in md["side_by_side"].value
    assert md["glossary_misses"].value["борщ"] == 2

    # A person's translation in the translation memory replaces the model's; a wrong rendering
    # in it is post-edited like the model's ("beet soup" is the glossary's known wrong one).
    english = f"“{clean['caption'].split('»')[0][1:]}” stands on a festive table beside a bowl of beet soup. Spoons and linen napkins lie nearby."
    memory = f'source,translation\n"{clean["caption"]}","{english}"\n'
    store.write_file(("translation_memory", CATEGORY, "human.csv"), memory.encode())
    run(res, "human_only")
    rows = {r["image_id"]: r for r in store.read_table("translated_captions", CATEGORY).to_pylist()}
    remembered = rows[clean["image_id"]]
    assert remembered["translation_backend"] == "memory"
    assert remembered["machine_translation"] == english
    assert "borscht" in remembered["caption_en"].lower() and remembered["glossary_edits"] >= 1
    assert rows[from_csv["image_id"]]["translation_backend"] != "memory"


def test_human_else_auto_captions_the_rest_with_the_model(
    reviewed: tuple[dict, Storage, list[dict]],
) -> None:
    res, store, _ = reviewed
    run(res, "human_else_auto")
    rows = store.read_table("captions", CATEGORY).to_pylist()
    auto = [r for r in rows if r["caption_source"] == "auto"]
    assert auto and all(r["auto_caption_raw"] and r["auto_model"] for r in auto)
    assert all('"max_new_tokens": 12' in r["auto_params"] for r in auto)
    # Noise names no entity: the linter keeps it out of training.
    assert all(not r["included"] and "missing_entity" in r["violations"] for r in auto)
    assert [r["caption_source"] for r in rows if r["included"]] == ["human"]
