"""Building the Dagster resources the tests hand to ``materialize``."""

from pathlib import Path

from craft_dag.resources import CulturePackResource, StorageResource
from craft_dag.resources.executor import ExecutorResource


def resources(pack: Path, storage_uri: str, s3: dict[str, str] | None = None) -> dict[str, object]:
    if s3 is None:
        storage = StorageResource(base_uri=storage_uri)
    else:
        storage = StorageResource(
            base_uri=storage_uri,
            endpoint_url=s3["endpoint_url"],
            access_key_id=s3["key"],
            secret_access_key=s3["secret"],
            region_name=s3["region"],
        )
    return {
        "pack": CulturePackResource(path=str(pack)),
        "storage": storage,
        "executor": ExecutorResource(),  # in-process: tests/parallel run the Ray engine
    }
