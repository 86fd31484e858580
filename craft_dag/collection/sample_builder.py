"""Building the sample set's images: clean variations of the photos, then the planted ones."""

from __future__ import annotations

import io
import math
import random
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np
from PIL import Image, ImageFilter

from craft_dag.collection import sample_encoders as encoders
from craft_dag.collection.sample_manifest import (
    GENERATED,
    GENERATED_AUTHOR,
    GENERATED_LICENCE,
    MIN_SHORT_SIDE,
    SampleImage,
    atomic_write,
)
from craft_dag.collection.sample_plan import (
    COLOUR_KINDS,
    CROSS_DUPLICATE,
    DARK_PHOTOS,
    EXTENSIONS,
    PHOTOS,
    EntityPlan,
    Photo,
    plan_entities,
)

# Two clean variations of one photo closer than this (mean absolute difference of 64x64
# greyscale thumbnails, in 0-255 levels) would be accidental duplicates: the builder draws again.
DISTINCT_MAD = 12.0


@dataclass
class Clean:
    image: Image.Image
    photo: Photo


class Builder:
    def __init__(self, dest: Path, chosen: list[tuple[str, str]], seed: int) -> None:
        self.dest = dest
        self.rng = random.Random(seed)
        self.np_rng = np.random.default_rng(seed)
        self.plans = plan_entities(chosen, self.rng)
        self.photos: dict[str, Image.Image] = {}
        self.thumbs: dict[str, list[np.ndarray]] = {}
        self.clean: dict[tuple[str, str], list[Clean]] = {}

    def build(self) -> list[SampleImage]:
        rows: list[SampleImage] = []
        names: dict[tuple[str, str], list[str]] = {}
        for plan in self.plans:
            key = (plan.category, plan.entity_id)
            total = plan.n_clean + len(plan.planted)
            numbers = list(range(1, total + 1))
            self.rng.shuffle(numbers)  # planted images are not always the last ones
            names[key] = [f"img_{n:02d}" for n in numbers]

        # Clean images first: the duplicates copy them.
        for plan in self.plans:
            key = (plan.category, plan.entity_id)
            photos = self.rng.sample(PHOTOS, k=min(plan.n_clean, len(PHOTOS)))
            photos += [self.rng.choice(PHOTOS) for _ in range(plan.n_clean - len(photos))]
            self.clean[key] = []
            for photo, name in zip(photos, names[key][: plan.n_clean], strict=True):
                image = self._distinct_variation(photo)
                ext = "png" if self.rng.random() < 0.15 else "jpg"
                data = (
                    encoders.encode(image, "PNG", compress_level=3)
                    if ext == "png"
                    else encoders.jpeg(image, 90)
                )
                row = self._write(plan, f"{name}.{ext}", data, "none", photo)
                self.clean[key].append(Clean(image, photo))
                rows.append(row)

        order = [(p.category, p.entity_id) for p in self.plans]
        for plan in self.plans:
            key = (plan.category, plan.entity_id)
            for job, name in zip(plan.planted, names[key][plan.n_clean :], strict=True):
                if job == CROSS_DUPLICATE:
                    others = [k for k in order if k != key] or [key]
                    original = self.clean[self.rng.choice(others)][0]
                    kind = "duplicate"
                elif job == "duplicate":
                    original = self.rng.choice(self.clean[key])
                    kind = "duplicate"
                else:
                    original = None
                    kind = job
                data, photo = self._planted(kind, original)
                ext = EXTENSIONS.get(kind, "jpg")
                rows.append(self._write(plan, f"{name}.{ext}", data, kind, photo))
        return sorted(rows, key=lambda r: r.path)

    # photos and variations

    def _photo(self, photo: Photo) -> Image.Image:
        if photo.file not in self.photos:
            data = encoders.skimage_data(photo.file).read_bytes()
            with Image.open(io.BytesIO(data)) as opened:
                image = opened.convert("L" if photo.grey else "RGB")
            self.photos[photo.file] = image
        return self.photos[photo.file]

    def _variation(
        self, photo: Photo, short_side: int = MIN_SHORT_SIDE, aspect: float | None = None
    ) -> Image.Image:
        """A random crop of ``photo`` (maybe flipped), resized to ``short_side`` on its short side."""
        source = self._photo(photo)
        width, height = source.size
        if aspect is None:
            aspect = self.rng.choice((1.0, 4 / 3, 3 / 2, 3 / 4, 2 / 3))
        scale = self.rng.uniform(0.6, 1.0)
        # The largest box of this aspect inside the photo, scaled down.
        box_w = min(width, height * aspect)
        box_h = box_w / aspect
        box_w, box_h = box_w * scale, box_h * scale
        left = self.rng.uniform(0, width - box_w)
        top = self.rng.uniform(0, height - box_h)
        if aspect >= 1:
            size = (round(short_side * aspect), short_side)
        else:
            size = (short_side, round(short_side / aspect))
        image = source.resize(
            size, Image.Resampling.LANCZOS, box=(left, top, left + box_w, top + box_h)
        )
        if self.rng.random() < 0.5:
            image = image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        return image

    def _distinct_variation(self, photo: Photo) -> Image.Image:
        """A variation not near-identical to any clean one already made from the same photo."""
        seen = self.thumbs.setdefault(photo.file, [])
        for _ in range(20):
            image = self._variation(photo)
            thumb = encoders.thumbnail(image)
            if all(np.abs(thumb - other).mean() >= DISTINCT_MAD for other in seen):
                break
        seen.append(thumb)
        return image

    # planted kinds

    def _planted(self, kind: str, original: Clean | None) -> tuple[bytes, Photo | None]:
        """The bytes of one planted image, and the photo it comes from (None: generated)."""
        if kind == "duplicate":
            assert original is not None
            image = original.image
            size = (math.ceil(image.width * 0.95), math.ceil(image.height * 0.95))
            return encoders.jpeg(image.resize(size, Image.Resampling.LANCZOS), 75), original.photo
        if kind == "empty":
            return b"", None
        if kind == "not_an_image":
            return encoders.NOT_AN_IMAGE, None
        if kind == "low_information":
            return encoders.jpeg(self._low_information(), 90), None

        if kind == "16bit":
            pool = [p for p in PHOTOS if p.grey]
        elif kind in COLOUR_KINDS:
            pool = [p for p in PHOTOS if not p.grey]
        elif kind == "overexposed":
            pool = [p for p in PHOTOS if p.file not in DARK_PHOTOS]
        else:
            pool = list(PHOTOS)
        photo = self.rng.choice(pool)
        if kind == "too_small":
            image = self._variation(photo, aspect=4 / 3).resize((64, 48), Image.Resampling.LANCZOS)
            return encoders.jpeg(image, 90), photo
        if kind == "bad_aspect":
            return encoders.jpeg(self._strip(photo), 90), photo
        if kind == "animated":
            return self._animated(photo), photo

        image = self._variation(photo)
        if kind == "blurred":
            data = encoders.jpeg(image.filter(ImageFilter.GaussianBlur(radius=8)), 90)
        elif kind == "underexposed":
            data = encoders.jpeg(image.point(lambda v: round(v * 0.08)), 90)
        elif kind == "overexposed":
            data = encoders.jpeg(image.point(lambda v: min(255, v * 3)), 90)
        elif kind == "watermark":
            data = encoders.jpeg(encoders.watermark(image), 90)
        elif kind == "truncated":
            whole = encoders.jpeg(image, 90)
            data = whole[: int(len(whole) * 0.4)]
        elif kind == "cmyk":
            data = encoders.jpeg(image.convert("RGB").convert("CMYK"), 90)
        elif kind == "16bit":
            wide = np.asarray(image.convert("L"), dtype=np.uint16) * 257
            data = encoders.encode(Image.fromarray(wide), "PNG", compress_level=3)  # mode "I;16"
        elif kind == "palette_alpha":
            data = encoders.palette_with_transparency(image)
        elif kind == "webp":
            data = encoders.encode(image.convert("RGB"), "WEBP", quality=80, method=2)
        else:  # pragma: no cover - every kind of PLANTED is handled above
            raise AssertionError(f"unknown planted kind {kind!r}")
        return data, photo

    def _low_information(self) -> Image.Image:
        colour = np.array([self.rng.randrange(40, 216) for _ in range(3)], dtype=np.int16)
        noise = self.np_rng.integers(-2, 3, size=(480, 640, 3), dtype=np.int16)
        return Image.fromarray(np.clip(colour + noise, 0, 255).astype(np.uint8), "RGB")

    def _strip(self, photo: Photo) -> Image.Image:
        source = self._photo(photo)
        width, height = source.size
        box_h = width / 10
        top = self.rng.uniform(0, height - box_h)
        return source.resize(
            (1600, 160), Image.Resampling.LANCZOS, box=(0, top, width, top + box_h)
        )

    def _animated(self, photo: Photo) -> bytes:
        """Three frames panning across a crop of ``photo``."""
        base = self._variation(photo, short_side=MIN_SHORT_SIDE + 64, aspect=1.0).convert("RGB")
        frames = [
            base.crop(
                (step * 32, step * 32, step * 32 + MIN_SHORT_SIDE, step * 32 + MIN_SHORT_SIDE)
            )
            for step in range(3)
        ]
        frames = [frame.quantize(colors=128, method=Image.Quantize.FASTOCTREE) for frame in frames]
        buffer = io.BytesIO()
        frames[0].save(
            buffer,
            "GIF",
            save_all=True,
            append_images=frames[1:],
            duration=400,
            loop=0,
            optimize=False,
        )
        return buffer.getvalue()

    def _write(
        self, plan: EntityPlan, name: str, data: bytes, planted: str, photo: Photo | None
    ) -> SampleImage:
        relative = PurePosixPath(plan.category, plan.entity_id, name)
        atomic_write(self.dest / relative, data)
        if photo is None:
            source, licence, author = GENERATED, GENERATED_LICENCE, GENERATED_AUTHOR
        else:
            source, licence, author = f"skimage/data/{photo.file}", photo.licence, photo.author
        return SampleImage(
            path=str(relative),
            category=plan.category,
            entity_id=plan.entity_id,
            planted=planted,
            source_file=source,
            licence=licence,
            author=author,
        )


# --- image helpers ---------------------------------------------------------------------------
