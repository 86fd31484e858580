"""A labelled calibration corpus for the curation rules: real photos with planted problems.

The curation thresholds were first tuned on the demo's sample set; this corpus is the data they
are *measured* on (``bench/bench_curation_quality.py``, ``tests/curation/test_calibration*``).
It is built in code from photographs that ship inside installed wheels (scikit-image's
``skimage/data``; nothing is downloaded), so it is the same on every machine with the same
packages and fonts, and byte-identical for the same seed.

Layout under ``out_dir``::

    labels.csv                     one row per file (see CorpusFile)
    g<NN>_<photo>/original.png     a near-duplicate group: the undegraded original ...
    g<NN>_<photo>/<kind>_<i>.<ext> ... and its degraded copies (crop, blur, watermark, ...)
    singles/<kind>_<i>.<ext>       flat images, documents, screenshots, strips
    broken/<kind>.<ext>            truncated, empty and non-image files

Each group lives in its own sub-folder because ``craft images score`` treats sub-folders as
entities and only *removes* near-duplicates within one entity (across entities it asks a
person). The expected reasons are what a curator would say about the file, in the project's
reason vocabulary (``policy.REASONS``): the original of a group is expected to be kept (no
reason) and every copy carries ``duplicate``, plus its own reason when its degradation is one
(a blurred copy: ``blurry;duplicate``). Whether a file is ``too_small`` is computed from its
size against the built-in ``min_short_side``, the one threshold that is a plain fact.

The degradation strengths are data (``COPY_KINDS``, ``_FLAT``, ...), chosen so that a curator
would agree the copy is degraded: JPEG at quality 20-40 rather than 95, blur of several pixels
rather than one, exposure off by about two stops.
"""

from __future__ import annotations

import csv
import io
import json
import math
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from craft_dag.curation.policy import REASONS, Thresholds

LABELS_FILE = "labels.csv"
ROLES: tuple[str, ...] = ("original", "copy", "single", "broken")
SIZES: tuple[str, ...] = ("small", "full")
MIN_SHORT_SIDE: int = Thresholds().min_short_side or 256
"""Below this short side a file is expected to be ``too_small`` (the built-in default)."""

# --- sources -----------------------------------------------------------------------------------


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

# --- fonts -------------------------------------------------------------------------------------

# Debian's fonts-dejavu-core; where a file is missing the builder falls back to Pillow's own
# FreeType font (Aileron, Pillow >= 10.1) and the labels name the font actually used.
_DEJAVU = Path("/usr/share/fonts/truetype/dejavu")
FONTS: dict[str, Path | None] = {
    "aileron": None,
    "dejavu_sans_bold": _DEJAVU / "DejaVuSans-Bold.ttf",
    "dejavu_serif": _DEJAVU / "DejaVuSerif.ttf",
    "dejavu_mono": _DEJAVU / "DejaVuSansMono.ttf",
    "dejavu_sans_condensed_oblique": _DEJAVU / "DejaVuSansCondensed-Oblique.ttf",
}


def _cyrillic(text: str) -> bool:
    return any("\u0400" <= ch <= "\u04ff" for ch in text)


def _drawable(text: str, font_name: str, latin: str) -> str:
    """``text``, or ``latin`` where the font has no Cyrillic (Aileron: boxes, not letters)."""
    return latin if font_name == "aileron" and _cyrillic(text) else text


def _font(name: str, size: int) -> tuple[ImageFont.FreeTypeFont, str]:
    path = FONTS[name]
    if path is not None and path.is_file():
        return ImageFont.truetype(str(path), size), name
    return ImageFont.load_default(size=size), "aileron"  # type: ignore[return-value]


# --- degradations as data ----------------------------------------------------------------------

WATERMARK_TEXTS: tuple[str, ...] = (
    "© STOCKPHOTO",
    "SAMPLE",
    "photobank.example",
    "PREVIEW ONLY",
    "© Фотобанк",
    "watermark",
)
CORNER_TEXTS: tuple[str, ...] = ("© PhotoAgency 2019", "fotostock.example", "© ИТАР-ФОТО")
CAPTIONS: tuple[str, ...] = (
    "When you finally get the weekend off",
    "Moscow, 1987. Photo from the family archive",
    "Самовар на даче у бабушки, лето",
    "BREAKING: local cat refuses to move",
)


