"""The training set as batches: read the Parquet table, order it per epoch, batch it per shape.

Input: the ``training_dataset`` table (a path or fsspec URI, read with pyarrow) with at least
``REQUIRED_COLUMNS``, and the storage base URI its images live under
(``Storage(base_uri).get_blob(image_id)``).

Order. Each epoch is a seeded permutation of the samples, each repeated by its
``repeat_weight`` (the expected repeats per epoch: 2.5 is 2 or 3 copies, 3 with probability
0.5), drawn from ``numpy.random.default_rng([seed, epoch])``: the same seed gives the same
epochs in every process and after a restart.

Shapes. A stage either trains at one square ``resolution`` (the paper's stage 1: every image
scaled to cover 768x768 and centre-cropped) or in aspect-ratio buckets
(``craft_dag.training.buckets``; stage 2). A batch holds one shape only: the permutation is
walked in order and each sample joins its bucket's open batch, which is emitted when full;
batches still open at the end of the epoch are dropped (the next epoch's permutation differs,
so no sample is systematically left out). Images too small for every bucket are skipped and
counted (``Batches.skipped``).

Position. An epoch's batches are a pure function of (seed, epoch), so the data position is
just (epoch, batch index): a resumed run rebuilds the epoch and continues at the index.
"""

from __future__ import annotations

import io
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import torch
from PIL import Image

from craft_dag.storage import Storage
from craft_dag.training.buckets import BucketSpec, assign_bucket, bucket_grid

REQUIRED_COLUMNS = (
    "sample_id",
    "image_id",
    "entity_id",
    "category",
    "blob_key",
    "caption_en",
    "caption_native",
    "width",
    "height",
    "repeat_weight",
)
LATENT_FACTOR = 8
"""MoVQ's downsampling per side; the UNet's three downsamplings need a further factor of 8."""


def read_table(uri: str) -> pa.Table:
    """The training table at ``uri`` (a file, a folder of Parquet parts, or an fsspec URI)."""
    import fsspec

    fs, path = fsspec.core.url_to_fs(uri)
    table = pq.read_table(path, filesystem=fs)
    missing = [c for c in REQUIRED_COLUMNS if c not in table.column_names]
    if missing:
        raise ValueError(f"{uri}: the training table lacks columns {missing}")
    return table.select(list(REQUIRED_COLUMNS))


def epoch_order(weights: np.ndarray, seed: int, epoch: int) -> np.ndarray:
    """Sample indices for one epoch: each ``i`` repeated ~``weights[i]`` times, shuffled.

    Stochastic rounding: ``floor(w)`` copies plus one more with probability ``w - floor(w)``,
    so the expected count is exactly ``w`` and a weight of 2.5 gives 2 or 3 copies.
    """
    rng = np.random.default_rng([seed, epoch])
    base = np.floor(weights)
    counts = (base + (rng.random(len(weights)) < weights - base)).astype(np.int64)
    return rng.permutation(np.repeat(np.arange(len(weights)), counts))


@dataclass(frozen=True)
class Sample:
    """What a batch needs of one table row."""

    image_id: str
    caption: str
    size: tuple[int, int]  # (width, height) it trains at


@dataclass
class Batches:
    """The batches of one stage: shapes assigned, too-small images counted, epochs on demand."""

    samples: list[Sample | None]
    """Per table row; ``None`` where the image is too small for every bucket."""
    weights: np.ndarray
    batch_size: int
    seed: int
    skipped: int = 0
    sizes: dict[tuple[int, int], int] = field(default_factory=dict)
    """Rows per trained (width, height)."""

    def epoch(self, epoch: int) -> list[list[int]]:
        """Batches (lists of row indices, one shape each) of ``epoch``, in training order."""
        open_batches: dict[tuple[int, int], list[int]] = {}
        batches: list[list[int]] = []
        for index in epoch_order(self.weights, self.seed, epoch).tolist():
            sample = self.samples[index]
            if sample is None:
                continue
            pending = open_batches.setdefault(sample.size, [])
            pending.append(index)
            if len(pending) == self.batch_size:
                batches.append(pending)
                open_batches[sample.size] = []
        return batches


