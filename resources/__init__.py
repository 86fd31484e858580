"""Dagster resources: thin, configurable wrappers around craft_dag's clients."""

from craft_dag.resources.images import (
    DownloaderResource,
    ImageSourceResource,
    LocalFolderSourceResource,
    UrlManifestSourceResource,
    WikimediaCommonsSourceResource,
)
from craft_dag.resources.pack import CulturePackResource
from craft_dag.resources.storage import StorageResource

__all__ = [
    "CulturePackResource",
    "DownloaderResource",
    "ImageSourceResource",
    "LocalFolderSourceResource",
    "StorageResource",
    "UrlManifestSourceResource",
    "WikimediaCommonsSourceResource",
]
