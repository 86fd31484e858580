"""The demo's sample image set: real photos with known licences, and planted problems.

The photos are the ones scikit-image bundles inside its wheel (``skimage/data/``): nothing is
downloaded, so the set builds offline and the same everywhere. For each chosen entity the
builder writes a few clean variations (crops, flips, resized to at least 512 px on the short
side) and, spread over the categories, every kind of problem a collection stage has to cope
with: blurred, badly exposed, duplicated, watermarked, tiny or strip-shaped images, images with
nothing in them, broken files, and valid files in unusual modes and formats. ``manifest.csv``
says which is which (the ``planted`` column), so the later stages can be checked against it.

Layout under ``dest``::

    VERSION                              SAMPLE_SET_VERSION, written last
    manifest.csv                         one row per image (see SampleImage)
    <category>/<entity_id>/img_NN.<ext>  the images

Every file is written to a temporary name in its own folder and moved into place, and
``VERSION`` comes last: a build that is interrupted leaves no half-written image under a final
name, and is not taken for a finished one by the next call.
"""

from __future__ import annotations

import csv
import io
import math
import os
import random
from collections.abc import Mapping, Sequence
from dataclasses import astuple, dataclass, fields
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path, PurePosixPath

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

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
_GENERATED_LICENCE = "CC0-1.0"
_GENERATED_AUTHOR = "craft_dag sample-set builder"


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


@dataclass(frozen=True)
class _Photo:
    file: str  # name inside skimage/data
    licence: str
    author: str
    grey: bool


# Only files that ship inside the scikit-image wheel (never the ones it fetches with pooch), and
# only photographs whose licence its docstrings state. Left out on purpose: horse (clip art),
# color, page, text, logo, phantom, chessboards (drawings or scans), moon and the motorcycle
# stereo pair (no licence stated), clock_motion (motion-blurred on purpose), microscopy images.
_PHOTOS: tuple[_Photo, ...] = (
    _Photo("astronaut.png", "Public domain (NASA)", "NASA (portrait of Eileen Collins)", False),
    _Photo("chelsea.png", "CC0-1.0", "Stefan van der Walt", False),
    _Photo("coffee.png", "CC0-1.0", "Rachel Michetti (courtesy of Pikolo Espresso Bar)", False),
    _Photo("rocket.jpg", "Public domain (SpaceX)", "SpaceX", False),
    _Photo("hubble_deep_field.jpg", "Public domain (NASA)", "NASA, ESA (HubbleSite)", False),
    _Photo("retina.jpg", "CC0-1.0", "Mikael Häggström", False),
    _Photo("camera.png", "CC0-1.0", "Lav Varshney", True),
    _Photo("coins.png", "No known copyright restrictions", "Brooklyn Museum", True),
    _Photo("brick.png", "CC0-1.0", "CC0Textures (Bricks25)", True),
    _Photo("grass.png", "CC0-1.0", "linolafett (DeviantArt)", True),
    _Photo("gravel.png", "CC0-1.0", "CC0Textures (Gravel04)", True),
)

# The kinds that make a new file from a photo (all but "none"), plus a second duplicate whose
# original belongs to another entity.
_CROSS_DUPLICATE = "duplicate_other_entity"
_PLANTED_JOBS: tuple[str, ...] = (*PLANTED[1:], _CROSS_DUPLICATE)

_EXTENSIONS = {
    "truncated": "jpg",
    "empty": "jpg",
    "not_an_image": "jpg",
    "cmyk": "jpg",
    "16bit": "png",
    "palette_alpha": "png",
    "animated": "gif",
    "webp": "webp",
}

# Kinds made from colour photos only (a greyscale source would hide what they are about).
_COLOUR_KINDS = frozenset({"watermark", "cmyk", "palette_alpha", "animated", "webp"})

# Mostly dark photos: tripled brightness would still not look overexposed.
_DARK_PHOTOS = frozenset({"hubble_deep_field.jpg", "rocket.jpg"})

_NOT_AN_IMAGE = b"""<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>403 Forbidden</title></head>
<body>
<h1>Forbidden</h1>
<p>Hotlinking of images is not allowed. Please visit our gallery to view this picture.</p>
<hr><address>nginx</address>
</body>
</html>
"""

# Two clean variations of one photo closer than this (mean absolute difference of 64x64
# greyscale thumbnails, in 0-255 levels) would be accidental duplicates: the builder draws again.
_DISTINCT_MAD = 12.0


