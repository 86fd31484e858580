"""The curation assets through Dagster: scores, review tasks, a review export, filtered images,
and staleness: a threshold edit or a new export marks exactly its category's downstream."""

import json
from pathlib import Path

import pytest
from dagster import AssetKey, DagsterInstance, Definitions, materialize
from dagster._core.definitions.data_version import StaleStatus
from dagster._utils.test.data_versions import get_stale_status_resolver

from craft_dag.assets.captioning import translation_memory
from craft_dag.assets.catalog import entities, pack_files
from craft_dag.assets.collection import raw_images
from craft_dag.assets.curation import (
    curation_assets,
    curation_checks,
    curation_policy,
    filtered_images,
    image_scores,
    review_decisions,
)
from craft_dag.catalog.pack import load_pack
from craft_dag.collection.samples import build_sample_set
from craft_dag.jobs.jobs import observe_pack_job, observe_review_job
from craft_dag.resources import DownloaderResource, LocalFolderSourceResource
from craft_dag.resources.curation import CurationScorersResource
from craft_dag.review.tasks_and_exports import EXPORTS, TASKS, read_review_tasks
from craft_dag.storage import Storage
from tests.orchestration.helpers import resources

ASSETS = [pack_files, entities, raw_images, *curation_assets, *curation_checks]
SCORE = ["entities", "raw_images", "image_scores", "review_tasks"]
# The partitions come from the active pack (the bundled one in tests): three of its categories.
CATEGORIES = ["national_cuisine", "architecture_landmarks", "folk_crafts_traditions"]


@pytest.fixture
def setup(ru_pack_copy: Path, tmp_path: Path) -> tuple[dict, Storage, Path]:
    pack = load_pack(ru_pack_copy)
    samples = tmp_path / "samples"
    build_sample_set(samples, {c: [e.id for e in pack.entities[c]] for c in CATEGORIES})
    res = {
        **resources(ru_pack_copy, str(tmp_path / "store")),
        "image_source": LocalFolderSourceResource(root=str(samples)),
        "downloader": DownloaderResource(),
        # OCR on (Tesseract is installed by `make setup`); the tiny relevance model is noise.
        "scorers": CurationScorersResource(ocr="on"),
    }
    return res, Storage(str(tmp_path / "store")), ru_pack_copy


def run(res: dict, key: str, selection: list[str], instance: DagsterInstance | None = None):
    result = materialize(
        ASSETS, partition_key=key, resources=res, selection=selection, instance=instance
    )
    assert result.success
    return result


def csv_export(rows: list[tuple[str, str, str, str]]) -> bytes:
    lines = ["image_id,entity_id,category,verdict,reasons,caption,annotator,annotated_at"]
    for image_id, entity_id, verdict, caption in rows:
        reasons = "" if verdict == "keep" else "not_cultural"
        lines.append(
            f"{image_id},{entity_id},national_cuisine,{verdict},{reasons},{caption},"
            "curator@example.org,2026-11-30T10:00:00Z"
        )
    return ("\n".join(lines) + "\n").encode("utf-8")


def test_scores_tasks_review_and_filtered_images(setup: tuple[dict, Storage, Path]) -> None:
    res, store, _ = setup
    result = run(res, "national_cuisine", SCORE)
    md = result.asset_materializations_for_node("image_scores")[0].metadata
    scores = store.read_table("image_scores", "national_cuisine").to_pylist()
    assert (
        md["dagster/row_count"].value
        == len(scores)
        == store.read_table("raw_images", "national_cuisine").num_rows
    )
    assert md["keep"].value + md["review"].value + md["reject"].value == len(scores)
    assert (
        "| collected |" in md["funnel"].value
        and "| min_blur | 20.0 | default |" in md["thresholds"].value
    )
    assert md["scorers"].value["text"] == "TesseractTextDetector"
    flagged = {k for k in md if k.startswith("flagged_")}
    assert flagged == {f"flagged_{r}" for s in scores for r in s["reasons"]}
    assert all(md[k].value.startswith("![images flagged ") for k in flagged)
    assert all(c.passed for c in result.get_asset_check_evaluations())

    tasks = read_review_tasks(store, "national_cuisine")
    sent = [s for s in scores if s["decision"] != "reject"]
    assert sorted(t["data"]["image_id"] for t in tasks) == sorted(s["image_id"] for s in sent)
    assert all(t["data"]["image"].startswith("file://") for t in tasks)
    assert store.list_files(TASKS) == ["label_config.xml"]

    # Nothing reviewed yet: with review on, nothing passes, and the coverage check names all.
    result = run(res, "national_cuisine", ["filtered_images"])
    assert store.read_table("filtered_images", "national_cuisine").num_rows == 0
    [coverage] = [
        c
        for c in result.get_asset_check_evaluations()
        if c.check_name == "filtered_images_coverage"
    ]
    assert not coverage.passed and "pirozhki (0)" in coverage.description

    # A curator's CSV: keep one, reject another; a bad row is reported, not fatal.
    keep, drop = sent[0], sent[1]
    export = csv_export(
        [
            (keep["image_id"], keep["entity_id"], "keep", "Пирожки на блюде."),
            (drop["image_id"], drop["entity_id"], "reject", ""),
            ("not-a-sha", keep["entity_id"], "maybe", ""),
        ]
    )
    store.write_file((EXPORTS, "national_cuisine", "curator.csv"), export)
    result = run(res, "national_cuisine", ["filtered_images"])
    kept = store.read_table("filtered_images", "national_cuisine").to_pylist()
    assert [(r["image_id"], r["decided_by"], r["human_caption"]) for r in kept] == [
        (keep["image_id"], "human", "Пирожки на блюде.")
    ]
    md = result.asset_materializations_for_node("filtered_images")[0].metadata
    assert md["human_decisions"].value == 2 and md["bad_export_rows"].value == 1
    assert md["export_files"].value == ["curator.csv"]

    # Review off: the automatic keep alone.
    auto = materialize(
        ASSETS,
        partition_key="national_cuisine",
        resources=res,
        selection=["filtered_images"],
        run_config={"ops": {"filtered_images": {"config": {"review": False}}}},
    )
    assert auto.success
    rows = store.read_table("filtered_images", "national_cuisine").to_pylist()
    human = {r["image_id"] for r in kept}
    assert {r["image_id"] for r in rows if r["decided_by"] == "auto"} == {
        s["image_id"] for s in scores if s["decision"] == "keep"
    } - human - {drop["image_id"]}


