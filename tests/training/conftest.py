"""Shared fixtures of the trainer's tests: a tiny training set in a storage folder.

Real images drawn with PIL (a coloured shape on a coloured ground, one per caption), stored as
PNG blobs in a ``Storage`` folder, and the training table as Parquet with the columns
``craft_dag.training.data`` reads. Shapes cover both stages of ``configs/tiny.yaml``: square
64x64 images, 128x64 and 64x128 ones for the stage-2 buckets, and one 32x32 image too small
for any bucket.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image, ImageDraw

from craft_dag.storage import Storage
from craft_dag.training.data import REQUIRED_COLUMNS

# (caption, ground, shape colour, shape, width, height, repeat weight)
IMAGES = [
    ("a red circle on a white ground", "white", "red", "circle", 64, 64, 1.0),
    ("a blue square on a yellow ground", "yellow", "blue", "square", 64, 64, 1.0),
    ("a green triangle on a black ground", "black", "green", "triangle", 64, 64, 1.0),
    ("a purple bar on a grey ground", "grey", "purple", "bar", 64, 64, 1.0),
    ("a wide orange field with a circle", "orange", "navy", "circle", 128, 64, 1.0),
    ("a wide pink field with a square", "pink", "black", "square", 128, 64, 1.0),
    ("a tall cyan tower", "cyan", "brown", "bar", 64, 128, 1.0),
    ("a tall olive tower", "olive", "white", "triangle", 64, 128, 1.0),
    ("a tiny thumbnail", "white", "black", "circle", 32, 32, 1.0),
]
PROMPTS = ["a red circle on a white ground", "a tall cyan tower"]


def draw(ground: str, colour: str, shape: str, width: int, height: int) -> bytes:
    """A PNG of one shape on a plain ground."""
    image = Image.new("RGB", (width, height), ground)
    pen = ImageDraw.Draw(image)
    box = (width // 4, height // 4, 3 * width // 4, 3 * height // 4)
    if shape == "circle":
        pen.ellipse(box, fill=colour)
    elif shape == "square":
        pen.rectangle(box, fill=colour)
    elif shape == "triangle":
        pen.polygon([(box[0], box[3]), (box[2], box[3]), (width // 2, box[1])], fill=colour)
    else:
        pen.rectangle((width // 3, 0, 2 * width // 3, height), fill=colour)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


@dataclass(frozen=True)
class TinyDataset:
    """Where the fixture's training set is."""

    table: Path
    storage: str
    prompts: Path
    rows: int


def write_dataset(folder: Path, images: list[tuple] = IMAGES) -> TinyDataset:
    """Store ``images`` under ``folder/storage``, their table in ``folder/train.parquet``."""
    store = Storage(str(folder / "storage"))
    rows: dict[str, list] = {k: [] for k in REQUIRED_COLUMNS}
    for index, (caption, ground, colour, shape, width, height, weight) in enumerate(images):
        digest = store.put_blob(draw(ground, colour, shape, width, height))
        rows["sample_id"].append(f"s{index:02d}")
        rows["image_id"].append(digest)
        rows["entity_id"].append(f"entity_{index}")
        rows["category"].append("shapes")
        rows["blob_key"].append(store.blob_key(digest))
        rows["caption_en"].append(caption)
        rows["caption_native"].append(caption)
        rows["width"].append(width)
        rows["height"].append(height)
        rows["repeat_weight"].append(weight)
    table_path = folder / "train.parquet"
    pq.write_table(pa.table(rows), table_path)
    prompts = folder / "prompts.json"
    prompts.write_text(json.dumps(PROMPTS))
    return TinyDataset(table_path, str(folder / "storage"), prompts, len(images))


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory: pytest.TempPathFactory) -> TinyDataset:
    """The nine-image training set above (read-only: tests write their runs elsewhere)."""
    return write_dataset(tmp_path_factory.mktemp("tiny_dataset"))


@pytest.fixture(scope="session")
def overfit_dataset(tmp_path_factory: pytest.TempPathFactory) -> TinyDataset:
    """The four square images alone: a set small enough to overfit in a few dozen steps."""
    return write_dataset(tmp_path_factory.mktemp("overfit_dataset"), IMAGES[:4])
