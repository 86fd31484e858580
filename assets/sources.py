"""Observable source assets: the culture pack, and what people hand back into storage.

Each records one data version per category. The fingerprint each one uses is named here once:
the sensors in jobs/sensors.py record the same versions between observations, from the same
tables.
"""

from collections.abc import Callable

from dagster import (
    AssetsDefinition,
    DataVersion,
    DataVersionsByPartition,
    observable_source_asset,
)

from craft_dag.catalog.pack import CulturePack
from craft_dag.jobs.partitions import category_partitions
from craft_dag.resources import CulturePackResource, StorageResource
from craft_dag.review.tasks_and_exports import exports_fingerprint
from craft_dag.storage import Storage
from craft_dag.translation.memory import memory_fingerprint

# Sources read from the pack's files: (pack, category) -> version.
PACK_FINGERPRINTS: dict[str, Callable[[CulturePack, str], str]] = {
    "pack_files": CulturePack.category_fingerprint,
    "curation_policy": CulturePack.curation_fingerprint,
}
# Sources read from files in storage: (storage, category) -> version.
STORAGE_FINGERPRINTS: dict[str, Callable[[Storage, str], str]] = {
    "review_decisions": exports_fingerprint,
    "translation_memory": memory_fingerprint,
}


def pack_source(name: str, group: str, description: str) -> AssetsDefinition:
    """An observable source whose data version per category hashes that part of the pack."""
    fingerprint = PACK_FINGERPRINTS[name]

    @observable_source_asset(
        name=name, partitions_def=category_partitions, group_name=group, description=description
    )
    def _source(pack: CulturePackResource) -> DataVersionsByPartition:
        loaded = pack.load()
        return DataVersionsByPartition(
            {cid: DataVersion(fingerprint(loaded, cid)) for cid in loaded.category_ids}
        )

    return _source


def storage_export_source(name: str, group: str, description: str) -> AssetsDefinition:
    """An observable source whose data version per category hashes its files in storage."""
    fingerprint = STORAGE_FINGERPRINTS[name]

    @observable_source_asset(
        name=name, partitions_def=category_partitions, group_name=group, description=description
    )
    def _source(pack: CulturePackResource, storage: StorageResource) -> DataVersionsByPartition:
        store = storage.client()
        return DataVersionsByPartition(
            {cid: DataVersion(fingerprint(store, cid)) for cid in pack.load().category_ids}
        )

    return _source