def plan_batches(
    table: pa.Table,
    *,
    batch_size: int,
    seed: int,
    resolution: int = 0,
    spec: BucketSpec | None = None,
) -> Batches:
    """Assign each row its training shape (``resolution`` square or a bucket of ``spec``)."""
    if bool(resolution) == (spec is not None):
        raise ValueError("give exactly one of resolution and spec")
    columns = table.to_pydict()
    grid = bucket_grid(spec) if spec is not None else []
    samples: list[Sample | None] = []
    sizes: dict[tuple[int, int], int] = {}
    for image_id, caption, width, height in zip(
        columns["image_id"], columns["caption_en"], columns["width"], columns["height"], strict=True
    ):
        if spec is None:
            size: tuple[int, int] | None = (resolution, resolution)
        else:
            size = assign_bucket(int(width), int(height), spec, grid=grid)
        if size is None:
            samples.append(None)
            continue
        _check_size(size)
        sizes[size] = sizes.get(size, 0) + 1
        samples.append(Sample(image_id=image_id, caption=caption, size=size))
    weights = np.asarray(columns["repeat_weight"], dtype=np.float64)
    if (weights < 0).any() or not np.isfinite(weights).all():
        raise ValueError("repeat_weight must be finite and >= 0")
    return Batches(
        samples=samples,
        weights=weights,
        batch_size=batch_size,
        seed=seed,
        skipped=sum(s is None for s in samples),
        sizes=sizes,
    )


def _check_size(size: tuple[int, int]) -> None:
    # Latents are size / 8 and the UNet halves them three times: a side that does not divide
    # by 64 is floored somewhere on the way and the decoded image silently comes out smaller.
    if any(side % (LATENT_FACTOR * 8) for side in size):
        raise ValueError(f"training size {size} has a side that is not a multiple of 64")


def load_pixels(data: bytes, size: tuple[int, int]) -> torch.Tensor:
    """Image bytes as a 3 x H x W tensor in [-1, 1]: scaled to cover ``size``, centre-cropped."""
    with Image.open(io.BytesIO(data)) as opened:
        image = opened.convert("RGB")
    width, height = size
    scale = max(width / image.width, height / image.height)
    resized = (
        max(width, math.ceil(image.width * scale)),
        max(height, math.ceil(image.height * scale)),
    )
    image = image.resize(resized, Image.Resampling.BICUBIC)
    left, top = (resized[0] - width) // 2, (resized[1] - height) // 2
    image = image.crop((left, top, left + width, top + height))
    array = np.asarray(image, dtype=np.float32) / 127.5 - 1.0
    pixels = torch.from_numpy(array).permute(2, 0, 1).contiguous()
    assert pixels.shape == (3, height, width), pixels.shape
    return pixels


class EpochDataset(torch.utils.data.Dataset):
    """One epoch's batches from ``start`` on, as a map-style dataset of whole batches.

    Item ``i`` is a dict: ``image_ids``, ``captions``, ``size`` (w, h) and either ``latents``
    (every one cached) or ``pixels`` (B x 3 x H x W). Whole batches, so DataLoader workers
    decode in parallel while the shape grouping stays in the planner.
    """

    def __init__(
        self,
        batches: Batches,
        indices: list[list[int]],
        storage_uri: str,
        latent_cache: Any | None = None,
    ) -> None:
        self.batches = batches
        self.indices = indices
        self.storage_uri = storage_uri
        self.latent_cache = latent_cache
        self._storage: Storage | None = None

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, item: int) -> dict[str, Any]:
        if self._storage is None:
            # Opened lazily: each DataLoader worker gets its own fsspec file system.
            self._storage = Storage(self.storage_uri)
        samples = [self.batches.samples[i] for i in self.indices[item]]
        assert all(s is not None for s in samples)
        size = samples[0].size
        if any(s.size != size for s in samples):
            raise AssertionError(f"a batch of mixed shapes: {[s.size for s in samples]}")
        out: dict[str, Any] = {
            "image_ids": [s.image_id for s in samples],
            "captions": [s.caption for s in samples],
            "size": size,
        }
        if self.latent_cache is not None:
            latents = self.latent_cache.lookup(out["image_ids"], size)
            if latents is not None:
                out["latents"] = latents
                return out
        out["pixels"] = torch.stack(
            [load_pixels(self._storage.get_blob(s.image_id), size) for s in samples]
        )
        return out


def iterate(
    batches: Batches,
    storage_uri: str,
    *,
    epoch: int,
    start: int = 0,
    rank: int = 0,
    world_size: int = 1,
    num_workers: int = 0,
    latent_cache: Any | None = None,
) -> Iterator[tuple[int, dict[str, Any]]]:
    """``(next position, batch)`` for this rank over ``epoch``, from position ``start`` on.

    Positions count the epoch's batches for all ranks together: rank ``r`` of ``W`` takes
    batches ``start + r``, ``start + r + W``... and every rank gets the same number (the
    remainder is dropped), so all ranks agree on the position and step in lockstep.
    """
    indices = batches.epoch(epoch)
    usable = max(0, (len(indices) - start) // world_size) * world_size
    mine = indices[start + rank : start + usable : world_size]
    dataset = EpochDataset(batches, mine, storage_uri, latent_cache)
    loader = torch.utils.data.DataLoader(
        dataset, batch_size=None, shuffle=False, num_workers=num_workers
    )
    for offset, batch in enumerate(loader):
        yield start + (offset + 1) * world_size, batch
