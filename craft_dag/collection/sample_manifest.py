"""The sample set's manifest: what each image is (``SampleImage``), and writing files safely.

``manifest.csv`` has one row per image; ``VERSION`` is written last, so a folder whose
``VERSION`` holds ``SAMPLE_SET_VERSION`` is a finished build (see samples.py for the layout).
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Sequence
from dataclasses import astuple, dataclass, fields
from pathlib import Path, PurePosixPath

SAMPLE_SET_VERSION: int = 1
"""Bump when the files or the manifest the builder writes change."""

PLANTED: tuple[str, ...] = (
    "none",
    "blurred",
    "underexposed",
    "overexposed",
    "duplicate",
    "watermark",
    "too_small",
    "bad_aspect",
    "low_information",
    "truncated",
    "empty",
    "not_an_image",
    "cmyk",
    "16bit",
    "palette_alpha",
    "animated",
    "webp",
)
"""What is wrong with an image (``"none"``: a clean photo), as the manifest's ``planted`` says."""

MANIFEST = "manifest.csv"
VERSION_FILE = "VERSION"
MIN_SHORT_SIDE = 512
"""Clean images are at least this many pixels on their short side."""

GENERATED = "(generated)"
"""``source_file`` of images drawn by the builder itself rather than taken from a photo."""
GENERATED_LICENCE = "CC0-1.0"
GENERATED_AUTHOR = "craft_dag sample-set builder"


@dataclass(frozen=True)
class SampleImage:
    """One image of the sample set, as a row of ``manifest.csv``."""

    path: str  # relative to the set's root, posix separators
    category: str
    entity_id: str
    planted: str  # one of PLANTED
    source_file: str  # the photo it was made from, e.g. "skimage/data/chelsea.png"
    licence: str
    author: str


MANIFEST_COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(SampleImage))


def read_manifest(dest: Path) -> list[SampleImage]:
    """The rows of ``dest/manifest.csv``, in file order."""
    with (Path(dest) / MANIFEST).open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        if tuple(reader.fieldnames or ()) != MANIFEST_COLUMNS:
            raise ValueError(
                f"{dest / MANIFEST}: expected columns {MANIFEST_COLUMNS}, found {reader.fieldnames}"
            )
        return [SampleImage(**row) for row in reader]


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to a temporary name beside ``path``, then move it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    with partial.open("wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(partial, path)


def write_manifest(dest: Path, rows: Sequence[SampleImage]) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(MANIFEST_COLUMNS)
    writer.writerows(astuple(row) for row in rows)
    atomic_write(dest / MANIFEST, buffer.getvalue().encode("utf-8"))


def complete_manifest(dest: Path) -> list[SampleImage] | None:
    """The manifest of a finished build of this SAMPLE_SET_VERSION, or None."""
    try:
        version = (dest / VERSION_FILE).read_text(encoding="utf-8").strip()
    except (FileNotFoundError, NotADirectoryError):
        return None
    if version != str(SAMPLE_SET_VERSION) or not (dest / MANIFEST).is_file():
        return None
    try:
        return read_manifest(dest)
    except (ValueError, TypeError):
        return None


def read_rows_or_empty(dest: Path) -> list[SampleImage]:
    try:
        rows = read_manifest(dest)
    except (FileNotFoundError, ValueError, TypeError):
        return []
    # Only ever delete what a manifest of ours placed inside dest.
    return [
        r
        for r in rows
        if not PurePosixPath(r.path).is_absolute() and ".." not in PurePosixPath(r.path).parts
    ]
