"""``craft glossary check`` end to end: exit codes 0, 1 and 2, and the --out CSV."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from craft_dag.translation.cli import main


def _write(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def test_misses_are_reported_and_written(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    path = _write(
        tmp_path / "captions.csv",
        [
            {
                "id": "1",
                "source": "Два космонавта у ракеты",
                "translation": "Two astronauts by a rocket",
            },
            {"id": "2", "source": "Пирожки и блины", "translation": "Pies and blini"},
            {"id": "3", "source": "Космонавты", "translation": "Cosmonauts"},
            {"id": "4", "source": "Закат", "translation": "Sunset"},
        ],
    )
    out = tmp_path / "report" / "checked.csv"
    assert main(["glossary", "check", str(path), "--out", str(out)]) == 1
    captured = capsys.readouterr()
    assert "row 1: космонавт -> 'cosmonaut' required, found 'astronauts'" in captured.err
    assert "row 2: пирожки -> 'pirozhki' required, found 'Pies'" in captured.err
    assert "4 rows, 2 with glossary misses" in captured.out
    with out.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == ["id", "source", "translation", "misses"]
    assert [r["misses"] for r in rows] == ["космонавт", "пирожки", "", ""]
    assert rows[1]["translation"] == "Pies and blini"  # the input is kept as it was


def test_several_misses_in_one_row_join_with_semicolons(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "c.csv",
        [{"source": "Дед Мороз ест пельмени", "translation": "Santa Claus eats dumplings"}],
    )
    out = tmp_path / "o.csv"
    assert main(["glossary", "check", str(path), "--out", str(out)]) == 1
    with out.open(encoding="utf-8") as handle:
        assert next(csv.DictReader(handle))["misses"] == "Дед Мороз;пельмени"


def test_clean_file_exits_zero(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "ok.csv",
        [{"source": "Космонавт и пирожки", "translation": "A cosmonaut and pirozhki"}],
    )
    assert main(["glossary", "check", str(path)]) == 0


def test_bad_input_exits_two_naming_file_and_column(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    missing = tmp_path / "nope.csv"
    assert main(["glossary", "check", str(missing)]) == 2
    assert str(missing) in capsys.readouterr().err

    no_column = _write(tmp_path / "bad.csv", [{"source": "Космонавт", "english": "Cosmonaut"}])
    assert main(["glossary", "check", str(no_column)]) == 2
    err = capsys.readouterr().err
    assert str(no_column) in err and "'translation'" in err


def test_other_pack(tmp_path: Path) -> None:
    from craft_dag.catalog.pack import bundled_pack_path

    path = _write(tmp_path / "c.csv", [{"source": "Космонавт", "translation": "Astronaut"}])
    assert main(["glossary", "check", str(path), "--pack", str(bundled_pack_path("ru"))]) == 1
    assert main(["glossary", "check", str(path), "--pack", str(tmp_path / "no_pack")]) == 2
