"""Curation thresholds: what each automatic rule rejects, per pack and per category.

Filtering and de-duplication are cultural decisions (seed 002: they erase culturally specific
associations when they are made blindly), so every threshold is a named, documented number
that lives in the culture pack's ``curation.yaml``, can differ per category (old cartoon
frames are soft and small; the paper kept such entities and processed them separately), and
can be overridden for one run. ``effective`` returns the numbers in force together with where
each one came from, and the materialization metadata shows that table.

``curation.yaml`` (optional; every key optional)::

    thresholds:               # the pack's defaults, over the built-in ones below
      min_short_side: 256
    review_reasons: [text, not_relevant]   # reasons that send an image to a person, not out
    min_images_per_entity: 3  # fewer left after filtering is a coverage gap (a warning)
    categories:
      cartoons:               # per-category overrides, over the pack's defaults
        min_blur: 8
        min_short_side: 192
"""

import hashlib
import json
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

REASONS: tuple[str, ...] = (
    "too_small",
    "bad_aspect",
    "blurry",
    "underexposed",
    "overexposed",
    "low_information",
    "text",
    "watermark",
    "duplicate",
    "not_relevant",
    "nsfw",
)
"""The fixed vocabulary of automatic reasons, in the order the funnel applies them: cheap
CPU rules first, then near-duplicates, then OCR, then models (which only see survivors)."""

CPU_REASONS = frozenset(REASONS[:6])

Reason = Literal[REASONS]  # the same names, for pydantic to validate a curation.yaml


class Thresholds(BaseModel):
    """The numbers every automatic rule compares against. ``None`` switches a rule off.

    Defaults are calibrated on the demo's sample set (real photos, 512-768 px, with planted
    problems) and are deliberately lenient: an automatic rule should remove what nobody would
    keep, and leave the judgement calls to people.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    min_short_side: int | None = Field(
        256, ge=1, description="too_small: the shorter side, in pixels, must be at least this."
    )
    max_aspect: float | None = Field(
        2.5, ge=1.0, description="bad_aspect: long side / short side at most this."
    )
    min_blur: float | None = Field(
        20.0,
        ge=0.0,
        description="blurry: variance of the Laplacian (512 px greyscale, grey levels squared) "
        "at least this. Clean photos of the sample set score 35-3700; a Gaussian blur of "
        "radius 8 scores about 1.",
    )
    min_mean_luminance: float | None = Field(
        0.06, ge=0.0, le=1.0, description="underexposed: mean grey level (0-1) at least this."
    )
    max_dark_fraction: float | None = Field(
        0.6, ge=0.0, le=1.0, description="underexposed: share of near-black pixels at most this."
    )
    min_highlight: float | None = Field(
        0.32,
        ge=0.0,
        le=1.0,
        description="underexposed: the grey level (0-1) the brightest 1 % of pixels reach, at "
        "least this. A night or space photo keeps bright parts; an image darkened as a whole "
        "has none. 0.32 is cleanvision's default for its dark score (the same percentile).",
    )
    max_mean_luminance: float | None = Field(
        0.8, ge=0.0, le=1.0, description="overexposed: mean grey level (0-1) at most this."
    )
    max_bright_fraction: float | None = Field(
        0.25,
        ge=0.0,
        le=1.0,
        description="overexposed: share of near-white pixels at most this: a quarter of the "
        "frame blown to white is lost detail in any photo (a studio shot on white is then "
        "flagged too: raise it for a category of product photos).",
    )
    min_entropy: float | None = Field(
        2.5, ge=0.0, le=8.0, description="low_information: grey-level entropy (bits) at least this."
    )
    min_contrast: float | None = Field(
        0.02,
        ge=0.0,
        le=1.0,
        description="low_information: grey-level deviation at least this (0.02: about 5 of 255 "
        "levels, a plain surface or a faint gradient).",
    )
    max_text_words: int | None = Field(
        1,
        ge=0,
        description="text: OCR words found at most this (the paper skips images with text).",
    )
    max_text_area: float | None = Field(
        0.05, ge=0.0, le=1.0, description="text: share of the image covered by OCR word boxes."
    )
    max_watermark_score: float | None = Field(
        0.5, ge=0.0, le=1.0, description="watermark: classifier probability at most this."
    )
    max_tiled_overlay: float | None = Field(
        5.0,
        ge=0.0,
        description="watermark: score of the periodic tiled-overlay detector (watermark.py) at "
        "most this; a tiled stock watermark repeats with a fixed period, a photo does not.",
    )
    duplicate_radius: int | None = Field(
        8,
        ge=0,
        le=32,
        description="duplicate: perceptual hashes (dHash and pHash) within this many bits of "
        "each other make a near-duplicate group; the best member is kept (keeper.py).",
    )
    min_relevance: float | None = Field(
        None,
        description="not_relevant: image-text similarity to the entity at least this. Off by "
        "default: the scale depends on the scorer (set it with the scorer you use).",
    )
    max_nsfw: float | None = Field(
        0.5, ge=0.0, le=1.0, description="nsfw: classifier probability at most this."
    )


THRESHOLD_NAMES: tuple[str, ...] = tuple(Thresholds.model_fields)


class CurationPolicy(BaseModel):
    """A pack's ``curation.yaml``: its defaults, which reasons go to review, per-category overrides.

    Only the thresholds a file names are taken from it (``model_fields_set``), so a category's
    override of one number leaves every other number to the pack and the built-in defaults.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    thresholds: Thresholds = Field(default_factory=Thresholds)
    review_reasons: tuple[Reason, ...] = ("text", "not_relevant")
    min_images_per_entity: int = Field(
        3,
        ge=0,
        description="filtered_images warns about entities left with fewer images than this.",
    )
    categories: dict[str, Thresholds] = Field(default_factory=dict)


