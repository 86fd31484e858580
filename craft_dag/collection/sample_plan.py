"""What the sample set is made of: the photos, and which entity carries which planted kind.

The photos are the ones scikit-image bundles inside its wheel; the plan spreads every kind of
``PLANTED`` over the categories first, then over the entities, from a seeded ``random.Random``.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from craft_dag.collection.sample_manifest import PLANTED


@dataclass(frozen=True)
class Photo:
    file: str  # name inside skimage/data
    licence: str
    author: str
    grey: bool


# Only files that ship inside the scikit-image wheel (never the ones it fetches with pooch), and
# only photographs whose licence its docstrings state. Left out on purpose: horse (clip art),
# color, page, text, logo, phantom, chessboards (drawings or scans), moon and the motorcycle
# stereo pair (no licence stated), clock_motion (motion-blurred on purpose), microscopy images.
PHOTOS: tuple[Photo, ...] = (
    Photo("astronaut.png", "Public domain (NASA)", "NASA (portrait of Eileen Collins)", False),
    Photo("chelsea.png", "CC0-1.0", "Stefan van der Walt", False),
    Photo("coffee.png", "CC0-1.0", "Rachel Michetti (courtesy of Pikolo Espresso Bar)", False),
    Photo("rocket.jpg", "Public domain (SpaceX)", "SpaceX", False),
    Photo("hubble_deep_field.jpg", "Public domain (NASA)", "NASA, ESA (HubbleSite)", False),
    Photo("retina.jpg", "CC0-1.0", "Mikael Häggström", False),
    Photo("camera.png", "CC0-1.0", "Lav Varshney", True),
    Photo("coins.png", "No known copyright restrictions", "Brooklyn Museum", True),
    Photo("brick.png", "CC0-1.0", "CC0Textures (Bricks25)", True),
    Photo("grass.png", "CC0-1.0", "linolafett (DeviantArt)", True),
    Photo("gravel.png", "CC0-1.0", "CC0Textures (Gravel04)", True),
)

# The kinds that make a new file from a photo (all but "none"), plus a second duplicate whose
# original belongs to another entity.
CROSS_DUPLICATE = "duplicate_other_entity"
PLANTED_JOBS: tuple[str, ...] = (*PLANTED[1:], CROSS_DUPLICATE)

EXTENSIONS = {
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
COLOUR_KINDS = frozenset({"watermark", "cmyk", "palette_alpha", "animated", "webp"})

# Mostly dark photos: tripled brightness would still not look overexposed.
DARK_PHOTOS = frozenset({"hubble_deep_field.jpg", "rocket.jpg"})


# --- choosing and planning -------------------------------------------------------------------


def choose(entities: Mapping[str, Sequence[str]], per_category: int) -> list[tuple[str, str]]:
    """(category, entity_id) pairs to build, in category order then entity order."""
    chosen: list[tuple[str, str]] = []
    for category, ids in entities.items():
        check_name(category, "category")
        if isinstance(ids, str):
            raise TypeError(f"entities[{category!r}] must be a sequence of ids, not a string")
        picked = list(dict.fromkeys(ids))[:per_category]
        for entity_id in picked:
            check_name(entity_id, "entity id")
            chosen.append((category, entity_id))
    return chosen


def check_name(name: str, what: str) -> None:
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
class EntityPlan:
    category: str
    entity_id: str
    planted: list[str]
    n_clean: int = 0


def plan_entities(chosen: list[tuple[str, str]], rng: random.Random) -> list[EntityPlan]:
    """Who carries which planted kind: spread over categories first, then entities."""
    plans = {key: EntityPlan(key[0], key[1], []) for key in chosen}
    categories = list(dict.fromkeys(category for category, _ in chosen))
    rng.shuffle(categories)
    by_category: dict[str, list[tuple[str, str]]] = {c: [] for c in categories}
    for key in chosen:
        by_category[key[0]].append(key)
    # First entity of every category (in shuffled category order), then the second ones, ...
    order: list[tuple[str, str]] = []
    for rank in range(max(len(v) for v in by_category.values())):
        order.extend(by_category[c][rank] for c in categories if rank < len(by_category[c]))

    jobs = list(PLANTED_JOBS)
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
