"""Checkpoints in storage, as the ``checkpoint`` asset copies them: find, read, fetch locally.

``checkpoints/<run id>/`` holds ``unet/`` (diffusers layout), ``base_model.json``
(``{"base_model": id, "lora": bool}``) and, written last as the mark of a complete copy,
``model_card.md``.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from fsspec.implementations.local import LocalFileSystem

from craft_dag.storage import Storage

CHECKPOINTS = "checkpoints"  # as craft_dag.training.pipes.CHECKPOINTS
MODEL_CARD = "model_card.md"  # as craft_dag.training.pipes.MODEL_CARD
BASE_MODEL_FILE = "base_model.json"


@dataclass(frozen=True)
class Checkpoint:
    """A complete checkpoint in storage (its model card is there)."""

    run_id: str
    uri: str
    base_model: str
    lora: bool
    modified: float = 0.0


def read_checkpoint(store: Storage, run_id: str) -> Checkpoint:
    """The checkpoint ``checkpoints/<run_id>/``; FileNotFoundError when absent or incomplete."""
    if not store.fs.exists(store.file_path(CHECKPOINTS, run_id, MODEL_CARD)):
        raise FileNotFoundError(
            f"no complete checkpoint at {store.file_uri(CHECKPOINTS, run_id)} "
            f"(no {MODEL_CARD}: missing, or its copy did not finish)"
        )
    info = json.loads(store.read_file((CHECKPOINTS, run_id, BASE_MODEL_FILE)))
    return Checkpoint(
        run_id=run_id,
        uri=store.file_uri(CHECKPOINTS, run_id),
        base_model=str(info.get("base_model") or ""),
        lora=bool(info.get("lora")),
        modified=_mtime(store, store.file_path(CHECKPOINTS, run_id, MODEL_CARD)),
    )


def _mtime(store: Storage, path: str) -> float:
    info = store.fs.info(path)
    value = info.get("mtime") or info.get("LastModified") or info.get("created") or 0.0
    return value.timestamp() if hasattr(value, "timestamp") else float(value)


def list_checkpoints(store: Storage) -> list[Checkpoint]:
    """The complete checkpoints in storage, newest (by model card time) first."""
    folder = store.file_path(CHECKPOINTS)
    if not store.fs.isdir(folder):
        return []
    found = []
    for path in store.fs.ls(folder, detail=False):
        run_id = path.rstrip("/").rsplit("/", 1)[-1]
        if run_id.startswith("."):
            continue
        try:
            found.append(read_checkpoint(store, run_id))
        except (FileNotFoundError, OSError, ValueError):
            continue
    return sorted(found, key=lambda c: (c.modified, c.run_id), reverse=True)


@contextmanager
def local_checkpoint(store: Storage, run_id: str) -> Iterator[Path]:
    """A local folder holding checkpoint ``run_id``: the folder itself on local storage, else a
    temporary download of its ``unet/`` and ``base_model.json`` (removed on exit)."""
    root = store.file_path(CHECKPOINTS, run_id)
    if isinstance(store.fs, LocalFileSystem):
        yield Path(root)
        return
    tmp = Path(tempfile.mkdtemp(prefix="craft-checkpoint-"))
    try:
        store.fs.get(f"{root}/unet", str(tmp / "unet"), recursive=True)
        store.fs.get(f"{root}/{BASE_MODEL_FILE}", str(tmp / BASE_MODEL_FILE))
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
