"""``craft captions lint`` end to end on temporary CSV files (craft_dag.captioning.lint_cli)."""

import argparse
import csv
from pathlib import Path

import pytest

from craft_dag.captioning.lint_cli import main, register
from craft_dag.catalog.pack import bundled_pack_path

CLEAN_RU = "Юрий Гагарин в оранжевом скафандре. Он улыбается и машет рукой."
CLEAN_EN = "Yuri Gagarin in an orange spacesuit. He smiles and waves."


def write_csv(path: Path, rows: list[dict[str, str]], *, bom: bool = False) -> Path:
    with path.open("w", encoding="utf-8-sig" if bom else "utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def test_clean_file_exits_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = write_csv(
        tmp_path / "c.csv",
        [
            {"entity": "Юрий Гагарин", "caption": CLEAN_RU},
            {"entity": "Yuri Gagarin", "caption": CLEAN_EN},
        ],
        bom=True,
    )
    out = tmp_path / "out.csv"
    assert main(["captions", "lint", str(src), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "row 1 Юрий Гагарин: ok" in printed and "2 caption(s), 0 break a rule" in printed
    assert [r["violations"] for r in read_csv(out)] == ["", ""]


def test_violations_exit_1_and_out_csv(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = write_csv(
        tmp_path / "c.csv",
        [
            {"entity": "Юрий Гагарин", "caption": CLEAN_RU, "language": "ru", "note": "a"},
            {
                "entity": "Юрий Гагарин",
                "caption": "На фото, вероятно, космонавт.",
                "language": "",
                "note": "b",
            },
            {
                "entity": "Yuri Gagarin",
                "caption": "This image shows Yuri Gagarin. It can be used for posters.",
                "language": "en",
                "note": "c",
            },
        ],
    )
    out = tmp_path / "out.csv"
    assert main(["captions", "lint", str(src), "--out", str(out), "-v"]) == 1
    printed = capsys.readouterr().out
    assert "row 2 Юрий Гагарин: too_few_sentences missing_entity viewing_phrase hedging" in printed
    assert '    hedging: "вероятно"' in printed
    rows = read_csv(out)
    assert list(rows[0]) == ["entity", "caption", "language", "note", "violations"]
    assert [r["violations"] for r in rows] == [
        "",
        "too_few_sentences;missing_entity;viewing_phrase;hedging",
        "viewing_phrase;usage_guess",
    ]
    assert [r["note"] for r in rows] == ["a", "b", "c"]


def test_pack_entity_ids_become_names(tmp_path: Path) -> None:
    caption = "Портрет Юрия Алексеевича Гагарина в шлеме. Космонавт улыбается."
    src = write_csv(
        tmp_path / "c.csv",
        [
            {"entity": "yuri_gagarin", "caption": caption},
            {"entity": "yuri_gagarin", "caption": "Yuri Gagarin in a spacesuit. He smiles."},
            # Not an id of the pack: the value is the name itself.
            {"entity": "Гагарин", "caption": caption},
        ],
    )
    out = tmp_path / "out.csv"
    pack = str(bundled_pack_path("ru"))
    assert main(["captions", "lint", str(src), "--pack", pack, "--out", str(out)]) == 0
    # Without the pack the id is the name: its words ("yuri", "gagarin") occur only in English.
    assert main(["captions", "lint", str(src), "--out", str(out)]) == 1
    assert [r["violations"] for r in read_csv(out)] == ["missing_entity", "", ""]


def test_pack_caption_rules_yaml(tmp_path: Path) -> None:
    import shutil

    pack = tmp_path / "pack"
    shutil.copytree(bundled_pack_path("ru"), pack)
    src = write_csv(
        tmp_path / "c.csv",
        [{"entity": "yuri_gagarin", "caption": "Юрий Гагарин улыбается. Пожалуй, он счастлив."}],
    )
    assert main(["captions", "lint", str(src), "--pack", str(pack)]) == 0
    (pack / "caption_rules.yaml").write_text(
        "languages:\n  ru:\n    hedging: [пожалуй]\n", encoding="utf-8"
    )
    assert main(["captions", "lint", str(src), "--pack", str(pack)]) == 1
    (pack / "caption_rules.yaml").write_text("min_sentence: 1\n", encoding="utf-8")
    assert main(["captions", "lint", str(src), "--pack", str(pack)]) == 2


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("entity,text\nx,y\n", "missing column 'caption'"),
        ("caption\ny\n", "missing column 'entity'"),
        ("", "empty file"),
        (b"entity,caption\n\xff\xfe,x\n", "cannot read it as a UTF-8 CSV"),
    ],
)
def test_unusable_file_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str | bytes, message: str
) -> None:
    src = tmp_path / "bad.csv"
    if isinstance(content, bytes):
        src.write_bytes(content)
    else:
        src.write_text(content, encoding="utf-8")
    assert main(["captions", "lint", str(src)]) == 2
    err = capsys.readouterr().err
    assert str(src) in err and message in err


def test_missing_file_and_bad_pack_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["captions", "lint", str(tmp_path / "nope.csv")]) == 2
    assert "nope.csv: no such file" in capsys.readouterr().err
    src = write_csv(tmp_path / "c.csv", [{"entity": "x", "caption": CLEAN_EN}])
    assert main(["captions", "lint", str(src), "--pack", str(tmp_path / "no_pack")]) == 2
    assert "no_pack" in capsys.readouterr().err


def test_register_shares_the_captions_group() -> None:
    parser = argparse.ArgumentParser(prog="craft")
    commands = parser.add_subparsers(dest="command", required=True)
    captions = commands.add_parser("captions")
    captions.add_subparsers(dest="captions_command").add_parser("other")
    register(commands)
    args = parser.parse_args(["captions", "lint", "f.csv", "--out", "o.csv"])
    assert (args.file, args.out, args.pack) == ("f.csv", "o.csv", None)
    assert parser.parse_args(["captions", "other"]).captions_command == "other"