@dataclass(frozen=True)
class CopyKind:
    """One derived copy of an original; ``params`` are fixed, ``ranges`` drawn per group."""

    kind: str
    reasons: tuple[str, ...]  # besides "duplicate" (and too_small, computed from the size)
    params: dict[str, Any] = field(default_factory=dict)
    ranges: dict[str, tuple[float, float]] = field(default_factory=dict)
    small: bool = True  # part of the small corpus too


COPY_KINDS: tuple[CopyKind, ...] = (
    CopyKind("crop", (), {"keep": 0.9}),
    CopyKind("crop", (), {"keep": 0.75}, small=False),
    CopyKind("downscale", (), {"scale": 0.5}),
    CopyKind("downscale", (), {"scale": 0.35}, small=False),
    CopyKind("jpeg", (), ranges={"quality": (20, 40)}),
    CopyKind("blur", ("blurry",), ranges={"radius": (3.0, 6.0)}),
    CopyKind("dark", ("underexposed",), {"gain": 0.22}),
    CopyKind("bright", ("overexposed",), {"gain": 2.6}),
    CopyKind("tiny", ("too_small",), {"short_side": 120}),
    CopyKind(
        "watermark_tiled",
        ("watermark",),
        ranges={"opacity": (0.15, 0.3), "angle": (0.0, 45.0), "size": (0.05, 0.09)},
    ),
    CopyKind(
        "watermark_tiled",
        ("watermark",),
        ranges={"opacity": (0.3, 0.5), "angle": (0.0, 45.0), "size": (0.07, 0.12)},
    ),
    CopyKind("watermark_corner", ("watermark",), ranges={"opacity": (0.5, 0.85)}),
    CopyKind("caption", ("text",), ranges={"size": (0.06, 0.09)}),
)
"""Every group gets each kind (the small corpus only those with ``small=True``)."""

# Singles: (kind, expected reasons, parameters per instance).
_FLAT: tuple[dict[str, Any], ...] = (
    {"style": "solid", "colour": (128, 128, 128)},
    {"style": "solid", "colour": (40, 90, 160)},
    {"style": "gradient", "from": (200, 210, 230), "to": (185, 195, 220)},
    {"style": "gradient", "from": (120, 60, 40), "to": (105, 55, 40)},
    {"style": "noise", "colour": (90, 140, 90), "sigma": 1.5},
    {"style": "noise", "colour": (220, 200, 150), "sigma": 1.0},
)
_DOCUMENT_TEXT = (
    "The committee met on the third of March to consider the annual report. After a short "
    "discussion of the budget, the members agreed to postpone the vote until the next session. "
    "Председатель напомнил, что отчёт должен быть готов к концу месяца, и попросил всех "
    "участников прислать замечания заранее. The meeting closed at half past six."
)
_DOCUMENT_TEXT_LATIN = _DOCUMENT_TEXT.split(" Председатель")[0] + (
    " The chairman reminded everyone that the report is due at the end of the month and asked "
    "for comments in advance. The meeting closed at half past six."
)
_DOCUMENTS: tuple[dict[str, Any], ...] = (
    {"font": "dejavu_serif", "size": 22, "size_px": (850, 1100)},
    {"font": "aileron", "size": 26, "size_px": (800, 1000)},
    {"font": "dejavu_mono", "size": 18, "size_px": (700, 900)},
    {"font": "dejavu_sans_bold", "size": 30, "size_px": (900, 700)},
)
_SCREENSHOTS: tuple[dict[str, Any], ...] = (
    {"font": "aileron", "size": 18, "size_px": (1280, 800), "theme": "light"},
    {"font": "dejavu_mono", "size": 16, "size_px": (1024, 768), "theme": "dark"},
    {"font": "dejavu_sans_condensed_oblique", "size": 20, "size_px": (1366, 768), "theme": "light"},
)
# Strips: a band across the middle of a wide photo (file, long side / short side); wide enough
# that the band is not also too small.
_STRIPS: tuple[tuple[str, float], ...] = (
    ("motorcycle_left.png", 2.8),
    ("hubble_deep_field.jpg", 3.0),
    ("retina.jpg", 3.5),
)
_BROKEN: tuple[tuple[str, str], ...] = (
    ("truncated", "jpg"),
    ("truncated_png", "png"),
    ("empty", "jpg"),
    ("not_image", "jpg"),
    ("garbage", "png"),
)
_NOT_AN_IMAGE = (
    b"<!DOCTYPE html>\n<html><head><title>403 Forbidden</title></head>\n"
    b"<body><h1>Forbidden</h1><p>Hotlinking is not allowed.</p></body></html>\n"
)

