"""Score a plain folder of images, as ``craft images score DIR`` does for curators.

The same scoring and decisions as the ``image_scores`` asset, on files outside any pipeline,
so that a curator can tune thresholds on a folder before a run. Every file under the folder
(hidden ones aside) gives exactly one row: a file that is truncated, empty, not an image or a
decompression bomb gets ``status = "error"`` and the reason, never a crash. Files count as one
entity per sub-folder (``<entity>/<file>``), so near-duplicates across sub-folders are flagged
for review rather than removed, as in the pipeline.
"""

from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from craft_dag.curation.metrics import METRIC_NAMES
from craft_dag.curation.policy import EffectiveThresholds
from craft_dag.curation.score import ScoreItem, Scorers, score_images
from craft_dag.curation.tables import score_row

FOLDER_COLUMNS: tuple[str, ...] = (
    "path",
    "status",
    "error",
    *METRIC_NAMES,
    "mode",
    "dhash",
    "phash",
    "text_words",
    "text_area",
    "text",
    "relevance",
    "watermark_score",
    "nsfw",
    "tiled_overlay",
    "decision",
    "reasons",
    "dup_group",
    "dup_of",
    "dup_reason",
)


def folder_items(root: Path) -> list[ScoreItem]:
    """One item per regular file under ``root`` (sorted; hidden files and folders skipped)."""
    root = Path(root)
    if not root.is_dir():
        raise NotADirectoryError(f"{root} is not a folder")
    items = []
    for path in sorted(p for p in root.rglob("*") if p.is_file() or p.is_symlink()):
        relative = path.relative_to(root)
        if any(part.startswith(".") for part in relative.parts):
            continue
        entity = relative.parts[0] if len(relative.parts) > 1 else ""
        items.append(ScoreItem(relative.as_posix(), entity, path.read_bytes))
    return items


def score_folder(
    root: Path,
    thresholds: EffectiveThresholds,
    scorers: Scorers | None = None,
    *,
    log: Callable[[str], None] = lambda _: None,
) -> pa.Table:
    """A table with one row per file and ``FOLDER_COLUMNS`` (reasons joined by ``;``)."""
    scored = score_images(folder_items(root), thresholds, scorers, log=log)
    rows = []
    for s in scored:
        row = score_row(s)
        row["path"] = row.pop("image_id")
        row["reasons"] = ";".join(s.reasons)
        rows.append({name: row.get(name) for name in FOLDER_COLUMNS})
    fields = []
    for name in FOLDER_COLUMNS:
        kind = pa.string()
        if name in ("width", "height", "frames", "text_words", "dup_group"):
            kind = pa.int32()
        elif name in METRIC_NAMES or name in (
            "text_area",
            "relevance",
            "watermark_score",
            "nsfw",
            "tiled_overlay",
        ):
            kind = pa.float64()
        fields.append((name, kind))
    return pa.Table.from_pylist(rows, schema=pa.schema(fields))


def write_scores(table: pa.Table, out: Path) -> None:
    """Write ``table`` as CSV or Parquet, by the extension of ``out``."""
    suffix = Path(out).suffix.lower()
    if suffix == ".csv":
        pacsv.write_csv(table, out)
    elif suffix in (".parquet", ".pq"):
        pq.write_table(table, out)
    else:
        raise ValueError(f"{out}: write .csv or .parquet (by the file's extension)")
