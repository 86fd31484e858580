"""What the calibration corpus plants: the kinds of copy and of single, as data.

Split out of ``calibration.py``, which draws the per-group values from these ranges and writes
the files. The degradation strengths are data (``COPY_KINDS``, ``FLATS``, ...), chosen so that
a curator would agree the copy is degraded: JPEG at quality 20-40 rather than 95, blur of
several pixels rather than one, exposure off by about two stops.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


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
FLATS: tuple[dict[str, Any], ...] = (
    {"style": "solid", "colour": (128, 128, 128)},
    {"style": "solid", "colour": (40, 90, 160)},
    {"style": "gradient", "from": (200, 210, 230), "to": (185, 195, 220)},
    {"style": "gradient", "from": (120, 60, 40), "to": (105, 55, 40)},
    {"style": "noise", "colour": (90, 140, 90), "sigma": 1.5},
    {"style": "noise", "colour": (220, 200, 150), "sigma": 1.0},
)
DOCUMENTS: tuple[dict[str, Any], ...] = (
    {"font": "dejavu_serif", "size": 22, "size_px": (850, 1100)},
    {"font": "aileron", "size": 26, "size_px": (800, 1000)},
    {"font": "dejavu_mono", "size": 18, "size_px": (700, 900)},
    {"font": "dejavu_sans_bold", "size": 30, "size_px": (900, 700)},
)
SCREENSHOTS: tuple[dict[str, Any], ...] = (
    {"font": "aileron", "size": 18, "size_px": (1280, 800), "theme": "light"},
    {"font": "dejavu_mono", "size": 16, "size_px": (1024, 768), "theme": "dark"},
    {"font": "dejavu_sans_condensed_oblique", "size": 20, "size_px": (1366, 768), "theme": "light"},
)
# Strips: a band across the middle of a wide photo (file, long side / short side); wide enough
# that the band is not also too small.
STRIPS: tuple[tuple[str, float], ...] = (
    ("motorcycle_left.png", 2.8),
    ("hubble_deep_field.jpg", 3.0),
    ("retina.jpg", 3.5),
)
BROKEN: tuple[tuple[str, str], ...] = (
    ("truncated", "jpg"),
    ("truncated_png", "png"),
    ("empty", "jpg"),
    ("not_image", "jpg"),
    ("garbage", "png"),
)
NOT_AN_IMAGE = (
    b"<!DOCTYPE html>\n<html><head><title>403 Forbidden</title></head>\n"
    b"<body><h1>Forbidden</h1><p>Hotlinking is not allowed.</p></body></html>\n"
)