# --- labels ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CorpusFile:
    """One file of the corpus, as a row of ``labels.csv``."""

    path: str  # relative to the corpus root, posix separators (as craft images score reports)
    group: str  # near-duplicate group id ("" for singles and broken files)
    role: str  # one of ROLES
    kind: str  # the degradation: original, crop, blur, watermark_tiled, flat, truncated, ...
    expected: tuple[str, ...]  # expected reasons, in vocabulary order ("" in the file: none)
    source: str  # the photo it was made from ("" for generated files)
    params: dict[str, Any] = field(default_factory=dict)  # planting parameters


LABEL_COLUMNS: tuple[str, ...] = ("path", "group", "role", "kind", "expected", "source", "params")


@dataclass(frozen=True)
class Corpus:
    """The labels of a built corpus, with the folder they describe."""

    root: Path
    files: tuple[CorpusFile, ...]

    def __iter__(self) -> Iterator[CorpusFile]:
        return iter(self.files)

    def __len__(self) -> int:
        return len(self.files)

    def by_path(self) -> dict[str, CorpusFile]:
        return {f.path: f for f in self.files}

    def groups(self) -> dict[str, list[CorpusFile]]:
        """Group id -> its members, the original first."""
        out: dict[str, list[CorpusFile]] = {}
        for f in self.files:
            if f.group:
                out.setdefault(f.group, []).append(f)
        for members in out.values():
            members.sort(key=lambda f: f.role != "original")
        return out


def _ordered(reasons: Sequence[str]) -> tuple[str, ...]:
    unknown = set(reasons) - set(REASONS)
    if unknown:
        raise ValueError(f"unknown reason(s) {sorted(unknown)} in the corpus labels")
    return tuple(r for r in REASONS if r in set(reasons))


def write_labels(path: Path, files: Sequence[CorpusFile]) -> None:
    with Path(path).open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(LABEL_COLUMNS)
        for f in files:
            params = json.dumps(f.params, sort_keys=True, ensure_ascii=False)
            row = (f.path, f.group, f.role, f.kind, ";".join(f.expected), f.source, params)
            writer.writerow(row)


def read_labels(root: Path) -> Corpus:
    """The labels of a corpus built earlier under ``root``."""
    root = Path(root)
    with (root / LABELS_FILE).open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    files = tuple(
        CorpusFile(
            path=r["path"],
            group=r["group"],
            role=r["role"],
            kind=r["kind"],
            expected=_ordered([x for x in r["expected"].split(";") if x]),
            source=r["source"],
            params=json.loads(r["params"]),
        )
        for r in rows
    )
    return Corpus(root, files)


# --- the builder -------------------------------------------------------------------------------


