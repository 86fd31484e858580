"""The sample image set: layout, planted problems, determinism, idempotence, licences."""

import csv
import shutil
from collections import Counter
from importlib import resources
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFile

from craft_dag.collection import sample_encoders, samples
from craft_dag.collection.samples import (
    PLANTED,
    SAMPLE_SET_VERSION,
    SampleImage,
    build_sample_set,
    read_manifest,
)

SMALL = {
    "food": ["borscht", "pelmeni", "blini"],
    "architecture": ["izba", "kremlin"],
    "clothing": ["kokoshnik", "valenki", "ushanka"],
}
FULL = {f"cat{c:02d}": [f"c{c:02d}_entity{e}" for e in range(3)] for c in range(17)}
BROKEN = {"truncated", "empty", "not_an_image"}
IMAGE_MAGIC = (b"\xff\xd8\xff", b"\x89PNG", b"GIF8", b"RIFF", b"BM", b"II*\x00", b"MM\x00*")


@pytest.fixture(scope="module")
def full_set(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[SampleImage]]:
    """17 categories x 2 entities, built once for the tests that only read it."""
    dest = tmp_path_factory.mktemp("full")
    return dest, build_sample_set(dest, FULL, per_category=2, seed=0)


@pytest.fixture(scope="module")
def small_set(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[SampleImage]]:
    """3 categories x 2 entities at seed 0, built once; copy it before changing anything."""
    dest = tmp_path_factory.mktemp("small")
    return dest, build_sample_set(dest, SMALL, per_category=2, seed=0)


def _copy(source: Path, dest: Path) -> Path:
    return Path(shutil.copytree(source, dest))  # copy2: modification times are kept


def _files(dest: Path) -> set[str]:
    return {p.relative_to(dest).as_posix() for p in dest.rglob("*") if p.is_file()}


