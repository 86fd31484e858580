"""Training shards, the fan-in manifest and the dataset card, with numbers worked by hand."""

from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from craft_dag.curation.filtering import FILTERED, FILTERED_SCHEMA
from craft_dag.storage import Storage
from craft_dag.training.buckets import PAPER_STAGE2
from craft_dag.training.dataset import (
    SHARD_SCHEMA,
    TRAINING_DATASET,
    TRAINING_SHARDS,
    IncompleteDatasetError,
    build_manifest,
    build_shards,
    load_shards,
    sample_id,
    shard_category,
    shard_params,
    write_manifest,
)
from craft_dag.translation.translate_category import TRANSLATED, TRANSLATED_SCHEMA


def translated_row(
    image_id: str,
    entity_id: str,
    size: tuple[int, int],
    *,
    category: str = "national_cuisine",
    caption_en: str = "A bowl of red borscht with sour cream",
    caption_native: str = "Тарелка красного борща со сметаной",
    trainable: bool = True,
) -> dict[str, Any]:
    """One ``translated_captions`` row with every column of the real schema."""
    return {
        "image_id": image_id,
        "entity_id": entity_id,
        "category": category,
        "blob_key": f"blobs/sha256/{image_id[:2]}/{image_id}",
        "width": size[0],
        "height": size[1],
        "caption_source": "human",
        "caption_native": caption_native,
        "caption_en": caption_en,
        "machine_translation": caption_en,
        "translation_backend": "tiny",
        "translation_model": "tiny",
        "glossary_hits": [],
        "glossary_edits": 0,
        "glossary_misses": [],
        "language": "en",
        "language_confidence": 0.99,
        "length_ratio": 1.0,
        "empty": False,
        "truncated": False,
        "qe_score": None,
        "trainable": trainable,
        "excluded_reason": "" if trainable else "glossary miss: борщ",
    }


# e1: one image; e2: four trainable images and one held back by translation.
ROWS = [
    translated_row("aa01", "e1", (1024, 1024)),
    translated_row("bb01", "e2", (800, 800)),  # -> 768x768 (x0.96, not 832x832 at x1.04)
    translated_row("bb02", "e2", (1000, 600)),  # -> 1088x640 (x1.088)
    translated_row("bb03", "e2", (600, 600)),  # too small: 768 / 600 = x1.28
    translated_row("bb04", "e2", (1400, 700)),  # -> 1280x640: 1408x704 would need x1.006
    translated_row("bb05", "e2", (900, 900), trainable=False),
]


def test_shard_columns_buckets_and_weights() -> None:
    # T = 8, C = 5: e1 8/1 -> capped at 5; e2 8/4 = 2. Effective 5 + 4 * 2 = 13.
    result = build_shards(
        ROWS, PAPER_STAGE2, licences={("aa01", "e1"): "CC BY 4.0"}, target_per_entity=8,
        max_repeats=5,
    )  # fmt: skip
    table = result.table
    assert table.schema.equals(SHARD_SCHEMA)
    rows = {r["image_id"]: r for r in table.to_pylist()}
    assert set(rows) == {"aa01", "bb01", "bb02", "bb03", "bb04"}
    assert {i: (r["bucket_w"], r["bucket_h"]) for i, r in rows.items()} == {
        "aa01": (1024, 1024),
        "bb01": (768, 768),
        "bb02": (1088, 640),
        "bb03": (None, None),
        "bb04": (1280, 640),
    }
    assert [i for i, r in rows.items() if not r["stage2"]] == ["bb03"]
    assert rows["bb03"]["stage2_reason"].startswith("too_small: 600x600")
    assert rows["bb01"]["stage2_reason"] == ""
    assert {i: r["repeat_weight"] for i, r in rows.items()} == {
        "aa01": 5.0,
        "bb01": 2.0,
        "bb02": 2.0,
        "bb03": 2.0,
        "bb04": 2.0,
    }
    assert result.weights.effective == 13.0
    assert rows["aa01"]["licence"] == "CC BY 4.0" and rows["bb01"]["licence"] == ""
    assert rows["aa01"]["sample_id"] == sample_id("aa01", "e1")
    assert result.counts == {"rows": 5, "too_small": 1, "not trainable": 1}
    assert shard_params(table)["mode"] == "balanced"
    assert shard_params(table)["max_repeats"] == 5.0


def test_uniform_mode_is_x50() -> None:
    result = build_shards(ROWS, PAPER_STAGE2, "uniform")
    assert set(result.table.column("repeat_weight").to_pylist()) == {50.0}
    assert shard_params(result.table)["max_repeats"] is None


def test_sample_ids_are_stable_and_unambiguous() -> None:
    assert sample_id("img", "ent") == sample_id("img", "ent")
    assert sample_id("ab", "c") != sample_id("a", "bc")
    assert len(sample_id("a", "b")) == 32


def test_same_rows_in_any_order_give_the_same_shard() -> None:
    a = build_shards(ROWS).table
    b = build_shards(list(reversed(ROWS))).table
    assert a.equals(b)


def _write_translated(store: Storage, category: str, rows: list[dict]) -> None:
    store.write_table(TRANSLATED, category, pa.Table.from_pylist(rows, schema=TRANSLATED_SCHEMA))


