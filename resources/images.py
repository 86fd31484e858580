"""Image sources and the downloader, as configurable resources."""

from abc import abstractmethod

from dagster import ConfigurableResource
from pydantic import Field

from craft_dag import __version__
from craft_dag.collection.downloader import DownloaderConfig
from craft_dag.collection.sources import (
    ImageSource,
    LocalFolderSource,
    UrlManifestSource,
    WikimediaCommonsSource,
)


class ImageSourceResource(ConfigurableResource):
    """Where candidate images come from; one implementation per kind of source."""

    @abstractmethod
    def source(self) -> ImageSource: ...


class LocalFolderSourceResource(ImageSourceResource):
    """Images already at hand: ``<root>/<category>/<entity id>/*`` (a folder or an s3:// prefix)."""

    root: str = Field(description="Folder or fsspec URI holding <category>/<entity id>/ images.")
    licence: str = Field(default="", description="Licence to record for every image, if known.")
    author: str = Field(default="", description="Author to record for every image, if known.")

    def source(self) -> ImageSource:
        return LocalFolderSource(self.root, licence=self.licence, author=self.author)


class UrlManifestSourceResource(ImageSourceResource):
    """A CSV or Parquet list of (entity_id, url[, licence, author, caption, page_url])."""

    path: str = Field(description="Path or URI of the manifest (.csv or .parquet).")

    def source(self) -> ImageSource:
        return UrlManifestSource(self.path)


class WikimediaCommonsSourceResource(ImageSourceResource):
    """Search Wikimedia Commons with the entities' source-language queries."""

    api_url: str = Field(default="https://commons.wikimedia.org/w/api.php")
    thumb_width: int = Field(default=1280, description="Width of the thumbnails to fetch.")

    def source(self) -> ImageSource:
        return WikimediaCommonsSource(api_url=self.api_url, thumb_width=self.thumb_width)


class DownloaderResource(ConfigurableResource):
    """How politely and safely images are fetched (see craft_dag.collection.downloader)."""

    contact: str = Field(
        default="https://github.com/craft-dag/craft_dag",
        description="A URL or e-mail for site operators; Wikimedia's policy requires one.",
    )
    concurrency: int = Field(default=16, description="Requests in flight at once.")
    per_host_concurrency: int = Field(default=4, description="Requests in flight per host.")
    per_host_rate: float = Field(default=10.0, description="Request starts per second per host.")
    connect_timeout: float = 5.0
    read_timeout: float = 10.0
    total_timeout: float = Field(default=60.0, description="Limit for one whole transfer.")
    max_retries: int = 3
    max_bytes: int = Field(default=25 * 2**20, description="Largest accepted download.")
    respect_robots: bool = True
    respect_noai: bool = True
    allow_networks: list[str] = Field(
        default_factory=list,
        description="Private networks that may be fetched from (e.g. an internal mirror).",
    )

    def config(self) -> DownloaderConfig:
        return DownloaderConfig(
            user_agent=f"craft_dag/{__version__} (+{self.contact})",
            concurrency=self.concurrency,
            per_host_concurrency=self.per_host_concurrency,
            per_host_rate=self.per_host_rate,
            connect_timeout=self.connect_timeout,
            read_timeout=self.read_timeout,
            total_timeout=self.total_timeout,
            max_retries=self.max_retries,
            max_bytes=self.max_bytes,
            respect_robots=self.respect_robots,
            respect_noai=self.respect_noai,
            allow_networks=tuple(self.allow_networks),
        )
