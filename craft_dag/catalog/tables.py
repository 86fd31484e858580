"""The catalog as Arrow tables: one row per entity, one table per category."""

import pyarrow as pa
import pyarrow.compute as pc

from craft_dag import markdown
from craft_dag.catalog.pack import CulturePack

ENTITY_SCHEMA = pa.schema(
    [
        pa.field("entity_id", pa.string(), nullable=False),
        pa.field("category", pa.string(), nullable=False),
        pa.field("pack_id", pa.string(), nullable=False),
        pa.field("native_name", pa.string(), nullable=False),
        pa.field("english_name", pa.string(), nullable=False),
        pa.field("aliases", pa.list_(pa.string()), nullable=False),
        pa.field("queries", pa.list_(pa.string()), nullable=False),
        pa.field("english_queries", pa.list_(pa.string()), nullable=False),
        pa.field("notes", pa.string(), nullable=False),
    ]
)


def entities_table(pack: CulturePack, category: str) -> pa.Table:
    """The validated entities of one category, in file order."""
    pack.category(category)  # a clear KeyError for an unknown partition
    rows = [
        {
            "entity_id": e.id,
            "category": category,
            "pack_id": pack.id,
            "native_name": e.native_name,
            "english_name": e.english_name,
            "aliases": list(e.aliases),
            "queries": list(e.queries),
            "english_queries": list(e.english_queries),
            "notes": e.notes,
        }
        for e in pack.entities[category]
    ]
    return pa.Table.from_pylist(rows, schema=ENTITY_SCHEMA)


def duplicate_entity_ids(table: pa.Table) -> list[str]:
    """Entity ids that occur more than once in ``table``."""
    counts = pc.value_counts(table["entity_id"])
    return sorted(item["values"].as_py() for item in counts if item["counts"].as_py() > 1)


def entities_without_queries(table: pa.Table) -> list[str]:
    """Entity ids whose query list is empty or holds only blank strings."""
    out = []
    for entity_id, queries in zip(
        table["entity_id"].to_pylist(), table["queries"].to_pylist(), strict=True
    ):
        if not queries or not any(q and q.strip() for q in queries):
            out.append(entity_id)
    return out


def markdown_preview(table: pa.Table, columns: list[str], limit: int = 10) -> str:
    """A markdown table of the first ``limit`` rows of ``columns``."""
    rows = table.select(columns).slice(0, limit).to_pylist()
    text = markdown.table(columns, ([row[c] for c in columns] for row in rows))
    if table.num_rows > limit:
        text += f"\n\n*{table.num_rows - limit} more rows*"
    return text
