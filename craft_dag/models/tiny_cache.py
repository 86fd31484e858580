"""The cache of built tiny models: one folder per recipe, built once, renamed into place whole.

Under ``CRAFT_TINY_MODELS`` or the system temp dir, reused within a process and across processes.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

TINY_MODELS_ENV = "CRAFT_TINY_MODELS"
"""Environment variable naming the folder tiny models are cached in."""

_RECIPE_VERSION = 1  # bump when a builder's output changes, so old cache folders are not reused
_LOCK = threading.Lock()


def _cache_root() -> Path:
    configured = os.environ.get(TINY_MODELS_ENV)
    root = Path(configured) if configured else Path(tempfile.gettempdir()) / "craft_tiny_models"
    root.mkdir(parents=True, exist_ok=True)
    return root


def _built(name: str, recipe: dict[str, object], build: Callable[[Path], None]) -> Path:
    """The folder of the model ``recipe`` describes, building it first if it is not cached.

    A build goes to a temporary folder that is renamed into place when complete, so a killed
    build or two processes building at once never leave a half-written folder under the name.
    """
    import transformers

    recipe = {**recipe, "recipe_version": _RECIPE_VERSION, "transformers": transformers.__version__}
    key = hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:16]
    target = _cache_root() / f"{name}-{key}"
    with _LOCK:
        if (target / "config.json").is_file():
            return target
        partial = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=target.parent))
        try:
            build(partial)
            try:
                partial.rename(target)
            except OSError:
                # Another process finished the same build first: keep its folder.
                if not (target / "config.json").is_file():
                    raise
        finally:
            shutil.rmtree(partial, ignore_errors=True)
    return target


def _seeded(seed: int) -> None:
    import torch

    torch.manual_seed(seed)