def build_sample_set(
    dest: Path,
    entities: Mapping[str, Sequence[str]],
    *,
    per_category: int = 2,
    seed: int = 0,
) -> list[SampleImage]:
    """Build the sample set under ``dest`` and return its manifest rows (sorted by path).

    ``entities`` maps each category id to its entity ids in order; the first ``per_category``
    entities of each category are used. Each gets 2-4 images (more only when fewer than six
    entities have to carry all the planted kinds between them). Every kind in ``PLANTED``
    appears at least once, each on a different category as far as there are categories, and
    ``"duplicate"`` appears twice: once copying a clean image of the same entity, once one of
    another entity (when there are two entities or more).

    The same arguments and ``seed`` give the same files and manifest. When ``dest/VERSION``
    already holds ``SAMPLE_SET_VERSION`` and ``dest/manifest.csv`` lists the same entities,
    nothing is written and the existing manifest is returned.
    """
    if per_category < 1:
        raise ValueError(f"per_category must be at least 1, not {per_category}")
    chosen = _choose(entities, per_category)
    if not chosen:
        raise ValueError("no entities to build a sample set for")
    dest = Path(dest)

    existing = _complete_manifest(dest)
    if existing is not None and {(r.category, r.entity_id) for r in existing} == set(chosen):
        return existing

    dest.mkdir(parents=True, exist_ok=True)
    # From here on the folder is not a finished set, until VERSION is written again.
    (dest / VERSION_FILE).unlink(missing_ok=True)
    old_paths = {r.path for r in _read_rows_or_empty(dest)}

    rows = _Builder(dest, chosen, seed).build()

    for stale in sorted(old_paths - {r.path for r in rows}):
        (dest / stale).unlink(missing_ok=True)
    _write_manifest(dest, rows)
    _atomic_write(dest / VERSION_FILE, f"{SAMPLE_SET_VERSION}\n".encode())
    return rows


def read_manifest(dest: Path) -> list[SampleImage]:
    """The rows of ``dest/manifest.csv``, in file order."""
    with (Path(dest) / MANIFEST).open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        if tuple(reader.fieldnames or ()) != MANIFEST_COLUMNS:
            raise ValueError(
                f"{dest / MANIFEST}: expected columns {MANIFEST_COLUMNS}, found {reader.fieldnames}"
            )
        return [SampleImage(**row) for row in reader]


# --- choosing and planning -------------------------------------------------------------------


def _choose(entities: Mapping[str, Sequence[str]], per_category: int) -> list[tuple[str, str]]:
    """(category, entity_id) pairs to build, in category order then entity order."""
    chosen: list[tuple[str, str]] = []
    for category, ids in entities.items():
        _check_name(category, "category")
        if isinstance(ids, str):
            raise TypeError(f"entities[{category!r}] must be a sequence of ids, not a string")
        picked = list(dict.fromkeys(ids))[:per_category]
        for entity_id in picked:
            _check_name(entity_id, "entity id")
            chosen.append((category, entity_id))
    return chosen


def _check_name(name: str, what: str) -> None:
    if (
        not isinstance(name, str)
        or not name
        or name in {".", ".."}
        or "/" in name
        or "\\" in name
        or name.startswith(".")
    ):
        raise ValueError(f"{what} {name!r} cannot be used as a folder name")


@dataclass
class _EntityPlan:
    category: str
    entity_id: str
    planted: list[str]
    n_clean: int = 0


def _plan(chosen: list[tuple[str, str]], rng: random.Random) -> list[_EntityPlan]:
    """Who carries which planted kind: spread over categories first, then entities."""
    plans = {key: _EntityPlan(key[0], key[1], []) for key in chosen}
    categories = list(dict.fromkeys(category for category, _ in chosen))
    rng.shuffle(categories)
    by_category: dict[str, list[tuple[str, str]]] = {c: [] for c in categories}
    for key in chosen:
        by_category[key[0]].append(key)
    # First entity of every category (in shuffled category order), then the second ones, ...
    order: list[tuple[str, str]] = []
    for rank in range(max(len(v) for v in by_category.values())):
        order.extend(by_category[c][rank] for c in categories if rank < len(by_category[c]))

    jobs = list(_PLANTED_JOBS)
    rng.shuffle(jobs)
    for i, job in enumerate(jobs):
        plans[order[i % len(order)]].planted.append(job)

    for key in chosen:
        plan = plans[key]
        n_planted = len(plan.planted)
        plan.n_clean = 1 if n_planted else 2
        if plan.n_clean + n_planted < 4 and rng.random() < 0.5:
            plan.n_clean += 1
    return [plans[key] for key in chosen]


# --- building --------------------------------------------------------------------------------


@dataclass
class _Clean:
    image: Image.Image
    photo: _Photo


