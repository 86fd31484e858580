from pathlib import Path

import pytest

from craft_dag.cli import main


def test_validate_a_sound_pack(mini_pack: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["pack", "validate", str(mini_pack), "-v"]) == 0
    out = capsys.readouterr().out
    assert "pack 'el_mini' is valid: 3 categories, 5 entities, 8 queries" in out
    assert "cuisine" in out and "2 entities" in out


def test_validate_lists_every_problem_and_fails(
    mini_pack: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (mini_pack / "entities" / "crafts.yaml").write_text(
        "category: crafts\nentities:\n  - id: Komboloi\n    native_name: Komboloi\n"
        "    english_name: Komboloi\n    queries: [komboloi]\n",
        encoding="utf-8",
    )
    assert main(["pack", "validate", str(mini_pack)]) == 1
    err = capsys.readouterr().err.splitlines()
    assert (
        f"{mini_pack}/entities/crafts.yaml:3: entities[0].id: 'Komboloi' is not an id: use lower-case a-z, 0-9 and _"
        in err
    )
    assert (
        f"{mini_pack}/entities/crafts.yaml:4: entities[0].native_name: 'Komboloi' has no letter of the source script (Greek)"
        in err
    )
    assert (
        f"{mini_pack}/entities/crafts.yaml:6: entities[0].queries[0]: 'komboloi' has no letter of the source script (Greek)"
        in err
    )
    assert err[-1] == f"3 problem(s) in {mini_pack}"


def test_console_script_is_installed() -> None:
    import shutil
    import subprocess
    import sys

    craft = shutil.which("craft", path=str(Path(sys.executable).parent))
    assert craft is not None
    done = subprocess.run([craft, "pack", "validate", "--help"], capture_output=True, text=True)
    assert done.returncode == 0 and "every problem" in done.stdout


def test_samples_build(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tests.conftest import MINI_PACK

    assert main(["samples", "build", str(tmp_path / "s"), "--pack", str(MINI_PACK)]) == 0
    assert "sample images" in capsys.readouterr().out
    assert (tmp_path / "s" / "manifest.csv").exists()
    assert sorted(p.name for p in (tmp_path / "s").iterdir() if p.is_dir()) == [
        "crafts",
        "cuisine",
        "landmarks",
    ]