def test_shard_category_reads_licences_and_rewrites_only_its_shard(tmp_path: Path) -> None:
    store = Storage(str(tmp_path))
    _write_translated(store, "national_cuisine", ROWS)
    other = [translated_row("cc01", "e9", (768, 768), category="fauna")]
    _write_translated(store, "fauna", other)
    filtered = [
        {name: None for name in FILTERED_SCHEMA.names}
        | {"image_id": "aa01", "entity_id": "e1", "licence": "CC0", "category": "national_cuisine"}
    ]
    store.write_table(
        FILTERED, "national_cuisine", pa.Table.from_pylist(filtered, schema=FILTERED_SCHEMA)
    )
    shard_category(store, "national_cuisine")
    shard_category(store, "fauna")
    fauna_file = Path(store.table_path(TRAINING_SHARDS, "fauna"))
    before = (fauna_file.stat().st_mtime_ns, fauna_file.read_bytes())

    shard_category(store, "national_cuisine", mode="uniform")

    assert (fauna_file.stat().st_mtime_ns, fauna_file.read_bytes()) == before
    cuisine = store.read_table(TRAINING_SHARDS, "national_cuisine").to_pylist()
    assert {r["image_id"]: r["licence"] for r in cuisine}["aa01"] == "CC0"
    assert {r["repeat_weight"] for r in cuisine} == {50.0}


def test_load_shards_refuses_an_incomplete_set(tmp_path: Path) -> None:
    store = Storage(str(tmp_path))
    store.write_table(TRAINING_SHARDS, "fauna", build_shards(ROWS).table)
    with pytest.raises(
        IncompleteDatasetError, match="missing for 2 categories: cartoons, holidays"
    ):
        load_shards(store, ["fauna", "cartoons", "holidays"])
    shards, missing = load_shards(store, ["fauna", "cartoons"], allow_incomplete=True)
    assert list(shards) == ["fauna"] and missing == ["cartoons"]
    with pytest.raises(IncompleteDatasetError):  # nothing at all to build from
        load_shards(store, ["cartoons"], allow_incomplete=True)


def _two_shards() -> dict[str, pa.Table]:
    cuisine = build_shards(
        ROWS, licences={("aa01", "e1"): "CC BY 4.0", ("bb01", "e2"): "CC BY 4.0"},
        target_per_entity=8, max_repeats=5,
    ).table  # fmt: skip
    fauna_rows = [
        translated_row(
            f"f{i}", "bear", (768, 768), category="fauna", caption_en="A brown bear in forest",
            caption_native="",  # an automatic English caption has no native one
        )
        for i in range(3)
    ]  # fmt: skip
    fauna = build_shards(fauna_rows, target_per_entity=8, max_repeats=5).table
    return {"national_cuisine": cuisine, "fauna": fauna}


def test_manifest_counts_and_card() -> None:
    # fauna: 3 bear images, weight 8/3 each -> effective 8. cuisine: 5 rows, effective 13.
    manifest = build_manifest(_two_shards())
    assert manifest.table.num_rows == 8
    assert manifest.table.column("category").to_pylist() == ["fauna"] * 3 + ["national_cuisine"] * 5
    assert manifest.counts["samples"] == 8
    assert manifest.counts["effective_samples"] == pytest.approx(21.0)
    assert manifest.counts["entities"] == 3
    assert manifest.counts["too_small"] == 1
    assert manifest.counts["stage2_samples"] == 7
    assert manifest.counts["licences"] == {"unknown": 6, "CC BY 4.0": 2}
    card = manifest.card
    # Shares: fauna 3/8 = 37.5% before, 8/21 = 38.1% after; cuisine 5/8, 13/21 = 61.9%.
    assert "| fauna | 3 | 37.5% | 8.0 | 38.1% | 0 |" in card
    assert "| national_cuisine | 5 | 62.5% | 13.0 | 61.9% | 1 |" in card
    # Entities rarest first: e1 (1 sample, 1/8 = 12.5%, after 5/21 = 23.8%).
    assert card.index("| national_cuisine | e1 | 1 | 12.5% | 5.0 | 23.8% |") < card.index(
        "| fauna | bear | 3 |"
    )
    assert "| 768x768 | 4 |" in card and "| too_small | 1 |" in card  # 3 bears and bb01
    # English: 5 captions of 8 words, 3 of 5 words -> min 5, median 8, mean 6.9, max 8.
    assert "| English | 8 | 5 | 8.0 | 6.9 | 8 |" in card
    # Native: only the 5 cuisine captions (5 words each); the auto captions have none.
    assert "| native | 5 | 5 | 5 | 5.0 | 5 |" in card
    assert "| unknown | 6 |" in card and "| CC BY 4.0 | 2 |" in card
    assert set(manifest.plots) == {"per_category", "buckets", "caption_words"}
    assert card.count("data:image/png;base64,") == 3
    for png in manifest.plots.values():
        assert png.startswith(b"\x89PNG")


def test_manifest_card_limits_entities_and_plots() -> None:
    card = build_manifest(_two_shards(), entity_limit=1, inline_plots=False, missing=["x"]).card
    assert "The 1 rarest of 3" in card
    assert "| fauna | bear |" not in card
    assert "data:image/png" not in card
    assert "**Incomplete**: no shard for x." in card


def test_write_manifest(tmp_path: Path) -> None:
    store = Storage(str(tmp_path))
    manifest = build_manifest(_two_shards())
    table_uri, card_uri = write_manifest(store, manifest)
    assert store.read_table(TRAINING_DATASET).num_rows == 8
    assert Path(card_uri).read_text().startswith("# Training dataset")
    assert table_uri.endswith("training_dataset/part-00000.parquet")
