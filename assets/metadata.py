"""Materialization metadata helpers shared by the assets."""

import pyarrow as pa
from dagster import TableColumn, TableSchema


def column_schema(schema: pa.Schema) -> TableSchema:
    """A Dagster table schema from an Arrow schema, for the ``dagster/column_schema`` key."""
    return TableSchema(
        columns=[TableColumn(name=f.name, type=str(f.type), description=None) for f in schema]
    )