def build_corpus(out_dir: Path, *, seed: int = 0, size: str = "full") -> Corpus:
    """Write the corpus under ``out_dir`` (created) with ``labels.csv``; return its labels.

    ``size="small"``: four groups and a few singles (~70 files, a few seconds), for tests;
    ``"full"``: every photo of ``PHOTOS`` (~350 files). The same seed gives byte-identical
    files on a machine with the same Pillow and fonts.
    """
    if size not in SIZES:
        raise ValueError(f"size must be one of {SIZES}, not {size!r}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    builder = _Builder(out_dir, random.Random(seed), np.random.default_rng(seed), size)
    files = builder.build()
    write_labels(out_dir / LABELS_FILE, files)
    return Corpus(out_dir, tuple(files))


def _load_photo(photo: Photo) -> Image.Image:
    folder = resources.files("skimage").joinpath("data")
    data = folder.joinpath(photo.file).read_bytes()
    image = Image.open(io.BytesIO(data))
    image.load()
    image = image.convert("RGB")
    if photo.box is not None:
        image = image.crop(photo.box)
    return image


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG", compress_level=6)
    return buffer.getvalue()


def _jpeg(image: Image.Image, quality: int) -> bytes:
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, "JPEG", quality=quality, optimize=False)
    return buffer.getvalue()


