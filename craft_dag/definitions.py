"""The craft_dag code location: the one Definitions object (the only Dagster file in craft_dag/).

Deployment choices (which pack, where data lives, where images come from) are read from the
environment here and nowhere else; see craft_dag.settings.
"""

import os
from pathlib import Path

from dagster import Definitions, EnvVar, in_process_executor

from craft_dag.assets.captioning import captioning_assets, captioning_checks
from craft_dag.assets.catalog import catalog_assets, catalog_checks
from craft_dag.assets.collection import collection_assets, collection_checks
from craft_dag.assets.curation import curation_assets, curation_checks
from craft_dag.assets.evaluation import evaluation_assets, evaluation_checks
from craft_dag.assets.training import training_assets, training_checks
from craft_dag.jobs.jobs import (
    category_job,
    filter_job,
    observe_pack_job,
    observe_review_job,
    observe_votes_job,
    report_job,
    score_job,
    train_job,
    translate_job,
)
from craft_dag.jobs.schedules import schedules
from craft_dag.jobs.sensors import export_sensors, failure_webhook_sensor
from craft_dag.resources import (
    CulturePackResource,
    DownloaderResource,
    ImageSourceResource,
    LocalFolderSourceResource,
    StorageResource,
    UrlManifestSourceResource,
    WikimediaCommonsSourceResource,
)
from craft_dag.resources.captioning import CaptionerResource, TranslatorResource
from craft_dag.resources.curation import CurationScorersResource
from craft_dag.resources.executor import ExecutorResource
from craft_dag.resources.training import TrainingLauncherResource
from craft_dag.settings import Settings

settings = Settings.from_env()


def image_source(s: Settings) -> ImageSourceResource:
    if s.image_source == "manifest":
        return UrlManifestSourceResource(path=s.url_manifest)
    if s.image_source == "commons":
        return WikimediaCommonsSourceResource()
    # The embedded default: the sample set `make demo` builds from photos that installed
    # packages ship (licences recorded per file in its manifest.csv).
    return LocalFolderSourceResource(root=s.images_root)


def model_resources(s: Settings) -> dict[str, object]:
    """The captioner and translator of the profile: tiny random models, or the real ones."""
    training_root = str(Path(s.home) / "training")
    if s.profile == "tiny":
        return {
            "captioner": CaptionerResource(),
            "translator": TranslatorResource(),
            "training_launcher": TrainingLauncherResource(
                config_path="tiny", output_root=training_root
            ),
        }
    return {
        # The paper's LLaVA-NeXT 34B through vLLM on GPU nodes; Marian opus-mt for RU->EN;
        # the two Kandinsky 3.1 stages on CRAFT_GPUS_PER_NODE GPUs of the host (torchrun).
        "captioner": CaptionerResource(backend="vllm"),
        "translator": TranslatorResource(backend="transformers", device="cuda"),
        "training_launcher": TrainingLauncherResource(
            config_path="kandinsky3", output_root=training_root, nproc_per_node=s.gpus_per_node
        ),
    }


defs = Definitions(
    assets=[
        *catalog_assets,
        *collection_assets,
        *curation_assets,
        *captioning_assets,
        *training_assets,
        *evaluation_assets,
    ],
    asset_checks=[
        *catalog_checks,
        *collection_checks,
        *curation_checks,
        *captioning_checks,
        *training_checks,
        *evaluation_checks,
    ],
    jobs=[
        category_job,
        score_job,
        filter_job,
        train_job,
        translate_job,
        report_job,
        observe_pack_job,
        observe_review_job,
        observe_votes_job,
    ],
    schedules=schedules,
    sensors=[
        *export_sensors,
        # Only where a webhook is configured: a sensor that posts nowhere would just tick.
        *(
            [failure_webhook_sensor(settings.alert_webhook, settings.ui_url)]
            if settings.alert_webhook
            else []
        ),
    ],
    resources={
        "pack": CulturePackResource(path=str(settings.pack_path)),
        "storage": StorageResource(base_uri=settings.storage_uri),
        "image_source": image_source(settings),
        "downloader": DownloaderResource(contact=settings.contact),
        "scorers": CurationScorersResource(profile=settings.profile),
        # CRAFT_EXECUTOR=ray: a category's shards on Ray (local, or CRAFT_RAY_ADDRESS's cluster).
        "executor": ExecutorResource(
            engine=os.environ.get("CRAFT_EXECUTOR", "in-process"),
            address=EnvVar("CRAFT_RAY_ADDRESS") if os.environ.get("CRAFT_RAY_ADDRESS") else None,
        ),
        **model_resources(settings),
    },
    # On a laptop or a 2-core CI host the multiprocess executor thrashes (a process per step);
    # the cluster deployment swaps this for its own executor.
    executor=in_process_executor,
)
