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

from collections.abc import Mapping, Sequence
from pathlib import Path

from craft_dag.collection.sample_builder import Builder
from craft_dag.collection.sample_manifest import (
    GENERATED,
    MANIFEST,
    MANIFEST_COLUMNS,
    MIN_SHORT_SIDE,
    PLANTED,
    SAMPLE_SET_VERSION,
    VERSION_FILE,
    SampleImage,
    atomic_write,
    complete_manifest,
    read_manifest,
    read_rows_or_empty,
    write_manifest,
)
from craft_dag.collection.sample_plan import choose

__all__ = [
    "GENERATED",
    "MANIFEST",
    "MANIFEST_COLUMNS",
    "MIN_SHORT_SIDE",
    "PLANTED",
    "SAMPLE_SET_VERSION",
    "VERSION_FILE",
    "SampleImage",
    "build_sample_set",
    "read_manifest",
]


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
    chosen = choose(entities, per_category)
    if not chosen:
        raise ValueError("no entities to build a sample set for")
    dest = Path(dest)

    existing = complete_manifest(dest)
    if existing is not None and {(r.category, r.entity_id) for r in existing} == set(chosen):
        return existing

    dest.mkdir(parents=True, exist_ok=True)
    # From here on the folder is not a finished set, until VERSION is written again.
    (dest / VERSION_FILE).unlink(missing_ok=True)
    old_paths = {r.path for r in read_rows_or_empty(dest)}

    rows = Builder(dest, chosen, seed).build()

    for stale in sorted(old_paths - {r.path for r in rows}):
        (dest / stale).unlink(missing_ok=True)
    write_manifest(dest, rows)
    atomic_write(dest / VERSION_FILE, f"{SAMPLE_SET_VERSION}\n".encode())
    return rows