class _Builder:
    def __init__(
        self, root: Path, rng: random.Random, nrng: np.random.Generator, size: str
    ) -> None:
        self.root, self.rng, self.nrng, self.size = root, rng, nrng, size
        self.files: list[CorpusFile] = []

    def _write(
        self,
        relative: str,
        data: bytes,
        *,
        group: str,
        role: str,
        kind: str,
        reasons: Sequence[str],
        source: str,
        params: dict[str, Any],
        image: Image.Image | None = None,
    ) -> None:
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        reasons = list(reasons)
        if image is not None:
            params = {**params, "width": image.width, "height": image.height}
            if min(image.size) < MIN_SHORT_SIDE:
                reasons.append("too_small")
        self.files.append(
            CorpusFile(relative, group, role, kind, _ordered(reasons), source, params)
        )

    def build(self) -> list[CorpusFile]:
        small = self.size == "small"
        photos = [p for p in PHOTOS if not small or p.name in SMALL_PHOTOS]
        for index, photo in enumerate(photos):
            self._group(index, photo, small)
        self._singles(photos, small)
        self._broken(photos[0])
        return sorted(self.files, key=lambda f: f.path)

    # groups

    def _group(self, index: int, photo: Photo, small: bool) -> None:
        group = f"g{index:02d}_{photo.name}"
        source = f"skimage/data/{photo.file}" + (f"#{photo.box}" if photo.box else "")
        original = _load_photo(photo)
        common = {"group": group, "source": source}
        self._write(
            f"{group}/original.png",
            _png(original),
            role="original",
            kind="original",
            reasons=(),
            params={},
            image=original,
            **common,
        )
        counters: dict[str, int] = {}
        for spec_index, spec in enumerate(COPY_KINDS):
            if small and not spec.small:
                continue
            if spec.kind == "bright" and photo.dark:
                continue
            params = dict(spec.params)
            for name, (low, high) in spec.ranges.items():
                value = self.rng.uniform(low, high)
                params[name] = round(value) if name == "quality" else round(value, 3)
            # Fonts and texts cycle with the group and the spec so every font is used.
            turn = index + spec_index
            if spec.kind.startswith("watermark") or spec.kind == "caption":
                params["font"] = list(FONTS)[turn % len(FONTS)]
            if spec.kind == "watermark_tiled":
                params["text"] = WATERMARK_TEXTS[turn % len(WATERMARK_TEXTS)]
            elif spec.kind == "watermark_corner":
                params["text"] = CORNER_TEXTS[turn % len(CORNER_TEXTS)]
                params["corner"] = ("br", "bl", "tr", "tl")[index % 4]
            elif spec.kind == "caption":
                params["text"] = CAPTIONS[turn % len(CAPTIONS)]
            image, data, ext, params = self._derive(original, spec.kind, params)
            n = counters[spec.kind] = counters.get(spec.kind, 0) + 1
            self._write(
                f"{group}/{spec.kind}_{n}.{ext}",
                data,
                role="copy",
                kind=spec.kind,
                reasons=(*spec.reasons, "duplicate"),
                params=params,
                image=image,
                **common,
            )

    def _derive(
        self, original: Image.Image, kind: str, params: dict[str, Any]
    ) -> tuple[Image.Image, bytes, str, dict[str, Any]]:
        w, h = original.size
        if kind == "crop":
            keep = params["keep"]
            cw, ch = round(w * keep), round(h * keep)
            left = self.rng.randint(0, w - cw)
            top = self.rng.randint(0, h - ch)
            params["box"] = [left, top, left + cw, top + ch]
            image = original.crop((left, top, left + cw, top + ch))
            return image, _png(image), "png", params
        if kind in ("downscale", "tiny"):
            scale = params.get("scale") or params["short_side"] / min(w, h)
            size = (max(1, round(w * scale)), max(1, round(h * scale)))
            image = original.resize(size, Image.Resampling.LANCZOS)
            return image, _png(image), "png", params
        if kind == "jpeg":
            data = _jpeg(original, params["quality"])
            return original, data, "jpg", params
        if kind == "blur":
            image = original.filter(ImageFilter.GaussianBlur(params["radius"]))
            return image, _png(image), "png", params
        if kind in ("dark", "bright"):
            array = np.asarray(original, dtype=np.float32) * params["gain"]
            image = Image.fromarray(np.clip(array + 0.5, 0, 255).astype(np.uint8), "RGB")
            return image, _png(image), "png", params
        if kind == "watermark_tiled":
            image = _tiled_watermark(original, params)
        elif kind == "watermark_corner":
            image = _corner_logo(original, params)
        elif kind == "caption":
            image = _caption(original, params)
        else:  # pragma: no cover - COPY_KINDS and _derive are written together
            raise ValueError(f"no derivation for kind {kind!r}")
        # Overlays are saved as a good JPEG, as they are found online.
        return image, _jpeg(image, 90), "jpg", params

    # singles and broken files

    def _singles(self, photos: Sequence[Photo], small: bool) -> None:
        flats = _FLAT[:3] if small else _FLAT
        for n, spec in enumerate(flats, 1):
            image = self._flat(spec)
            self._single(f"flat_{n}.png", "flat", ("low_information",), spec, image)
        documents = _DOCUMENTS[:2] if small else _DOCUMENTS
        for n, spec in enumerate(documents, 1):
            image = _document(spec)
            self._single(f"document_{n}.png", "document", ("text",), spec, image)
        screenshots = _SCREENSHOTS[:1] if small else _SCREENSHOTS
        for n, spec in enumerate(screenshots, 1):
            image = _screenshot(spec)
            self._single(f"screenshot_{n}.png", "screenshot", ("text",), spec, image)
        # Strips are too different from the whole photo to be its near-duplicate, and the labels
        # do not claim they are.
        for n, (file, aspect) in enumerate(_STRIPS[:1] if small else _STRIPS, 1):
            original = _load_photo(Photo(file, file))
            height = round(original.width / aspect)
            top = (original.height - height) // 2
            image = original.crop((0, top, original.width, top + height))
            spec = {"aspect": aspect, "source": f"skimage/data/{file}"}
            self._single(f"strip_{n}.png", "strip", ("bad_aspect",), spec, image)

    def _single(
        self,
        name: str,
        kind: str,
        reasons: Sequence[str],
        params: dict[str, Any],
        image: Image.Image,
    ) -> None:
        params = {k: list(v) if isinstance(v, tuple) else v for k, v in params.items()}
        self._write(
            f"singles/{name}",
            _png(image),
            group="",
            role="single",
            kind=kind,
            reasons=reasons,
            source="",
            params=params,
            image=image,
        )

    def _flat(self, spec: dict[str, Any]) -> Image.Image:
        w, h = 640, 480
        if spec["style"] == "solid":
            return Image.new("RGB", (w, h), tuple(spec["colour"]))
        if spec["style"] == "gradient":
            t = np.linspace(0.0, 1.0, h, dtype=np.float32)[:, None, None]
            a = np.array(spec["from"], dtype=np.float32)
            b = np.array(spec["to"], dtype=np.float32)
            array = np.broadcast_to(a + (b - a) * t, (h, w, 3))
            return Image.fromarray((array + 0.5).astype(np.uint8), "RGB")
        base = np.array(spec["colour"], dtype=np.float32)
        noise = self.nrng.normal(0.0, spec["sigma"], (h, w, 1)).astype(np.float32)
        array = np.clip(base + noise + 0.5, 0, 255).astype(np.uint8)
        return Image.fromarray(array, "RGB")

    def _broken(self, photo: Photo) -> None:
        image = _load_photo(photo)
        for kind, ext in _BROKEN:
            if kind == "truncated":
                full = _jpeg(image, 85)
                data = full[: len(full) * 2 // 5]
            elif kind == "truncated_png":
                full = _png(image)
                data = full[: len(full) // 3]
            elif kind == "empty":
                data = b""
            elif kind == "not_image":
                data = _NOT_AN_IMAGE
            else:
                data = self.nrng.integers(0, 256, 4096, dtype=np.uint8).tobytes()
            self._write(
                f"broken/{kind}.{ext}",
                data,
                group="",
                role="broken",
                kind=kind,
                reasons=(),
                source=f"skimage/data/{photo.file}" if kind.startswith("truncated") else "",
                params={"bytes": len(data)},
            )


# --- overlays ----------------------------------------------------------------------------------


def _text_layer(
    size: tuple[int, int], text: str, font: ImageFont.FreeTypeFont, *, stroke: int = 0
) -> tuple[Image.Image, tuple[int, int, int, int]]:
    """A mask ("L") of ``text`` drawn at the origin of a transparent canvas, and its box."""
    mask = Image.new("L", size, 0)
    draw = ImageDraw.Draw(mask)
    box = draw.textbbox((0, 0), text, font=font, stroke_width=stroke)
    return mask, (int(box[0]), int(box[1]), int(box[2]), int(box[3]))


def _tiled_watermark(image: Image.Image, params: dict[str, Any]) -> Image.Image:
    """Semi-transparent text repeated over the whole image, rotated by ``angle``."""
    w, h = image.size
    font, params["font"] = _font(params["font"], max(12, round(params["size"] * min(w, h) * 1.5)))
    params["text"] = _drawable(params["text"], params["font"], WATERMARK_TEXTS[0])
    side = math.ceil(math.hypot(w, h))
    mask, (left, top, right, bottom) = _text_layer((side, side), params["text"], font)
    draw = ImageDraw.Draw(mask)
    step_x, step_y = (right - left) + max(20, w // 12), (bottom - top) * 3
    for row, y in enumerate(range(-top, side, step_y)):
        for x in range(-(row % 2) * step_x // 2, side, step_x):
            draw.text((x, y), params["text"], font=font, fill=255)
    mask = mask.rotate(params["angle"], resample=Image.Resampling.BILINEAR)
    offset_x, offset_y = (side - w) // 2, (side - h) // 2
    mask = mask.crop((offset_x, offset_y, offset_x + w, offset_y + h))
    alpha = mask.point(lambda v: round(v * params["opacity"]))
    white = Image.new("RGB", (w, h), (255, 255, 255))
    return Image.composite(white, image, alpha)


def _corner_logo(image: Image.Image, params: dict[str, Any]) -> Image.Image:
    """A rounded box with agency text in one corner, blended at ``opacity``."""
    w, h = image.size
    font, params["font"] = _font(params["font"], max(12, round(min(w, h) * 0.05)))
    params["text"] = _drawable(params["text"], params["font"], CORNER_TEXTS[0])
    _, (left, top, right, bottom) = _text_layer((1, 1), params["text"], font)
    pad = max(6, (bottom - top) // 2)
    box_w, box_h = right - left + 2 * pad, bottom - top + 2 * pad
    margin = max(8, min(w, h) // 40)
    x = margin if params["corner"] in ("bl", "tl") else w - box_w - margin
    y = margin if params["corner"] in ("tl", "tr") else h - box_h - margin
    overlay = image.convert("RGBA")
    layer = Image.new("RGBA", (w, h), (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    alpha = round(255 * params["opacity"])
    draw.rounded_rectangle((x, y, x + box_w, y + box_h), radius=pad, fill=(20, 20, 20, alpha // 2))
    draw.text(
        (x + pad - left, y + pad - top), params["text"], font=font, fill=(255, 255, 255, alpha)
    )
    return Image.alpha_composite(overlay, layer).convert("RGB")


def _caption(image: Image.Image, params: dict[str, Any]) -> Image.Image:
    """A meme-style caption: white text with a black outline across the bottom."""
    w, h = image.size
    size = max(12, round(params["size"] * min(w, h)))
    font, params["font"] = _font(params["font"], size)
    text = params["text"] = _drawable(params["text"], params["font"], CAPTIONS[0])
    draw = ImageDraw.Draw(image := image.copy())
    stroke = max(1, size // 12)
    while size > 12:
        left, top, right, bottom = draw.textbbox((0, 0), text, font=font, stroke_width=stroke)
        if right - left <= w * 0.94:
            break
        size = round(size * 0.9)
        font, params["font"] = _font(params["font"], size)
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font, stroke_width=stroke)
    x = (w - (right - left)) // 2 - left
    y = h - (bottom - top) - max(6, h // 25) - top
    draw.text((x, y), text, font=font, fill="white", stroke_width=stroke, stroke_fill="black")
    params["size_px"] = size
    return image


def _wrap(text: str, font: ImageFont.FreeTypeFont, width: int) -> list[str]:
    lines, line = [], ""
    for word in text.split():
        trial = f"{line} {word}".strip()
        if font.getlength(trial) <= width or not line:
            line = trial
        else:
            lines.append(line)
            line = word
    return [*lines, line] if line else lines


def _document(spec: dict[str, Any]) -> Image.Image:
    """A scanned page: off-white paper (a scan is rarely pure white), a title, paragraphs."""
    w, h = spec["size_px"]
    image = Image.new("RGB", (w, h), (236, 232, 220))
    draw = ImageDraw.Draw(image)
    font, spec["font"] = _font(spec["font"], spec["size"])
    title, _ = _font(spec["font"], round(spec["size"] * 1.5))
    margin = w // 10
    y = margin
    draw.text((margin, y), "Minutes of the meeting", font=title, fill=(30, 30, 30))
    y += round(spec["size"] * 2.6)
    line_height = round(spec["size"] * 1.45)
    text = _drawable(_DOCUMENT_TEXT, spec["font"], _DOCUMENT_TEXT_LATIN)
    while y < h - margin - line_height:
        for line in _wrap(text, font, w - 2 * margin):
            if y >= h - margin - line_height:
                break
            draw.text((margin, y), line, font=font, fill=(35, 35, 40))
            y += line_height
        y += line_height
    return image


def _screenshot(spec: dict[str, Any]) -> Image.Image:
    """An application window: title bar, menu, sidebar of items and a body of text."""
    w, h = spec["size_px"]
    dark = spec["theme"] == "dark"
    bg, fg, panel = (
        ((30, 32, 36), (220, 220, 220), (45, 48, 54))
        if dark
        else (
            (250, 250, 250),
            (30, 30, 30),
            (228, 230, 235),
        )
    )
    image = Image.new("RGB", (w, h), bg)
    draw = ImageDraw.Draw(image)
    font, spec["font"] = _font(spec["font"], spec["size"])
    size = spec["size"]
    draw.rectangle((0, 0, w, size * 2), fill=(60, 90, 150))
    draw.text((size, size // 2), "Inbox - Mail - Settings", font=font, fill=(255, 255, 255))
    menu = "File   Edit   View   History   Bookmarks   Tools   Help"
    draw.text((size, round(size * 2.4)), menu, font=font, fill=fg)
    sidebar = w // 4
    draw.rectangle((0, size * 4, sidebar, h), fill=panel)
    items = ("Inbox (12)", "Drafts", "Sent", "Archive", "Spam", "Trash", "Projects", "Travel")
    y = size * 5
    for item in items * 3:
        if y > h - size * 2:
            break
        draw.text((size, y), item, font=font, fill=fg)
        y += round(size * 1.8)
    y = size * 5
    text = _drawable(_DOCUMENT_TEXT, spec["font"], _DOCUMENT_TEXT_LATIN)
    while y < h - size * 2:
        for line in _wrap(text, font, w - sidebar - 3 * size):
            if y >= h - size * 2:
                break
            draw.text((sidebar + size, y), line, font=font, fill=fg)
            y += round(size * 1.5)
        y += size
    return image


# --- evaluation --------------------------------------------------------------------------------

MEASURED_REASONS: tuple[str, ...] = (
    "too_small",
    "bad_aspect",
    "blurry",
    "underexposed",
    "overexposed",
    "low_information",
    "text",
    "watermark",
    "duplicate",
)
CLEAN_PHOTO_KINDS = frozenset({"original", "crop", "downscale", "jpeg"})
"""Photos with nothing planted on them: the base of the text and watermark false-flag rates."""


@dataclass(frozen=True)
class ReasonFigures:
    reason: str
    expected: int  # files labelled with the reason
    tp: int
    fp: int
    fn: int
    caught: int  # labelled files that were not kept, whatever the reason

    @property
    def precision(self) -> float | None:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else None

    @property
    def recall(self) -> float | None:
        return self.tp / self.expected if self.expected else None


@dataclass(frozen=True)
class Evaluation:
    """How one scorer's answers on the corpus compare with its labels."""

    reasons: dict[str, ReasonFigures]
    groups: int
    original_kept: int  # groups whose original was not marked duplicate
    broken: int
    broken_with_reason: int  # broken files with a row, status error and an error text
    clean_photos: int
    clean_flagged: dict[str, int]  # text / watermark -> clean photos flagged with it
    missing: tuple[str, ...]  # labelled files without a row

    @property
    def original_kept_share(self) -> float | None:
        return self.original_kept / self.groups if self.groups else None

    def clean_flag_rate(self, reason: str) -> float | None:
        return self.clean_flagged[reason] / self.clean_photos if self.clean_photos else None


def evaluate(corpus: Corpus, rows: dict[str, dict[str, Any]]) -> Evaluation:
    """Compare score rows (path -> row with ``reasons``, ``decision``, ``status``, ``error``).

    A row's ``reasons`` is a ``;``-joined string or a sequence. Broken files count only for
    ``broken_with_reason``; every other labelled file counts for each reason of
    ``MEASURED_REASONS``. ``caught`` counts labelled files whose decision is not ``keep`` (a
    document rejected as low-information before OCR ran is caught without the ``text`` reason).
    """

    def reasons_of(row: dict[str, Any]) -> set[str]:
        value = row.get("reasons") or ()
        return {r for r in (value.split(";") if isinstance(value, str) else value) if r}

    missing = tuple(f.path for f in corpus if f.path not in rows)
    scored = [f for f in corpus if f.role != "broken" and f.path in rows]
    figures = {}
    for reason in MEASURED_REASONS:
        tp = fp = fn = caught = 0
        for f in scored:
            row = rows[f.path]
            predicted = reason in reasons_of(row)
            if reason in f.expected:
                tp += predicted
                fn += not predicted
                caught += row.get("decision") != "keep"
            else:
                fp += predicted
        expected = sum(reason in f.expected for f in corpus if f.role != "broken")
        figures[reason] = ReasonFigures(reason, expected, tp, fp, fn, caught)
    groups = corpus.groups()
    kept = sum(
        1
        for members in groups.values()
        if members[0].path in rows and "duplicate" not in reasons_of(rows[members[0].path])
    )
    broken = [f for f in corpus if f.role == "broken"]
    with_reason = sum(
        1
        for f in broken
        if f.path in rows and rows[f.path].get("status") == "error" and rows[f.path].get("error")
    )
    clean = [f for f in scored if f.kind in CLEAN_PHOTO_KINDS]
    flagged = {r: sum(r in reasons_of(rows[f.path]) for f in clean) for r in ("text", "watermark")}
    return Evaluation(
        figures, len(groups), kept, len(broken), with_reason, len(clean), flagged, missing
    )
