from typing import Any

from dagster import ConfigurableResource
from pydantic import Field

from craft_dag.storage import Storage


class StorageResource(ConfigurableResource):
    """Where every asset keeps its tables and blobs: a local folder or an S3-compatible bucket.

    Credentials are optional: leave them unset to use the standard AWS chain (environment,
    ``~/.aws``, instance role), or pass ``EnvVar("...")`` where the definitions are built.
    """

    base_uri: str = Field(description="A local folder, file:// or s3://bucket/prefix URI.")
    endpoint_url: str | None = Field(
        default=None, description="S3-compatible endpoint (MinIO, Ceph, moto); unset for AWS."
    )
    access_key_id: str | None = Field(default=None, description="S3 access key id.")
    secret_access_key: str | None = Field(default=None, description="S3 secret access key.")
    region_name: str | None = Field(default=None, description="S3 region.")

    def storage_options(self) -> dict[str, Any]:
        if not self.base_uri.startswith(("s3://", "s3a://")):
            return {}
        options: dict[str, Any] = {"skip_instance_cache": True}
        if self.endpoint_url:
            options["endpoint_url"] = self.endpoint_url
        if self.access_key_id:
            options["key"] = self.access_key_id
        if self.secret_access_key:
            options["secret"] = self.secret_access_key
        if self.region_name:
            options["client_kwargs"] = {"region_name": self.region_name}
        return options

    def client(self) -> Storage:
        return Storage(self.base_uri, self.storage_options())
