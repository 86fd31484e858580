"""What the ``evaluation`` asset reports, as plain values: the tuned-against-base scores as a
markdown table, and contact sheets of a few categories' generations.

Kept out of the asset so they can be tested without Dagster; the asset wraps them into
Dagster metadata.
"""

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from craft_dag import markdown
from craft_dag.evaluation.generate import BASE, LANGUAGES, TUNED
from craft_dag.evaluation.scores import ALL, METRICS
from craft_dag.imaging.contact_sheet import contact_sheet, png_markdown

GRID_CATEGORIES = 4  # categories with a contact sheet: the first ones of the generations
GRID_PROMPTS = 2  # prompts per sheet: the first ones of its category
SHORT = {"source": "src", "english": "en"}


def scores_markdown(comparison: Sequence[Mapping[str, Any]]) -> str:
    """Per category (sorted, then ``all``), every metric's tuned-minus-base difference over
    both languages with its interval; ``n/a`` where no prompt has it."""
    by_category: dict[str, dict[str, Mapping[str, Any]]] = {}
    for r in comparison:
        if r["language"] == ALL:
            by_category.setdefault(r["category"], {})[r["metric"]] = r

    def fmt(r: Mapping[str, Any] | None) -> str:
        if not r or not r["prompts"]:
            return "n/a"
        return (f"{r['base_mean']:.3f} → {r['tuned_mean']:.3f}: {r['difference']:+.3f} "
                f"[{r['ci_low']:+.3f}, {r['ci_high']:+.3f}]")  # fmt: skip

    categories = [*sorted(c for c in by_category if c != ALL), ALL]
    rows = [
        [c, max(r["prompts"] for r in by_category[c].values()),
         *(fmt(by_category[c].get(m)) for m in METRICS)]
        for c in categories if c in by_category
    ]  # fmt: skip
    return (
        "Tuned minus base per prompt (source and English averaged), mean and 95% bootstrap "
        "interval over prompts.\n\n"
        + markdown.table(["category", "prompts", *METRICS], rows, right=["prompts"])
    )


def grid_sheets(
    rows: Sequence[Mapping[str, Any]], load: Callable[[str], bytes], columns: int
) -> dict[str, str]:
    """Per category (the first ``GRID_CATEGORIES``), a contact sheet as markdown: a base row
    and a tuned row per prompt (the first ``GRID_PROMPTS``), source then English, by seed.

    ``rows`` are ``evaluation_generations`` rows; ``load(sha256)`` reads an image's bytes.
    """
    by_category: dict[str, dict[str, list[Mapping[str, Any]]]] = {}
    for row in rows:
        by_category.setdefault(row["category"], {}).setdefault(row["prompt_id"], []).append(row)
    out = {}
    for category in list(by_category)[:GRID_CATEGORIES]:
        images, labels = [], []
        for prompt_id in list(by_category[category])[:GRID_PROMPTS]:
            for model in (BASE, TUNED):
                chosen = sorted(
                    (r for r in by_category[category][prompt_id] if r["model"] == model),
                    key=lambda r: (LANGUAGES.index(r["language"]), r["seed"]),
                )
                for r in chosen:
                    images.append(load(r["sha256"]))
                    labels.append(f"{model} {SHORT[r['language']]} s{r['seed']}")
        sheet = contact_sheet(images, labels, columns=columns, thumb=96)
        out[category] = (
            "Rows: base, tuned per prompt; columns: source then English, by seed.\n\n"
            + png_markdown(sheet, category)
        )
    return out
