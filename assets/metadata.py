"""Materialization metadata and log helpers shared by the assets."""

from collections.abc import Callable, Sequence
from typing import Any

import pyarrow as pa
from dagster import TableColumn, TableSchema

from craft_dag.review.decisions import RowProblem

# A few bad rows name themselves in the log; the rest are counted in the metadata.
SHOWN_PROBLEMS = 20


def column_schema(schema: pa.Schema) -> TableSchema:
    """A Dagster table schema from an Arrow schema, for the ``dagster/column_schema`` key."""
    return TableSchema(
        columns=[TableColumn(name=f.name, type=str(f.type), description=None) for f in schema]
    )


def table_metadata(table: pa.Table) -> dict[str, Any]:
    """Dagster's row count and column schema of the table an asset wrote."""
    return {
        "dagster/row_count": table.num_rows,
        "dagster/column_schema": column_schema(table.schema),
    }


def warn_problems(warn: Callable[[str], None], source: str, problems: Sequence[RowProblem]) -> None:
    """Logs the first bad rows of a people's file (a review export, a memory, a CSV)."""
    for problem in problems[:SHOWN_PROBLEMS]:
        warn(f"{source}: {problem}")
