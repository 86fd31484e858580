from dagster import ConfigurableResource
from pydantic import Field

from craft_dag.catalog.pack import CulturePack, load_pack


class CulturePackResource(ConfigurableResource):
    """The active culture pack: a folder of YAML files (see docs/pack-format.md)."""

    path: str = Field(description="Folder of the culture pack (the one holding pack.yaml).")

    def load(self) -> CulturePack:
        # Read on every use: a pack is a few hundred records, and a run must see the files as
        # they are now, not as they were when the code location started.
        return load_pack(self.path)