def _thumb(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        small = image.convert("L").resize((64, 64), Image.Resampling.BILINEAR)
    return np.asarray(small, dtype=np.float32)


def _rows(rows: list[SampleImage], planted: str) -> list[SampleImage]:
    return [r for r in rows if r.planted == planted]


def test_layout_manifest_and_version(small_set: tuple[Path, list[SampleImage]]) -> None:
    tmp_path, rows = small_set

    assert (tmp_path / "VERSION").read_text().strip() == str(SAMPLE_SET_VERSION)
    with (tmp_path / "manifest.csv").open(newline="", encoding="utf-8") as handle:
        header = next(csv.reader(handle))
    assert header == [
        "path",
        "category",
        "entity_id",
        "planted",
        "source_file",
        "licence",
        "author",
    ]
    assert read_manifest(tmp_path) == rows
    assert rows == sorted(rows, key=lambda r: r.path)
    # Exactly the files of the manifest, nothing half-written left behind.
    assert _files(tmp_path) == {r.path for r in rows} | {"manifest.csv", "VERSION"}
    for row in rows:
        category, entity_id, name = row.path.split("/")
        assert (category, entity_id) == (row.category, row.entity_id)
        assert name.rsplit(".", 1)[1] in {"jpg", "png", "gif", "webp"}
        assert row.planted in PLANTED
    # The first two entities of each category, 2-4 images each (6 entities carry 17 planted).
    per_entity = Counter((r.category, r.entity_id) for r in rows)
    assert set(per_entity) == {(c, e) for c, ids in SMALL.items() for e in ids[:2]}
    assert all(2 <= n <= 4 for n in per_entity.values()), per_entity
    for key in per_entity:
        assert any(r.planted == "none" for r in rows if (r.category, r.entity_id) == key)
    assert {r.planted for r in rows} == set(PLANTED)


def test_full_build_plants_every_kind_over_different_categories(
    full_set: tuple[Path, list[SampleImage]],
) -> None:
    dest, rows = full_set
    counts = Counter(r.planted for r in rows)
    assert set(counts) == set(PLANTED)
    assert counts["duplicate"] >= 2
    planted = [r for r in rows if r.planted != "none"]
    # 17 categories: every one carries one planted image, no category carries two.
    assert Counter(r.category for r in planted) == Counter({c: 1 for c in FULL})
    per_entity = Counter((r.category, r.entity_id) for r in rows)
    assert len(per_entity) == 34
    assert all(2 <= n <= 4 for n in per_entity.values())
    size = sum((dest / r.path).stat().st_size for r in rows)
    assert size < 15_000_000


def test_clean_images_decode_and_are_large(full_set: tuple[Path, list[SampleImage]]) -> None:
    dest, rows = full_set
    clean = _rows(rows, "none")
    assert len(clean) >= 34
    for row in clean:
        with Image.open(dest / row.path) as image:
            image.load()
            assert image.format in {"JPEG", "PNG"}
            assert image.mode in {"RGB", "L"}
            assert min(image.size) >= 512, (row.path, image.size)
            assert max(image.size) <= 1600


def test_quality_problems_have_the_claimed_shape(
    full_set: tuple[Path, list[SampleImage]],
) -> None:
    dest, rows = full_set

    def one(kind: str) -> Image.Image:
        (row,) = _rows(rows, kind)
        image = Image.open(dest / row.path)
        image.load()
        return image

    assert one("too_small").size == (64, 48)
    assert one("bad_aspect").size == (1600, 160)
    low = np.asarray(one("low_information").convert("RGB"), dtype=np.float32)
    assert low.std(axis=(0, 1)).max() < 3
    dark = np.asarray(one("underexposed").convert("L"), dtype=np.float32)
    assert dark.mean() < 25
    bright = np.asarray(one("overexposed").convert("RGB")).max(axis=2)
    assert (bright >= 250).mean() > 0.3  # a large part burnt out
    blurred = np.asarray(one("blurred").convert("L"), dtype=np.float32)
    assert np.abs(np.diff(blurred, axis=1)).mean() < 2
    for kind in ("blurred", "underexposed", "overexposed", "watermark"):
        assert min(one(kind).size) >= 512


def test_broken_files_are_broken(full_set: tuple[Path, list[SampleImage]]) -> None:
    dest, rows = full_set
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False

    (truncated,) = _rows(rows, "truncated")
    data = (dest / truncated.path).read_bytes()
    assert data.startswith(b"\xff\xd8\xff") and not data.endswith(b"\xff\xd9")
    with pytest.raises(OSError), Image.open(dest / truncated.path) as image:
        image.load()

    (empty,) = _rows(rows, "empty")
    assert empty.path.endswith(".jpg")
    assert (dest / empty.path).stat().st_size == 0

    (html,) = _rows(rows, "not_an_image")
    assert html.path.endswith(".jpg")
    data = (dest / html.path).read_bytes()
    assert data and not data.startswith(IMAGE_MAGIC)
    assert b"<html" in data.lower()
    with pytest.raises(Image.UnidentifiedImageError):
        Image.open(dest / html.path)


def test_odd_but_valid_files(full_set: tuple[Path, list[SampleImage]]) -> None:
    dest, rows = full_set

    def path(kind: str) -> Path:
        (row,) = _rows(rows, kind)
        return dest / row.path

    with Image.open(path("cmyk")) as image:
        image.load()
        assert (image.format, image.mode) == ("JPEG", "CMYK")
    with Image.open(path("16bit")) as image:
        image.load()
        assert (image.format, image.mode) == ("PNG", "I;16")
        assert np.asarray(image).max() > 255  # really uses the 16 bits
    with Image.open(path("palette_alpha")) as image:
        image.load()
        assert (image.format, image.mode) == ("PNG", "P")
        assert "transparency" in image.info
        alpha = np.asarray(image.convert("RGBA"))[..., 3]
        assert alpha.min() == 0 and alpha.max() == 255
    with Image.open(path("animated")) as image:
        assert image.format == "GIF"
        assert image.n_frames == 3 and image.is_animated
    with Image.open(path("webp")) as image:
        image.load()
        assert image.format == "WEBP"
    for kind in ("cmyk", "16bit", "palette_alpha", "animated", "webp"):
        with Image.open(path(kind)) as image:
            assert min(image.size) >= 512


def test_duplicates_match_a_clean_image(full_set: tuple[Path, list[SampleImage]]) -> None:
    dest, rows = full_set
    clean = _rows(rows, "none")
    thumbs = {r.path: _thumb(dest / r.path) for r in clean}
    same_entity = other_entity = 0
    for duplicate in _rows(rows, "duplicate"):
        thumb = _thumb(dest / duplicate.path)
        best = min(clean, key=lambda r: np.abs(thumbs[r.path] - thumb).mean())
        assert np.abs(thumbs[best.path] - thumb).mean() < 3
        with Image.open(dest / duplicate.path) as dup, Image.open(dest / best.path) as original:
            for d, o in zip(dup.size, original.size, strict=True):
                assert abs(d - o) <= 0.05 * o
            assert dup.size != original.size  # resized, not copied
        assert (dest / duplicate.path).read_bytes() != (dest / best.path).read_bytes()
        assert duplicate.source_file == best.source_file
        if (best.category, best.entity_id) == (duplicate.category, duplicate.entity_id):
            same_entity += 1
        else:
            other_entity += 1
    assert same_entity >= 1 and other_entity >= 1


def test_clean_images_are_not_accidental_duplicates(
    full_set: tuple[Path, list[SampleImage]],
) -> None:
    dest, rows = full_set
    clean = _rows(rows, "none")
    thumbs = np.stack([_thumb(dest / r.path) for r in clean])
    for i in range(len(clean)):
        distances = np.abs(thumbs[i + 1 :] - thumbs[i]).mean(axis=(1, 2))
        assert distances.size == 0 or distances.min() > 8, clean[i].path


def test_licence_author_and_source_for_every_row(
    full_set: tuple[Path, list[SampleImage]],
) -> None:
    _, rows = full_set
    bundled = resources.files("skimage").joinpath("data")
    for row in rows:
        assert row.licence.strip() and row.author.strip(), row
        if row.source_file == samples.GENERATED:
            continue
        folder, name = row.source_file.rsplit("/", 1)
        assert folder == "skimage/data"
        assert bundled.joinpath(name).is_file()
    assert len({r.source_file for r in rows}) >= 8


def test_same_seed_same_set(tmp_path: Path, small_set: tuple[Path, list[SampleImage]]) -> None:
    first_dest, first = small_set
    second = build_sample_set(tmp_path, SMALL, per_category=2, seed=0)
    assert second == first
    assert (tmp_path / "manifest.csv").read_bytes() == (first_dest / "manifest.csv").read_bytes()
    assert _files(tmp_path) == _files(first_dest)
    for name in _files(first_dest):
        assert (tmp_path / name).read_bytes() == (first_dest / name).read_bytes(), name


def test_another_seed_another_set(
    tmp_path: Path, small_set: tuple[Path, list[SampleImage]]
) -> None:
    other = build_sample_set(tmp_path, SMALL, per_category=2, seed=1)
    assert {r.planted for r in other} == set(PLANTED)

    def summary(rows: list[SampleImage]) -> list[tuple[str, str, str]]:
        return [(r.path, r.planted, r.source_file) for r in rows]

    assert summary(other) != summary(small_set[1])


def test_second_call_rewrites_nothing(
    tmp_path: Path, small_set: tuple[Path, list[SampleImage]]
) -> None:
    dest = _copy(small_set[0], tmp_path / "set")
    before = {p: (dest / p).stat().st_mtime_ns for p in _files(dest)}
    again = build_sample_set(dest, SMALL, per_category=2, seed=0)
    assert again == small_set[1]
    assert {p: (dest / p).stat().st_mtime_ns for p in _files(dest)} == before


def test_rebuilds_after_version_change_and_removes_stale_files(
    tmp_path: Path, small_set: tuple[Path, list[SampleImage]]
) -> None:
    dest = _copy(small_set[0], tmp_path / "set")
    (dest / "VERSION").write_text("0\n")
    assert build_sample_set(dest, SMALL, per_category=2, seed=0) == small_set[1]
    assert (dest / "VERSION").read_text().strip() == str(SAMPLE_SET_VERSION)
    assert (dest / "manifest.csv").read_bytes() == (small_set[0] / "manifest.csv").read_bytes()

    # Other entities with the same VERSION: built again, the old images removed.
    fewer = {"food": SMALL["food"]}
    smaller = build_sample_set(dest, fewer, per_category=2, seed=0)
    assert {r.category for r in smaller} == {"food"}
    assert _files(dest) == {r.path for r in smaller} | {"manifest.csv", "VERSION"}


def test_interrupted_build_is_not_taken_for_a_finished_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, small_set: tuple[Path, list[SampleImage]]
) -> None:
    real_jpeg = sample_encoders.jpeg
    calls = 0

    def failing_jpeg(image: Image.Image, quality: int) -> bytes:
        nonlocal calls
        calls += 1
        if calls == 5:
            raise KeyboardInterrupt
        return real_jpeg(image, quality)

    monkeypatch.setattr(sample_encoders, "jpeg", failing_jpeg)
    with pytest.raises(KeyboardInterrupt):
        build_sample_set(tmp_path, SMALL, per_category=2, seed=0)
    assert not (tmp_path / "VERSION").exists()
    assert not (tmp_path / "manifest.csv").exists()
    assert 0 < len(_files(tmp_path)) < len(small_set[1])

    monkeypatch.setattr(sample_encoders, "jpeg", real_jpeg)
    assert build_sample_set(tmp_path, SMALL, per_category=2, seed=0) == small_set[1]
    assert _files(tmp_path) == _files(small_set[0])


def test_tiny_selection_still_plants_every_kind(tmp_path: Path) -> None:
    rows = build_sample_set(tmp_path, {"food": ["borscht", "pelmeni"]}, per_category=2)
    assert {r.planted for r in rows} == set(PLANTED)
    assert {r.entity_id for r in rows} == {"borscht", "pelmeni"}


@pytest.mark.parametrize(
    ("entities", "per_category"),
    [
        ({"food": ["borscht"]}, 0),
        ({"food": ["../escape"]}, 2),
        ({"a/b": ["borscht"]}, 2),
        ({"food": []}, 2),
    ],
)
def test_rejects_bad_arguments(
    tmp_path: Path, entities: dict[str, list[str]], per_category: int
) -> None:
    with pytest.raises(ValueError):
        build_sample_set(tmp_path, entities, per_category=per_category)
    assert not any(tmp_path.iterdir())
