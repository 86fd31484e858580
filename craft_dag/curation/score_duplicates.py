"""Near-duplicates while scoring: hash groups confirmed by both hashes, and the crop search.

Split out of ``score.py``. ``confirmed_groups`` turns the CPU pass's dHash and pHash into
near-duplicate groups; ``CropSearch`` answers ``keeper.keep_best``'s question "is this member
a crop of that one" from the coarse thumbnails of the cheap pass, decoding an image again only
where the coarse screen passes.
"""

from collections.abc import Sequence

import numpy as np
from PIL import Image

from craft_dag.curation.keeper import (
    CROP_FRACTIONS,
    coarse_thumbnail,
    crop_screen,
    is_crop_of,
    thumbnail,
)
from craft_dag.curation.near_duplicates import group_near_duplicates
from craft_dag.curation.score_records import RawScores, ScoreItem
from craft_dag.imaging.decode import ImageRejected, open_untrusted, rejecting
from craft_dag.imaging.greyscale import to_greyscale

CROP_DECODE_SIDE = 320
"""A group member whose crop screen passed is decoded about this large (JPEG draft scaling)
to verify it."""


def confirmed_groups(scored: list[tuple[ScoreItem, RawScores]], radius: int) -> list[list[int]]:
    """Near-duplicate groups: close in dHash, confirmed in pHash (both hashes must agree).

    Requiring both keeps false merges rare: a wrong merge silently removes a distinct image,
    and with it some of what the collection knows of an entity.
    """
    ok = [i for i, (_, raw) in enumerate(scored) if raw.status == "ok"]
    rough = group_near_duplicates([scored[i][1].dhash for i in ok], radius)
    confirmed: list[list[int]] = []
    for group in rough:
        members = [ok[g] for g in group]
        # Components of the pHash-confirmed edges inside the dHash group, found through the
        # same index as the dHash groups: a pairwise matrix would take memory quadratic in the
        # group, and a dHash group can be the whole category (smooth, alike pictures chain).
        for part in group_near_duplicates([scored[m][1].phash for m in members], radius):
            confirmed.append(sorted(members[p] for p in part))
    confirmed.sort(key=lambda g: g[0])
    return confirmed


class CropSearch:
    """``is_crop(a, b)`` for ``keep_best``: the coarse screen on the thumbnails of the cheap
    pass, then, only where it passes, the verification on thumbnails decoded for it."""

    def __init__(self, items: Sequence[ScoreItem], coarse: dict[int, np.ndarray]) -> None:
        self.items = items
        self.coarse = coarse  # filled in for images whose cheap pass was reused
        self.fine: dict[int, np.ndarray | None] = {}
        self.verified = 0

    def _decode(self, i: int) -> np.ndarray | None:
        if i not in self.fine:
            try:
                image = _grey_for_crop(self.items[i].load())
            except (ImageRejected, OSError):
                image = None  # it cannot be compared; it is then not a crop
            self.fine[i] = thumbnail(image) if image is not None else None
            if image is not None:
                self.coarse.setdefault(i, coarse_thumbnail(image))
        return self.fine[i]

    def is_crop(self, small: int, large: int) -> bool:
        """Whether member ``small`` is a crop of member ``large`` (indices into ``items``)."""
        for i in (small, large):
            if i not in self.coarse:
                self._decode(i)
        if small not in self.coarse or large not in self.coarse:
            return False
        widths = crop_screen(self.coarse[small], self.coarse[large])
        if widths is None:
            return False
        self.verified += 1
        a, b = self._decode(small), self._decode(large)
        return (
            a is not None
            and b is not None
            and is_crop_of(a, b, fractions=widths, reverse_fractions=CROP_FRACTIONS)
        )


def _grey_for_crop(data: bytes) -> Image.Image:
    """The image in greyscale at about ``CROP_DECODE_SIDE`` px, for the crop verification.

    Greyscale is all the comparison uses, so a JPEG is decoded in luma only, at the smallest
    DCT scale that is still at least that size; ``thumbnail`` then box-averages it down. Half
    the cost of the colour decode and bicubic shrink of ``colour_image``, and the crop search
    runs inside the cheap pass's budget.
    """
    image, fmt = open_untrusted(data)
    with rejecting(fmt):
        if fmt == "JPEG":
            image.draft("L", (CROP_DECODE_SIDE, CROP_DECODE_SIDE))
        image.load()
        return to_greyscale(image)