class _Builder:
    def __init__(self, dest: Path, chosen: list[tuple[str, str]], seed: int) -> None:
        self.dest = dest
        self.rng = random.Random(seed)
        self.np_rng = np.random.default_rng(seed)
        self.plans = _plan(chosen, self.rng)
        self.photos: dict[str, Image.Image] = {}
        self.thumbs: dict[str, list[np.ndarray]] = {}
        self.clean: dict[tuple[str, str], list[_Clean]] = {}

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
            photos = self.rng.sample(_PHOTOS, k=min(plan.n_clean, len(_PHOTOS)))
            photos += [self.rng.choice(_PHOTOS) for _ in range(plan.n_clean - len(photos))]
            self.clean[key] = []
            for photo, name in zip(photos, names[key][: plan.n_clean], strict=True):
                image = self._distinct_variation(photo)
                ext = "png" if self.rng.random() < 0.15 else "jpg"
                data = _encode(image, "PNG", compress_level=3) if ext == "png" else _jpeg(image, 90)
                row = self._write(plan, f"{name}.{ext}", data, "none", photo)
                self.clean[key].append(_Clean(image, photo))
                rows.append(row)

        order = [(p.category, p.entity_id) for p in self.plans]
        for plan in self.plans:
            key = (plan.category, plan.entity_id)
            for job, name in zip(plan.planted, names[key][plan.n_clean :], strict=True):
                if job == _CROSS_DUPLICATE:
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
                ext = _EXTENSIONS.get(kind, "jpg")
                rows.append(self._write(plan, f"{name}.{ext}", data, kind, photo))
        return sorted(rows, key=lambda r: r.path)

    # photos and variations

    def _photo(self, photo: _Photo) -> Image.Image:
        if photo.file not in self.photos:
            data = _skimage_data(photo.file).read_bytes()
            with Image.open(io.BytesIO(data)) as opened:
                image = opened.convert("L" if photo.grey else "RGB")
            self.photos[photo.file] = image
        return self.photos[photo.file]

    def _variation(
        self, photo: _Photo, short_side: int = MIN_SHORT_SIDE, aspect: float | None = None
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

    def _distinct_variation(self, photo: _Photo) -> Image.Image:
        """A variation not near-identical to any clean one already made from the same photo."""
        seen = self.thumbs.setdefault(photo.file, [])
        for _ in range(20):
            image = self._variation(photo)
            thumb = _thumbnail(image)
            if all(np.abs(thumb - other).mean() >= _DISTINCT_MAD for other in seen):
                break
        seen.append(thumb)
        return image

    # planted kinds

    def _planted(self, kind: str, original: _Clean | None) -> tuple[bytes, _Photo | None]:
        """The bytes of one planted image, and the photo it comes from (None: generated)."""
        if kind == "duplicate":
            assert original is not None
            image = original.image
            size = (math.ceil(image.width * 0.95), math.ceil(image.height * 0.95))
            return _jpeg(image.resize(size, Image.Resampling.LANCZOS), 75), original.photo
        if kind == "empty":
            return b"", None
        if kind == "not_an_image":
            return _NOT_AN_IMAGE, None
        if kind == "low_information":
            return _jpeg(self._low_information(), 90), None

        if kind == "16bit":
            pool = [p for p in _PHOTOS if p.grey]
        elif kind in _COLOUR_KINDS:
            pool = [p for p in _PHOTOS if not p.grey]
        elif kind == "overexposed":
            pool = [p for p in _PHOTOS if p.file not in _DARK_PHOTOS]
        else:
            pool = list(_PHOTOS)
        photo = self.rng.choice(pool)
        if kind == "too_small":
            image = self._variation(photo, aspect=4 / 3).resize((64, 48), Image.Resampling.LANCZOS)
            return _jpeg(image, 90), photo
        if kind == "bad_aspect":
            return _jpeg(self._strip(photo), 90), photo
        if kind == "animated":
            return self._animated(photo), photo

        image = self._variation(photo)
        if kind == "blurred":
            data = _jpeg(image.filter(ImageFilter.GaussianBlur(radius=8)), 90)
        elif kind == "underexposed":
            data = _jpeg(image.point(lambda v: round(v * 0.08)), 90)
        elif kind == "overexposed":
            data = _jpeg(image.point(lambda v: min(255, v * 3)), 90)
        elif kind == "watermark":
            data = _jpeg(_watermark(image), 90)
        elif kind == "truncated":
            whole = _jpeg(image, 90)
            data = whole[: int(len(whole) * 0.4)]
        elif kind == "cmyk":
            data = _jpeg(image.convert("RGB").convert("CMYK"), 90)
        elif kind == "16bit":
            wide = np.asarray(image.convert("L"), dtype=np.uint16) * 257
            data = _encode(Image.fromarray(wide), "PNG", compress_level=3)  # mode "I;16"
        elif kind == "palette_alpha":
            data = _palette_with_transparency(image)
        elif kind == "webp":
            data = _encode(image.convert("RGB"), "WEBP", quality=80, method=2)
        else:  # pragma: no cover - every kind of PLANTED is handled above
            raise AssertionError(f"unknown planted kind {kind!r}")
        return data, photo

    def _low_information(self) -> Image.Image:
        colour = np.array([self.rng.randrange(40, 216) for _ in range(3)], dtype=np.int16)
        noise = self.np_rng.integers(-2, 3, size=(480, 640, 3), dtype=np.int16)
        return Image.fromarray(np.clip(colour + noise, 0, 255).astype(np.uint8), "RGB")

    def _strip(self, photo: _Photo) -> Image.Image:
        source = self._photo(photo)
        width, height = source.size
        box_h = width / 10
        top = self.rng.uniform(0, height - box_h)
        return source.resize(
            (1600, 160), Image.Resampling.LANCZOS, box=(0, top, width, top + box_h)
        )

    def _animated(self, photo: _Photo) -> bytes:
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
        self, plan: _EntityPlan, name: str, data: bytes, planted: str, photo: _Photo | None
    ) -> SampleImage:
        relative = PurePosixPath(plan.category, plan.entity_id, name)
        _atomic_write(self.dest / relative, data)
        if photo is None:
            source, licence, author = GENERATED, _GENERATED_LICENCE, _GENERATED_AUTHOR
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


