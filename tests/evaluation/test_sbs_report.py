"""Side-by-side statistics against hand-computed cases, the report files and ``craft sbs``."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from PIL import Image

from craft_dag.evaluation.sample_votes import sample_votes
from craft_dag.evaluation.sbs_cli import main
from craft_dag.evaluation.sbs_kit import kit_id, layout
from craft_dag.evaluation.sbs_report import (
    ALL,
    Vote,
    VoteFileError,
    bootstrap_ci,
    fleiss_kappa,
    load_votes,
    report,
    votes_from_export,
    write_report,
)
from tests.evaluation.test_sbs_kit import make_pairs, png

# Wikipedia's worked example ("Fleiss' kappa"): 10 subjects, 14 raters, 5 categories;
# P-bar = 0.378, P_e = 0.213, kappa = 0.210.
WIKIPEDIA = [
    [0, 0, 0, 0, 14],
    [0, 2, 6, 4, 2],
    [0, 0, 3, 5, 6],
    [0, 3, 9, 2, 0],
    [2, 2, 8, 1, 1],
    [7, 7, 0, 0, 0],
    [3, 2, 6, 3, 0],
    [2, 5, 3, 2, 2],
    [6, 5, 2, 1, 0],
    [0, 2, 2, 3, 7],
]


def vote(assessor: str, pair: str, question: str, choice: str, **kw: str) -> Vote:
    """A vote with defaults: prompt = pair's prompt, category 'food', models base/tuned."""
    fields = {
        "kit_id": "k",
        "assessor": assessor,
        "pair_id": pair,
        "prompt_id": kw.pop("prompt_id", f"prompt-{pair}"),
        "category": kw.pop("category", "food"),
        "language": "ru",
        "question": question,
        "choice": choice,
        "model_a": kw.pop("model_a", "base"),
        "model_b": kw.pop("model_b", "tuned"),
        "voted_at": kw.pop("voted_at", "2025-01-01T00:00:00Z"),
    }
    return Vote(**fields, **kw)


def test_fleiss_kappa_wikipedia_example() -> None:
    assert fleiss_kappa(WIKIPEDIA) == pytest.approx(0.2099, abs=5e-4)


def test_fleiss_kappa_small_hand_case() -> None:
    # Two raters, four items: agree a, agree b, split a/b, agree tie.
    # P-bar = (1 + 1 + 0 + 1) / 4 = 3/4; shares 3/8, 3/8, 2/8 so P_e = 22/64;
    # kappa = (3/4 - 22/64) / (1 - 22/64) = 13/21.
    assert fleiss_kappa([[2, 0, 0], [0, 2, 0], [1, 1, 0], [0, 0, 2]]) == pytest.approx(13 / 21)
    assert fleiss_kappa([[2, 0], [0, 2]]) == pytest.approx(1.0)
    assert math.isnan(fleiss_kappa([[3, 0], [2, 0]]))  # one category only: undefined
    with pytest.raises(ValueError, match="two ratings"):
        fleiss_kappa([[1, 0], [2, 0]])


def test_bootstrap_ci_is_deterministic_and_contains_the_estimate() -> None:
    wins, totals = [3, 0, 2, 4, 1, 2, 0, 3], [4, 2, 3, 4, 2, 4, 1, 4]
    point = sum(wins) / sum(totals)
    low, high = bootstrap_ci(wins, totals, bootstrap=2000, seed=5)
    assert (low, high) == bootstrap_ci(wins, totals, bootstrap=2000, seed=5)
    assert (low, high) != bootstrap_ci(wins, totals, bootstrap=2000, seed=6)
    assert 0.0 <= low < point < high <= 1.0
    assert bootstrap_ci([2], [3]) == (2 / 3, 2 / 3)
    assert bootstrap_ci(wins, totals, bootstrap=0) == (point, point)


def test_win_tie_loss_per_question_and_category() -> None:
    votes = [
        vote("x", "1", "alignment", "b", category="food"),
        vote("x", "2", "alignment", "b", category="food"),
        vote("x", "3", "alignment", "tie", category="architecture"),
        vote("x", "4", "alignment", "a", category="architecture"),
        vote("x", "1", "quality", "a", category="food"),
        vote("x", "2", "quality", "tie", category="food"),
    ]
    rep = report(votes, bootstrap=200, seed=0)
    assert rep.model_pairs == [("base", "tuned")]
    row = rep.tally("base", "tuned", "alignment", ALL)
    assert (row.n, row.wins_b, row.ties, row.wins_a, row.prompts) == (4, 2, 1, 1, 4)
    assert row.win_rate == 0.5 and row.tie_rate == 0.25 and row.loss_rate == 0.25
    assert row.ci_low <= 0.5 <= row.ci_high
    food = rep.tally("base", "tuned", "alignment", "food")
    assert (food.n, food.wins_b, food.win_rate) == (2, 2, 1.0)
    assert (food.ci_low, food.ci_high) == (1.0, 1.0)
    both = rep.tally("base", "tuned", ALL, ALL)
    assert (both.n, both.wins_b, both.ties, both.wins_a) == (6, 2, 2, 2)
    quality = rep.tally("base", "tuned", "quality", "food")
    assert (quality.wins_b, quality.ties, quality.wins_a) == (0, 1, 1)
    with pytest.raises(KeyError):
        rep.tally("base", "tuned", "quality", "architecture")
    assert rep.categories == ["architecture", "food"]


