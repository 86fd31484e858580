"""Markdown for materialization metadata: tables that render in Dagster's UI."""

from collections.abc import Iterable, Sequence


def cell(value: object, width: int = 80) -> str:
    """One table cell: lists joined with '; ', pipes escaped, newlines flattened, long text cut."""
    text = "; ".join(map(str, value)) if isinstance(value, list | tuple) else str(value)
    text = text.replace("|", "\\|").replace("\n", " ")
    return text if len(text) <= width else text[: width - 3] + "..."


def table(
    header: Sequence[str], rows: Iterable[Sequence[object]], right: Sequence[str] = ()
) -> str:
    """A markdown table; columns named in ``right`` are right-aligned (numbers)."""
    lines = [
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---:" if h in right else "---" for h in header) + "|",
    ]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)
