"""The trainer's data side: epoch order by repeat weight, one shape per batch, exact positions."""

from __future__ import annotations

import numpy as np
import pytest

from craft_dag.training.buckets import BucketSpec
from craft_dag.training.data import (
    _check_size,
    epoch_order,
    iterate,
    load_pixels,
    plan_batches,
    read_table,
)
from craft_dag.training.embeddings import collate_text
from tests.training.conftest import TinyDataset, draw

STAGE2 = BucketSpec(min_area=64 * 64, max_area=128 * 128, multiple=64)


def test_repeat_weight_is_the_expected_count_per_epoch() -> None:
    weights = np.array([2.5, 1.0, 0.0, 0.25])
    counts = np.stack([np.bincount(epoch_order(weights, 0, e), minlength=4) for e in range(400)])
    assert set(counts[:, 0]) == {2, 3}  # 2.5 is 2 or 3 copies, never anything else
    assert (counts[:, 1] == 1).all() and (counts[:, 2] == 0).all()
    assert counts[:, 0].mean() == pytest.approx(2.5, abs=0.1)
    assert counts[:, 3].mean() == pytest.approx(0.25, abs=0.06)
    assert (epoch_order(weights, 0, 3) == epoch_order(weights, 0, 3)).all()  # seeded
    assert not (epoch_order(weights, 0, 3) == epoch_order(weights, 0, 4)).all()


def test_bucketed_batches_never_mix_shapes_and_count_the_too_small(
    tiny_dataset: TinyDataset,
) -> None:
    table = read_table(str(tiny_dataset.table))
    batches = plan_batches(table, batch_size=2, seed=0, spec=STAGE2)
    assert batches.skipped == 1  # the 32x32 thumbnail
    assert batches.sizes == {(64, 64): 4, (128, 64): 2, (64, 128): 2}
    seen = 0
    for epoch in range(5):
        for _, batch in iterate(batches, tiny_dataset.storage, epoch=epoch):
            width, height = batch["size"]
            assert batch["pixels"].shape == (2, 3, height, width)
            seen += 1
    assert seen >= 5 * 3


def test_a_fixed_resolution_stage_takes_every_image(tiny_dataset: TinyDataset) -> None:
    batches = plan_batches(read_table(str(tiny_dataset.table)), batch_size=4, seed=0, resolution=64)
    assert batches.skipped == 0 and batches.sizes == {(64, 64): tiny_dataset.rows}


def test_resuming_at_a_position_gives_the_rest_of_the_epoch(tiny_dataset: TinyDataset) -> None:
    batches = plan_batches(read_table(str(tiny_dataset.table)), batch_size=1, seed=3, spec=STAGE2)
    whole = [(p, b["image_ids"]) for p, b in iterate(batches, tiny_dataset.storage, epoch=2)]
    rest = [
        (p, b["image_ids"]) for p, b in iterate(batches, tiny_dataset.storage, epoch=2, start=3)
    ]
    assert rest == whole[3:]
    # Two ranks split the same epoch between them, in lockstep positions.
    ranks = [
        list(iterate(batches, tiny_dataset.storage, epoch=2, rank=r, world_size=2)) for r in (0, 1)
    ]
    assert [p for p, _ in ranks[0]] == [p for p, _ in ranks[1]]
    ids = [b["image_ids"] for pair in zip(*ranks, strict=True) for _, b in pair]
    assert ids == [ids_ for _, ids_ in whole[: len(ids)]]


def test_sizes_that_do_not_divide_are_refused() -> None:
    # A 96-pixel side gives 12 latents, which the UNet's third halving floors to 1: refused.
    with pytest.raises(ValueError, match="multiple of 64"):
        _check_size((96, 64))
    pixels = load_pixels(draw("white", "red", "circle", 100, 50), (128, 64))
    assert pixels.shape == (3, 64, 128) and pixels.min() >= -1 and pixels.max() <= 1


def test_collate_text_is_the_pipelines_shape() -> None:
    a, b = np.ones((3, 8), np.float32), np.ones((5, 8), np.float32)
    import torch

    hidden, mask = collate_text([torch.from_numpy(a), None, torch.from_numpy(b)])
    assert hidden.shape == (3, 6, 8)  # longest caption + 1, as Kandinsky3Pipeline cuts it
    assert mask.sum(-1).tolist() == [3, 0, 5]
    assert hidden[1].abs().sum() == 0  # a dropped caption is the pipeline's unconditional input