def test_duplicates_count_once_and_reversed_pairs_are_flipped() -> None:
    votes = [
        vote("x", "1", "alignment", "a", voted_at="2025-01-01T00:00:00Z"),
        vote("x", "1", "alignment", "b", voted_at="2025-01-01T00:05:00Z"),  # changed mind
        vote("x", "1", "alignment", "a", voted_at="2025-01-01T00:01:00Z"),  # older export
        # The same models the other way round: a = tuned, so "a" is a win for tuned.
        vote("y", "2", "alignment", "a", model_a="tuned", model_b="base"),
    ]
    rep = report(votes, bootstrap=10)
    assert rep.votes == 2
    assert rep.model_pairs == [("base", "tuned")]
    row = rep.tally("base", "tuned", "alignment")
    assert (row.n, row.wins_b, row.wins_a) == (2, 2, 0)


def test_agreement_from_votes_matches_the_hand_case() -> None:
    # The 13/21 table above, as votes of two assessors; pair 5 has one rating and is left out.
    plan = {"1": ("a", "a"), "2": ("b", "b"), "3": ("a", "b"), "4": ("tie", "tie")}
    votes = [vote("x", p, "alignment", c[0]) for p, c in plan.items()]
    votes += [vote("y", p, "alignment", c[1]) for p, c in plan.items()]
    votes.append(vote("x", "5", "alignment", "b"))
    votes.append(vote("x", "5", "quality", "b"))
    rep = report(votes, bootstrap=10)
    alignment, quality = rep.agreement
    assert (alignment.question, alignment.items, alignment.ratings) == ("alignment", 4, 8)
    assert alignment.kappa == pytest.approx(13 / 21)
    assert (quality.items, quality.kappa) == (0, None)


def test_load_votes_names_the_bad_file(tmp_path: Path) -> None:
    bad = tmp_path / "broken.json"
    bad.write_text("{not json", "utf-8")
    with pytest.raises(VoteFileError, match=r"broken\.json: bad JSON"):
        load_votes([bad])
    wrong = tmp_path / "wrong.json"
    wrong.write_text(json.dumps({"assessor": "x", "votes": [{"pair_id": "1"}]}), "utf-8")
    with pytest.raises(VoteFileError, match=r"wrong\.json: vote #0 lacks"):
        load_votes([wrong])
    with pytest.raises(VoteFileError, match=r"missing\.json: cannot read"):
        load_votes([tmp_path / "missing.json"])


def test_sample_votes_are_deterministic_and_favour_the_tuned_model() -> None:
    pairs = make_pairs(40)
    exports = sample_votes(pairs, seed=3)
    assert exports == sample_votes(pairs, seed=3)
    assert [e["assessor"] for e in exports] == ["assessor_1", "assessor_2"]
    assert {e["kit_id"] for e in exports} == {kit_id(pairs, 3)}
    sides = layout(pairs, "assessor_2", 3)
    assert all(v["shown_left"] == sides[v["pair_id"]] for v in exports[1]["votes"])
    votes = [v for e in exports for v in votes_from_export(e)]
    assert len(votes) == 2 * 40 * 2
    rep = report(votes, bootstrap=100)
    both = rep.tally("base-k31", "craft-tuned", ALL, ALL)
    assert both.wins_b > both.wins_a and both.wins_b > both.ties > 0 and both.wins_a > 0
    for agreement in rep.agreement:
        assert agreement.items == 40
        assert agreement.kappa is not None and 0.2 < agreement.kappa < 0.95


def test_write_report(tmp_path: Path) -> None:
    pairs = make_pairs(10)
    votes = [v for e in sample_votes(pairs) for v in votes_from_export(e)]
    md, pngs = write_report(report(votes, bootstrap=100), tmp_path / "out")
    text = md.read_text("utf-8")
    assert "craft-tuned (B) vs base-k31 (A)" in text
    assert "| folk_crafts |" in text and "Fleiss' kappa" in text
    assert len(pngs) == 3
    for path in pngs:
        assert path.name in text
        with Image.open(path) as image:
            assert image.format == "PNG" and image.width > 400
    assert json.loads((tmp_path / "out" / "report.json").read_text("utf-8"))["votes"] == 40


def test_cli_report_and_kit(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pairs = make_pairs(6)
    files = []
    for export in sample_votes(pairs):
        path = tmp_path / f"{export['assessor']}.json"
        path.write_text(json.dumps(export), "utf-8")
        files.append(str(path))
    out = tmp_path / "rep"
    assert main(["sbs", "report", *files, "--out", str(out), "--bootstrap", "50"]) == 0
    printed = capsys.readouterr().out
    assert "craft-tuned vs base-k31" in printed and "Fleiss' kappa (alignment)" in printed
    assert (out / "report.md").is_file()
    bad = tmp_path / "bad.json"
    bad.write_text("[", "utf-8")
    assert main(["sbs", "report", files[0], str(bad), "--out", str(out)]) == 2
    assert "bad.json" in capsys.readouterr().err

    listing = []
    for pair in pairs[:2]:
        entry = {k: v for k, v in pair.items() if k not in ("image_a", "image_b")}
        for side in ("image_a", "image_b"):
            name = f"{pair['pair_id']}_{side}.png"
            (tmp_path / name).write_bytes(png("#123456"))
            entry[side] = name
        listing.append(entry)
    (tmp_path / "pairs.json").write_text(json.dumps(listing), "utf-8")
    kits = tmp_path / "kits"
    code = main(
        ["sbs", "kit", str(tmp_path / "pairs.json"), "--assessors", "a,b", "--out", str(kits)]
    )
    assert code == 0
    assert sorted(p.name for p in kits.iterdir()) == ["kit_a.html", "kit_b.html"]
    assert main(["sbs", "kit", str(tmp_path / "nope.json"), "--assessors", "a", "--out", "x"]) == 2
