"""What the ``evaluation`` asset reports, without Dagster: the scores table and the sheets."""

import io

from PIL import Image

from craft_dag.evaluation.scores import ALL, METRICS
from craft_dag.evaluation.summary import GRID_CATEGORIES, GRID_PROMPTS, grid_sheets, scores_markdown


def _png(colour: tuple[int, int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (32, 32), colour).save(out, format="PNG")
    return out.getvalue()


def _row(category: str, metric: str, prompts: int, difference: float) -> dict:
    return {"category": category, "language": ALL, "metric": metric, "prompts": prompts,
            "base_mean": 0.5, "tuned_mean": 0.5 + difference, "difference": difference,
            "ci_low": difference - 0.1, "ci_high": difference + 0.1}  # fmt: skip


def test_scores_markdown_sorts_categories_and_puts_all_last() -> None:
    comparison = [
        _row(ALL, "text_similarity", 4, 0.2),
        _row("food", "text_similarity", 3, 0.25),
        _row("fauna", "text_similarity", 1, -0.05),
        _row("fauna", "diversity", 0, 0.0),  # no prompts: n/a
        {**_row("food", "diversity", 3, 1.0), "language": "source"},  # per language: not shown
    ]
    text = scores_markdown(comparison)
    assert text.startswith("Tuned minus base per prompt")
    lines = text.splitlines()
    assert lines[2] == f"| category | prompts | {' | '.join(METRICS)} |"
    assert lines[4:] == [
        "| fauna | 1 | 0.500 → 0.450: -0.050 [-0.150, +0.050] | n/a | n/a |",
        "| food | 3 | 0.500 → 0.750: +0.250 [+0.150, +0.350] | n/a | n/a |",
        "| all | 4 | 0.500 → 0.700: +0.200 [+0.100, +0.300] | n/a | n/a |",
    ]


def test_grid_sheets_of_the_first_categories_base_then_tuned() -> None:
    rows = [
        {"category": f"c{c}", "prompt_id": f"p{p}", "model": model, "language": language,
         "seed": seed, "sha256": f"c{c}p{p}-{model}-{language}-{seed}"}
        for c in range(GRID_CATEGORIES + 1) for p in range(GRID_PROMPTS + 1)
        for model in ("tuned", "base") for language in ("english", "source") for seed in (1, 0)
    ]  # fmt: skip
    loaded = []

    def load(sha: str) -> bytes:
        loaded.append(sha)
        return _png((40, 80, 120))

    sheets = grid_sheets(rows, load, columns=4)
    assert list(sheets) == [f"c{c}" for c in range(GRID_CATEGORIES)]
    assert sheets["c0"].startswith("Rows: base, tuned per prompt;")
    assert "![c0](data:image/png;base64," in sheets["c0"]
    # per sheet: its prompts, both models, both languages, both seeds
    assert len(loaded) == GRID_CATEGORIES * GRID_PROMPTS * 2 * 2 * 2
    assert loaded[:5] == ["c0p0-base-source-0", "c0p0-base-source-1", "c0p0-base-english-0",
                          "c0p0-base-english-1", "c0p0-tuned-source-0"]  # fmt: skip