def _named(thresholds: Thresholds) -> dict[str, Any]:
    return {name: getattr(thresholds, name) for name in thresholds.model_fields_set}


class EffectiveThresholds(BaseModel):
    """The thresholds in force for one category, and where each value came from."""

    model_config = ConfigDict(frozen=True)

    category: str
    values: Thresholds
    origin: dict[str, str]  # threshold name -> "default" | "pack" | "category" | "run"
    review_reasons: tuple[str, ...]

    def fingerprint(self) -> str:
        """A short hash of the numbers and the review reasons (not of where they came from)."""
        payload = {
            "values": self.values.model_dump(mode="json"),
            "review": sorted(self.review_reasons),
        }
        blob = json.dumps(payload, sort_keys=True).encode("utf-8")
        return hashlib.sha256(blob).hexdigest()[:16]

    def rows(self) -> list[tuple[str, str, str]]:
        """(threshold, value, origin) rows for a metadata table; switched-off rules say so."""
        return [
            (name, "off" if value is None else str(value), self.origin[name])
            for name, value in self.values.model_dump().items()
        ]


def effective(
    policy: CurationPolicy, category: str, run_overrides: Mapping[str, Any] | None = None
) -> EffectiveThresholds:
    """Built-in defaults, then the pack's, then the category's, then this run's overrides."""
    values: dict[str, Any] = {}
    origin = dict.fromkeys(THRESHOLD_NAMES, "default")
    for layer, name in (
        (_named(policy.thresholds), "pack"),
        (_named(policy.categories.get(category, Thresholds())), "category"),
        (dict(run_overrides or {}), "run"),
    ):
        unknown = set(layer) - set(THRESHOLD_NAMES)
        if unknown:
            raise ValueError(
                f"unknown curation threshold(s) {sorted(unknown)} in the {name} settings for "
                f"{category!r}; known: {', '.join(THRESHOLD_NAMES)}"
            )
        values.update(layer)
        origin.update(dict.fromkeys(layer, name))
    return EffectiveThresholds(
        category=category,
        values=Thresholds(**values),
        origin=origin,
        review_reasons=tuple(policy.review_reasons),
    )
