"""Observable source assets over what people hand back: files in storage, per category."""

from collections.abc import Callable

from dagster import (
    AssetsDefinition,
    DataVersion,
    DataVersionsByPartition,
    observable_source_asset,
)

from craft_dag.jobs.partitions import category_partitions
from craft_dag.resources import CulturePackResource, StorageResource
from craft_dag.storage import Storage


def storage_export_source(
    name: str, group: str, fingerprint: Callable[[Storage, str], str], description: str
) -> AssetsDefinition:
    """An observable source whose data version per category is ``fingerprint`` of its files.

    The sensors in jobs/sensors.py record the same versions between observations.
    """

    @observable_source_asset(
        name=name, partitions_def=category_partitions, group_name=group, description=description
    )
    def _source(pack: CulturePackResource, storage: StorageResource) -> DataVersionsByPartition:
        store = storage.client()
        return DataVersionsByPartition(
            {cid: DataVersion(fingerprint(store, cid)) for cid in pack.load().category_ids}
        )

    return _source
