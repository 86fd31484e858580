"""The ``image_scores`` report of one category: decisions, funnel, duplicates, flagged sheets."""

import io

import pyarrow as pa
from PIL import Image

from craft_dag.curation.policy import CurationPolicy, effective
from craft_dag.curation.report import scores_report, thresholds_markdown


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (16, 16), (200, 40, 40)).save(out, format="PNG")
    return out.getvalue()


def _row(image_id: str, decision: str, reasons: list[str]) -> dict:
    return {"image_id": image_id, "status": "ok", "decision": decision, "reasons": reasons,
            "width": 20, "height": 10, "dup_group": -1, "dup_reason": ""}  # fmt: skip


def test_report_of_a_score_table() -> None:
    table = pa.Table.from_pylist(
        [
            _row("a", "keep", []),
            _row("b", "reject", ["too_small"]),
            _row("c", "review", ["too_small"]),
            _row("d", "reject", ["too_small"]),
        ]
    )
    thresholds = effective(CurationPolicy(), "cuisine", {"min_blur": 40.0})
    loaded = []

    def load(image_id: str) -> bytes:
        loaded.append(image_id)
        if image_id == "d":
            raise OSError("blob gone")  # a missing blob leaves the image off the sheet
        return _png()

    report = scores_report(table, thresholds, load)
    assert dict(report.decisions) == {"keep": 1, "reject": 2, "review": 1}
    assert report.thresholds == thresholds_markdown(thresholds)
    assert "| min_blur | 40.0 | run |" in report.thresholds
    assert report.funnel.endswith("Left: **1 keep**, **1 to review** (of 4).")
    assert "| too_small | 3 | 2 | 2 |" in report.funnel
    assert report.near_duplicates == "No near-duplicate groups."
    assert list(report.flagged) == ["too_small"]
    assert report.flagged["too_small"].startswith("![images flagged too_small](data:image/png")
    assert loaded == ["b", "c", "d"]
