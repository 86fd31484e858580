"""The house rules of issue 14 (tools/house.py) on a made-up tree, then on the repository.

Every rule holds on the repository now (issue 14): a module over 450 lines, an asset body over
40 lines or an import cycle between subpackages of craft_dag fails this test, naming it.
"""

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("house", ROOT / "tools" / "house.py")
house = importlib.util.module_from_spec(_spec)
sys.modules["house"] = house  # dataclasses resolve their module by name
_spec.loader.exec_module(house)


def _write(root: Path, rel: str, text: str) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    for folder in ("assets", "resources", "jobs"):
        _write(tmp_path, f"{folder}/__init__.py", "")
    _write(tmp_path, "craft_dag/__init__.py", "")
    for sub in ("low", "high", "side"):
        _write(tmp_path, f"craft_dag/{sub}/__init__.py", "")
    return tmp_path


def test_long_module_is_listed_and_one_at_the_limit_is_not(tree: Path) -> None:
    _write(tree, "craft_dag/low/big.py", "x = 1\n" * 451)
    _write(tree, "craft_dag/low/edge.py", "x = 1\n" * 450)
    found = house.long_modules(house.modules(tree), tree)
    assert found == [("craft_dag/low/big.py", 451)]


def test_asset_body_counts_from_after_the_docstring(tree: Path) -> None:
    def fn(decorator: str, name: str, lines: int) -> str:
        return (
            f'{decorator}\ndef {name}():\n    """Doc\n    on two lines."""\n'
            + "    x = 1\n" * lines
        )

    source = "\n".join(
        [
            "import dagster as dg\nfrom dagster import asset, asset_check\n",
            fn('@dg.asset(group_name="g")', "big", 41),
            fn("@asset_check(asset=big)", "big_check", 2),
            fn("@asset", "at_limit", 40),
            fn("", "not_an_asset", 60),
        ]
    )
    _write(tree, "assets/a.py", source)
    found = house.long_asset_bodies(house.modules(tree), tree)
    assert [(name, n) for _, name, n in found] == [("big", 41)]


def test_cycles_module_level_and_function_local_apart(tree: Path) -> None:
    _write(tree, "craft_dag/low/a.py", "from craft_dag.high import b\n")
    _write(tree, "craft_dag/high/b.py", "def f():\n    from craft_dag.low import a\n")
    _write(tree, "craft_dag/high/c.py", "from ..side import d\n")  # relative, one way only
    _write(tree, "craft_dag/side/d.py", "import craft_dag.low.a\n")
    report = house.measure(tree)
    # side -> low -> high -> side runs at import time; high -> low only inside a function.
    assert report.module_cycles == [["high", "low", "side"]]
    assert report.all_cycles == [["high", "low", "side"]]
    assert house.cycle_pairs(report.module_edges) == {}
    (pair, both), *rest = house.cycle_pairs(report.all_edges).items()
    assert not rest and pair == ("high", "low")
    assert {(e.source, e.local) for e in both} == {("low", False), ("high", True)}


def test_a_function_local_cycle_is_caught_only_with_local_imports(tree: Path) -> None:
    _write(tree, "craft_dag/low/a.py", "import json\n")
    _write(tree, "craft_dag/high/b.py", "from craft_dag.low import a\n")
    _write(tree, "craft_dag/low/c.py", "def f():\n    from craft_dag import high\n")
    report = house.measure(tree)
    assert report.module_cycles == []
    assert report.all_cycles == [["high", "low"]]


REPORT = house.measure(ROOT)


def test_no_module_over_450_lines() -> None:
    assert REPORT.long_modules == []


def test_no_asset_body_over_40_lines() -> None:
    assert REPORT.long_assets == []


def test_no_import_cycle_at_module_level() -> None:
    assert REPORT.module_cycles == []


def test_no_import_cycle_with_function_local_imports() -> None:
    assert REPORT.all_cycles == []


def test_strict_exit_status_follows_the_report() -> None:
    run = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "house.py"), "--strict"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == (1 if REPORT.violations else 0), run.stderr
    assert f"violations: {REPORT.violations}" in run.stdout
