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

Where the parts live: the photos in ``calibration_sources``, what is planted (the kinds of copy
and of single, and their strengths) in ``calibration_plan``, the painters of watermarks,
captions, documents and screenshots in ``calibration_painters``, the labels (``labels.csv``)
in ``calibration_labels`` and the comparison of a scorer's answers with them in
``calibration_evaluation``. This module decides what is planted where and writes the files;
it re-exports the public names of all five.
"""

from __future__ import annotations

import io
import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageFilter

from craft_dag.curation.calibration_evaluation import (
    CLEAN_PHOTO_KINDS,
    MEASURED_REASONS,
    Evaluation,
    ReasonFigures,
    evaluate,
)
from craft_dag.curation.calibration_labels import (
    LABEL_COLUMNS,
    LABELS_FILE,
    ROLES,
    Corpus,
    CorpusFile,
    ordered_reasons,
    read_labels,
    write_labels,
)
from craft_dag.curation.calibration_painters import (
    CAPTIONS,
    CORNER_TEXTS,
    FONTS,
    WATERMARK_TEXTS,
    caption,
    corner_logo,
    document,
    screenshot,
    tiled_watermark,
)
from craft_dag.curation.calibration_plan import (
    BROKEN,
    COPY_KINDS,
    DOCUMENTS,
    FLATS,
    NOT_AN_IMAGE,
    SCREENSHOTS,
    STRIPS,
    CopyKind,
)
from craft_dag.curation.calibration_sources import PHOTOS, SMALL_PHOTOS, Photo, load_photo
from craft_dag.curation.policy import Thresholds

# The public names of this module before it was split: importers keep using them from here.
__all__ = [
    "CAPTIONS",
    "CLEAN_PHOTO_KINDS",
    "COPY_KINDS",
    "CORNER_TEXTS",
    "FONTS",
    "LABELS_FILE",
    "LABEL_COLUMNS",
    "MEASURED_REASONS",
    "MIN_SHORT_SIDE",
    "PHOTOS",
    "ROLES",
    "SIZES",
    "SMALL_PHOTOS",
    "WATERMARK_TEXTS",
    "CopyKind",
    "Corpus",
    "CorpusFile",
    "Evaluation",
    "Photo",
    "ReasonFigures",
    "build_corpus",
    "evaluate",
    "read_labels",
    "write_labels",
]

SIZES: tuple[str, ...] = ("small", "full")
MIN_SHORT_SIDE: int = Thresholds().min_short_side or 256
"""Below this short side a file is expected to be ``too_small`` (the built-in default)."""


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
            CorpusFile(relative, group, role, kind, ordered_reasons(reasons), source, params)
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
        original = load_photo(photo)
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
            image = tiled_watermark(original, params)
        elif kind == "watermark_corner":
            image = corner_logo(original, params)
        elif kind == "caption":
            image = caption(original, params)
        else:  # pragma: no cover - COPY_KINDS and _derive are written together
            raise ValueError(f"no derivation for kind {kind!r}")
        # Overlays are saved as a good JPEG, as they are found online.
        return image, _jpeg(image, 90), "jpg", params

    # singles and broken files

    def _singles(self, photos: Sequence[Photo], small: bool) -> None:
        flats = FLATS[:3] if small else FLATS
        for n, spec in enumerate(flats, 1):
            image = self._flat(spec)
            self._single(f"flat_{n}.png", "flat", ("low_information",), spec, image)
        documents = DOCUMENTS[:2] if small else DOCUMENTS
        for n, spec in enumerate(documents, 1):
            image = document(spec)
            self._single(f"document_{n}.png", "document", ("text",), spec, image)
        screenshots = SCREENSHOTS[:1] if small else SCREENSHOTS
        for n, spec in enumerate(screenshots, 1):
            image = screenshot(spec)
            self._single(f"screenshot_{n}.png", "screenshot", ("text",), spec, image)
        # Strips are too different from the whole photo to be its near-duplicate, and the labels
        # do not claim they are.
        for n, (file, aspect) in enumerate(STRIPS[:1] if small else STRIPS, 1):
            original = load_photo(Photo(file, file))
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
        image = load_photo(photo)
        for kind, ext in BROKEN:
            if kind == "truncated":
                full = _jpeg(image, 85)
                data = full[: len(full) * 2 // 5]
            elif kind == "truncated_png":
                full = _png(image)
                data = full[: len(full) // 3]
            elif kind == "empty":
                data = b""
            elif kind == "not_image":
                data = NOT_AN_IMAGE
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
