from pathlib import Path

import pyarrow as pa
import pytest

from craft_dag.catalog.pack import load_pack
from craft_dag.catalog.tables import (
    ENTITY_SCHEMA,
    duplicate_entity_ids,
    entities_table,
    entities_without_queries,
    markdown_preview,
)


def test_entities_table_holds_the_category_rows_in_file_order(mini_pack: Path) -> None:
    table = entities_table(load_pack(mini_pack), "cuisine")
    assert table.schema.equals(ENTITY_SCHEMA)
    rows = table.to_pylist()
    assert [r["entity_id"] for r in rows] == ["moussaka", "souvlaki"]
    assert rows[1]["aliases"] == ["καλαμάκι"]
    assert rows[1]["queries"] == ["σουβλάκι χοιρινό", "σουβλάκι με πίτα"]
    assert {r["category"] for r in rows} == {"cuisine"}
    assert {r["pack_id"] for r in rows} == {"el_mini"}


def test_unknown_category_is_a_clear_error(mini_pack: Path) -> None:
    with pytest.raises(KeyError, match="no category 'music'"):
        entities_table(load_pack(mini_pack), "music")


def _table(ids: list[str], queries: list[list[str]]) -> pa.Table:
    return pa.table({"entity_id": ids, "queries": queries})


def test_duplicate_ids() -> None:
    assert duplicate_entity_ids(_table(["a", "b", "a", "c", "c"], [["q"]] * 5)) == ["a", "c"]
    assert duplicate_entity_ids(_table(["a", "b"], [["q"]] * 2)) == []


def test_entities_without_queries() -> None:
    table = _table(["a", "b", "c"], [["q"], [], ["  ", ""]])
    assert entities_without_queries(table) == ["b", "c"]


def test_markdown_preview_escapes_and_truncates() -> None:
    table = pa.table({"id": [f"e{i}" for i in range(12)], "q": [["a|b", "c"]] * 12})
    text = markdown_preview(table, ["id", "q"], limit=2)
    lines = text.splitlines()
    assert lines[0] == "| id | q |"
    assert lines[2] == "| e0 | a\\|b; c |"
    assert "*10 more rows*" in text
