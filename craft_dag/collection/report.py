"""What a person needs to see after a collection run: outcomes, coverage, a sample."""

from collections import Counter
from collections.abc import Mapping

import pyarrow as pa

from craft_dag import markdown
from craft_dag.imaging.contact_sheet import contact_sheet, png_markdown
from craft_dag.storage import Storage


def outcomes_markdown(outcomes: Counter) -> str:
    """Candidates per outcome ("ok" first, then failure reasons by count)."""
    total = sum(outcomes.values()) or 1
    ordered = sorted(outcomes.items(), key=lambda kv: (kv[0] != "ok", -kv[1], kv[0]))
    return markdown.table(
        ["outcome", "candidates", "share"],
        ((name, n, f"{100 * n / total:.1f}%") for name, n in ordered),
        right=["candidates", "share"],
    )


def coverage_markdown(coverage: Mapping[str, int], names: Mapping[str, str]) -> str:
    """Images per entity, entities with none first: they need other queries or sources."""
    ordered = sorted(coverage.items(), key=lambda kv: (kv[1], kv[0]))
    return markdown.table(
        ["entity", "name", "images"],
        ((e, names.get(e, ""), f"{n} **none**" if n == 0 else n) for e, n in ordered),
        right=["images"],
    )


def sample_sheet(storage: Storage, images: pa.Table, limit: int = 24) -> str | None:
    """A contact sheet of up to ``limit`` images (one per entity first), as inline markdown."""
    rows = images.select(["image_id", "entity_id"]).to_pylist()
    if not rows:
        return None
    picked, seen = [], set()
    for row in rows:  # one image per entity first, then fill up
        if row["entity_id"] not in seen:
            seen.add(row["entity_id"])
            picked.append(row)
    picked += [r for r in rows if r not in picked]
    picked = picked[:limit]
    png = contact_sheet(
        [storage.get_blob(r["image_id"]) for r in picked],
        [r["entity_id"] for r in picked],
        columns=6,
        thumb=112,
    )
    return png_markdown(png, "sample of collected images")
