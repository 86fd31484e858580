from pathlib import Path

import pytest

from craft_dag.catalog.yaml_source import YamlSourceError, load_yaml


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "f.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_lines_are_recorded_for_keys_and_list_items(tmp_path: Path) -> None:
    doc = load_yaml(
        write(
            tmp_path,
            "category: cuisine\n"
            "entities:\n"
            "  - id: a\n"
            "    queries:\n"
            "      - один\n"
            "      - два\n"
            "  - id: b\n",
        )
    )
    assert doc.data["entities"][1] == {"id": "b"}
    assert doc.line_of(("category",)) == 1
    assert doc.line_of(("entities", 0)) == 3
    assert doc.line_of(("entities", 0, "queries")) == 4
    assert doc.line_of(("entities", 0, "queries", 1)) == 6
    assert doc.line_of(("entities", 1, "id")) == 7
    # A key that is missing points at its parent record.
    assert doc.line_of(("entities", 1, "queries")) == 7


def test_duplicate_keys_are_reported_not_silently_overwritten(tmp_path: Path) -> None:
    doc = load_yaml(write(tmp_path, "id: a\nname: x\nid: b\n"))
    assert doc.duplicate_keys == [(("id",), 3)]


def test_malformed_yaml_names_the_line(tmp_path: Path) -> None:
    with pytest.raises(YamlSourceError) as excinfo:
        load_yaml(write(tmp_path, "entities:\n  - id: a\n    queries: [one, two\n  - id: b\n"))
    assert excinfo.value.line in (3, 4)
    assert "malformed YAML" in excinfo.value.message


def test_non_utf8_file_is_an_error_at_line_1(tmp_path: Path) -> None:
    path = tmp_path / "f.yaml"
    path.write_bytes("id: Гагарин".encode("cp1251"))
    with pytest.raises(YamlSourceError, match="not UTF-8"):
        load_yaml(path)


def test_empty_file_has_no_data(tmp_path: Path) -> None:
    assert load_yaml(write(tmp_path, "# only a comment\n")).data is None
