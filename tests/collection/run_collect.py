"""Run one collection in a separate process, so a test can kill it mid-way.

Usage: python -m tests.collection.run_collect STORAGE_DIR MANIFEST CATEGORY CHECKPOINT_EVERY
"""

import sys

from craft_dag.collection.collect_category import CollectLimits, collect_category
from craft_dag.collection.records import EntityRef
from craft_dag.collection.sources import UrlManifestSource
from craft_dag.storage import Storage
from tests.collection.conftest import config


def entities_of(category: str) -> list[EntityRef]:
    return [
        EntityRef(f"e{i}", category, f"сущность {i}", f"entity {i}", (f"запрос {i}",))
        for i in range(3)
    ]


def main() -> None:
    storage_dir, manifest, category, every = sys.argv[1:5]
    collect_category(
        category,
        entities_of(category),
        UrlManifestSource(manifest),
        config(concurrency=2, per_host_concurrency=2, respect_robots=False),
        Storage(storage_dir),
        CollectLimits(checkpoint_every=int(every)),
        log=lambda line: print(line, flush=True),
    )


if __name__ == "__main__":
    main()
