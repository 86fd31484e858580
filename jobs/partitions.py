"""The one category partitions definition, built from the active culture pack."""

from dagster import StaticPartitionsDefinition

from craft_dag.catalog.pack import load_pack
from craft_dag.settings import Settings

category_partitions = StaticPartitionsDefinition(
    load_pack(Settings.from_env().pack_path).category_ids
)