def test_run_config_overrides_a_threshold(setup: tuple[dict, Storage, Path]) -> None:
    res, store, _ = setup
    run(res, "national_cuisine", ["entities", "raw_images"])
    result = materialize(
        ASSETS,
        partition_key="national_cuisine",
        resources=res,
        selection=["image_scores"],
        run_config={
            "ops": {"image_scores": {"config": {"thresholds": {"min_short_side": 5000.0}}}}
        },
    )
    assert result.success
    scores = store.read_table("image_scores", "national_cuisine").to_pylist()
    assert all("too_small" in s["reasons"] for s in scores if s["status"] == "ok")
    md = result.asset_materializations_for_node("image_scores")[0].metadata
    assert "| min_short_side | 5000 | run |" in md["thresholds"].value


def stale(instance: DagsterInstance, key: str) -> dict[str, StaleStatus]:
    resolver = get_stale_status_resolver(
        instance,
        [pack_files, curation_policy, review_decisions, entities, raw_images, *curation_assets],
    )
    return {c: resolver.get_status(AssetKey(key), c) for c in CATEGORIES}


def test_a_threshold_edit_and_a_new_export_mark_only_their_category(
    setup: tuple[dict, Storage, Path],
) -> None:
    res, store, pack = setup
    instance = DagsterInstance.ephemeral()
    observers = Definitions(
        assets=[
            pack_files,
            curation_policy,
            review_decisions,
            translation_memory,
            entities,
            image_scores,
            filtered_images,
        ],
        jobs=[observe_pack_job, observe_review_job],
        resources=res,
    )

    def observe(job: str) -> None:
        assert observers.resolve_job_def(job).execute_in_process(instance=instance).success

    observe("observe_pack_job")
    observe("observe_review_job")
    for key in CATEGORIES:
        run(res, key, [*SCORE, "filtered_images"], instance)
    assert set(stale(instance, "image_scores").values()) == {StaleStatus.FRESH}
    assert set(stale(instance, "filtered_images").values()) == {StaleStatus.FRESH}

    # Loosen the blur rule for landmarks only (old postcards are soft): its scores go stale.
    (pack / "curation.yaml").write_text("categories:\n  architecture_landmarks:\n    min_blur: 5\n")
    observe("observe_pack_job")
    assert stale(instance, "image_scores") == {
        "national_cuisine": StaleStatus.FRESH,
        "architecture_landmarks": StaleStatus.STALE,
        "folk_crafts_traditions": StaleStatus.FRESH,
    }

    # A review export for crafts: only crafts' filtered images go stale.
    tasks = read_review_tasks(store, "folk_crafts_traditions")
    task = tasks[0]["data"]
    export = [
        {
            "id": 1,
            "data": task,
            "annotations": [
                {
                    "id": 1,
                    "completed_by": {"id": 1, "email": "curator@example.org"},
                    "created_at": "2026-11-30T10:00:00Z",
                    "updated_at": "2026-11-30T10:00:00Z",
                    "was_cancelled": False,
                    "result": [
                        {
                            "from_name": "verdict",
                            "to_name": "image",
                            "type": "choices",
                            "value": {"choices": ["keep"]},
                        }
                    ],
                }
            ],
        }
    ]
    store.write_file(
        (EXPORTS, "folk_crafts_traditions", "export.json"), json.dumps(export).encode()
    )
    observe("observe_review_job")
    after = stale(instance, "filtered_images")
    assert (
        after["folk_crafts_traditions"] == StaleStatus.STALE
        and after["national_cuisine"] == StaleStatus.FRESH
    )
    run(res, "folk_crafts_traditions", ["filtered_images"], instance)
    assert stale(instance, "filtered_images")["folk_crafts_traditions"] == StaleStatus.FRESH
    assert [
        r["image_id"]
        for r in store.read_table("filtered_images", "folk_crafts_traditions").to_pylist()
    ] == [task["image_id"]]
