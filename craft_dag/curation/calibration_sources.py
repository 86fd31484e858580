"""The photos the calibration corpus is made from: originals inside scikit-image's wheel.

Split out of ``calibration.py`` (which builds the corpus from them). Nothing is downloaded:
every file is in ``skimage/data`` of the installed wheel, so the corpus is the same on every
machine with the same packages.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from importlib import resources

from PIL import Image


@dataclass(frozen=True)
class Photo:
    """One original: a photo inside scikit-image's wheel, optionally a region of it."""

    name: str
    file: str  # inside skimage/data
    box: tuple[int, int, int, int] | None = None  # (left, top, right, bottom) of the region
    dark: bool = False  # mostly dark by nature: brightening it does not make it overexposed
    in_samples: bool = False  # the demo sample set (collection/samples.py) uses this file


# Only files inside the wheel (never the pooch downloads). Left out: drawings and scans of text,
# motorcycle_right (the stereo partner of motorcycle_left: a near-duplicate), clock_motion
# (blurred on purpose) and cell.png (microscopy, soft by nature: no sharp original). The large
# retina and Hubble photos give non-overlapping regions as separate originals instead of the
# whole photo, so no original contains another. matplotlib is not installed in .venv; its only
# photo (grace_hopper.jpg) was not worth a new dependency.
PHOTOS: tuple[Photo, ...] = (
    Photo("astronaut", "astronaut.png", in_samples=True),
    Photo("camera", "camera.png", in_samples=True),
    Photo("coffee", "coffee.png", in_samples=True),
    Photo("motorcycle", "motorcycle_left.png"),
    Photo("chelsea", "chelsea.png", in_samples=True),
    Photo("rocket", "rocket.jpg", dark=True, in_samples=True),
    Photo("moon", "moon.png"),
    Photo("ihc", "ihc.png"),
    Photo("coins", "coins.png", in_samples=True),
    Photo("brick", "brick.png", in_samples=True),
    Photo("grass", "grass.png", in_samples=True),
    Photo("gravel", "gravel.png", in_samples=True),
    Photo("hubble_top", "hubble_deep_field.jpg", (0, 0, 1000, 436), True, True),
    Photo("hubble_bottom", "hubble_deep_field.jpg", (0, 436, 1000, 872), True, True),
    Photo("retina_nw", "retina.jpg", (0, 0, 705, 705), True, True),
    Photo("retina_ne", "retina.jpg", (706, 0, 1411, 705), True, True),
    Photo("retina_sw", "retina.jpg", (0, 706, 705, 1411), True, True),
    Photo("retina_se", "retina.jpg", (706, 706, 1411, 1411), True, True),
)
SMALL_PHOTOS: tuple[str, ...] = ("astronaut", "motorcycle", "camera", "coffee")


def load_photo(photo: Photo) -> Image.Image:
    """The photo as RGB, cropped to its region when it has one."""
    folder = resources.files("skimage").joinpath("data")
    data = folder.joinpath(photo.file).read_bytes()
    image = Image.open(io.BytesIO(data))
    image.load()
    image = image.convert("RGB")
    if photo.box is not None:
        image = image.crop(photo.box)
    return image
