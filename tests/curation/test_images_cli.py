"""``craft images score DIR``: one row per file, bad files included, CSV or Parquet."""

import csv
import io
import struct
import zlib
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from PIL import Image

from craft_dag.cli import main
from craft_dag.collection.samples import SampleImage
from craft_dag.curation.folder import FOLDER_COLUMNS
from craft_dag.curation.metrics import METRIC_NAMES


def _png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims a huge size: a decompression bomb."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b""))
        + chunk(b"IEND", b"")
    )


@pytest.fixture
def folder(tmp_path: Path, sample_set: tuple[Path, list[SampleImage]]) -> Path:
    root, rows = sample_set
    out = tmp_path / "images"
    for row in rows:
        target = out / row.path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes((root / row.path).read_bytes())
    odd = out / "odd"
    odd.mkdir()
    (odd / "bomb.png").write_bytes(_png_claiming(40_000, 40_000))
    (odd / "notes.txt").write_text("not an image")
    buffer = io.BytesIO()
    Image.new("RGBA", (600, 600), (200, 30, 30, 0)).save(buffer, "PNG")
    (odd / "transparent.png").write_bytes(buffer.getvalue())
    (out / ".hidden.jpg").write_bytes(b"skipped")
    return out


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_every_file_gets_a_row_with_its_decision(
    folder: Path, tmp_path: Path, sample_set: tuple[Path, list[SampleImage]], capsys
) -> None:
    out = tmp_path / "scores.csv"
    assert main(["images", "score", str(folder), "--out", str(out), "--ocr", "off"]) == 0
    rows = read_csv(out)
    _, samples = sample_set
    assert len(rows) == len(samples) + 3  # the hidden file is skipped
    assert tuple(rows[0]) == FOLDER_COLUMNS
    assert {
        "path",
        "status",
        "error",
        "width",
        "height",
        *METRIC_NAMES,
        "decision",
        "reasons",
        "dup_of",
    } <= set(rows[0])
    by_path = {r["path"]: r for r in rows}
    assert by_path["odd/bomb.png"]["status"] == "error"
    assert by_path["odd/bomb.png"]["error"].startswith("decompression_bomb:")
    assert by_path["odd/notes.txt"]["error"].startswith("not_an_image:")
    assert by_path["odd/transparent.png"]["status"] == "ok"
    planted = {s.path: s.planted for s in samples}
    blurred = [p for p, k in planted.items() if k == "blurred"]
    assert all("blurry" in by_path[p]["reasons"].split(";") for p in blurred)
    copies = [by_path[p] for p, k in planted.items() if k == "duplicate"]
    assert all(c["dup_of"] in by_path and "duplicate" in c["reasons"] for c in copies)
    assert by_path[blurred[0]]["width"].isdigit()
    printed = capsys.readouterr().out
    assert f"{len(rows)} files:" in printed and "blurry" in printed


def test_parquet_output_and_threshold_overrides(folder: Path, tmp_path: Path) -> None:
    out = tmp_path / "scores.parquet"
    args = ["images", "score", str(folder), "--out", str(out), "--ocr", "off"]
    assert main([*args, "--set", "min_blur=off"]) == 0
    table = pq.read_table(out)
    assert table.column_names == list(FOLDER_COLUMNS)
    assert not any("blurry" in (r or "") for r in table["reasons"].to_pylist())


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--set", "min_bluur=3"], "unknown curation threshold"),
        (["--category", "nope"], "has no category"),
    ],
)
def test_bad_arguments_are_clear_errors(
    folder: Path, extra: list[str], message: str, capsys
) -> None:
    assert main(["images", "score", str(folder), "--ocr", "off", *extra]) == 2
    assert message in capsys.readouterr().err


def test_a_missing_folder_is_an_error(tmp_path: Path, capsys) -> None:
    assert main(["images", "score", str(tmp_path / "nope"), "--ocr", "off"]) == 2
    assert "is not a folder" in capsys.readouterr().err


def test_ocr_finds_the_planted_watermark(
    folder: Path, tmp_path: Path, sample_set: tuple[Path, list[SampleImage]]
) -> None:
    out = tmp_path / "scores.csv"
    assert main(["images", "score", str(folder), "--out", str(out), "--ocr", "on"]) == 0
    by_path = {r["path"]: r for r in read_csv(out)}
    _, samples = sample_set
    [marked] = [s.path for s in samples if s.planted == "watermark"]
    assert by_path[marked]["reasons"].split(";") == ["watermark"]
    assert by_path[marked]["decision"] == "reject"
    assert int(by_path[marked]["text_words"]) >= 3
    clean = [s.path for s in samples if s.planted == "none"]
    assert all(by_path[p]["text_words"] == "0" for p in clean)