def _skimage_data(name: str) -> Traversable:
    """A file bundled in scikit-image's wheel (never one it would download)."""
    try:
        folder = resources.files("skimage").joinpath("data")
    except ModuleNotFoundError as error:  # pragma: no cover - depends on the environment
        raise RuntimeError(
            "the sample set is made from the photos bundled with scikit-image: install it"
        ) from error
    path = folder.joinpath(name)
    if not path.is_file():  # pragma: no cover - depends on the installed wheel
        raise FileNotFoundError(f"skimage/data/{name} is not in the installed scikit-image")
    return path


def _thumbnail(image: Image.Image) -> np.ndarray:
    small = image.convert("L").resize((64, 64), Image.Resampling.BILINEAR)
    return np.asarray(small, dtype=np.float32)


def _encode(image: Image.Image, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def _jpeg(image: Image.Image, quality: int) -> bytes:
    if image.mode not in {"RGB", "L", "CMYK"}:
        image = image.convert("RGB")
    return _encode(image, "JPEG", quality=quality)


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)
    except (ImportError, OSError):  # pragma: no cover - Pillow built without FreeType
        return ImageFont.load_default()


def _watermark(image: Image.Image) -> Image.Image:
    """Semi-transparent '© STOCKPHOTO' tiled diagonally across ``image``."""
    base = image.convert("RGBA")
    width, height = base.size
    side = math.ceil(math.hypot(width, height))
    layer = Image.new("RGBA", (side, side), (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    font = _font(max(24, width // 14))
    text = "© STOCKPHOTO"
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
    step_x, step_y = (right - left) + 40, (bottom - top) + 50
    for row, y in enumerate(range(0, side, step_y)):
        for x in range(-(row % 2) * step_x // 2, side, step_x):
            draw.text((x, y), text, font=font, fill=(255, 255, 255, 120))
            draw.text((x + 2, y + 2), text, font=font, fill=(0, 0, 0, 60))
    layer = layer.rotate(30, resample=Image.Resampling.BILINEAR)
    offset_x, offset_y = (side - width) // 2, (side - height) // 2
    layer = layer.crop((offset_x, offset_y, offset_x + width, offset_y + height))
    return Image.alpha_composite(base, layer).convert("RGB")


def _palette_with_transparency(image: Image.Image) -> bytes:
    """A mode "P" PNG whose corners (outside an ellipse) are one transparent palette entry."""
    rgb = image.convert("RGB")
    quantized = rgb.quantize(colors=127, method=Image.Quantize.FASTOCTREE)
    indices = np.asarray(quantized).copy()
    height, width = indices.shape
    yy, xx = np.mgrid[0:height, 0:width]
    outside = ((xx - width / 2) / (width / 2)) ** 2 + ((yy - height / 2) / (height / 2)) ** 2 > 1
    transparent = 127
    indices[outside] = transparent
    palette = (quantized.getpalette() or [])[: 3 * transparent]
    palette += [0] * (3 * transparent - len(palette)) + [0, 0, 0]
    result = Image.fromarray(indices.astype(np.uint8), "P")
    result.putpalette(palette)
    return _encode(result, "PNG", compress_level=3, transparency=transparent)


# --- files -----------------------------------------------------------------------------------


def _atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to a temporary name beside ``path``, then move it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    with partial.open("wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(partial, path)


def _write_manifest(dest: Path, rows: Sequence[SampleImage]) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(MANIFEST_COLUMNS)
    writer.writerows(astuple(row) for row in rows)
    _atomic_write(dest / MANIFEST, buffer.getvalue().encode("utf-8"))


def _complete_manifest(dest: Path) -> list[SampleImage] | None:
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


def _read_rows_or_empty(dest: Path) -> list[SampleImage]:
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
