"""The craft_dag code location: the one Definitions object (the only Dagster file in craft_dag/).

Deployment choices (which pack, where data lives) are read from the environment here and
nowhere else; see craft_dag.settings.
"""

from dagster import Definitions, in_process_executor

from craft_dag.assets.catalog import catalog_assets, catalog_checks
from craft_dag.jobs.jobs import category_job, observe_pack_job
from craft_dag.resources import CulturePackResource, StorageResource
from craft_dag.settings import Settings

settings = Settings.from_env()

defs = Definitions(
    assets=[*catalog_assets],
    asset_checks=[*catalog_checks],
    jobs=[category_job, observe_pack_job],
    resources={
        "pack": CulturePackResource(path=str(settings.pack_path)),
        "storage": StorageResource(base_uri=settings.storage_uri),
    },
    # On a laptop or a 2-core CI host the multiprocess executor thrashes (a process per step);
    # the cluster deployment swaps this for its own executor.
    executor=in_process_executor,
)
