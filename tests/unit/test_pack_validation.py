"""Pack validation: every problem reported at once, each with file, line and field."""

from pathlib import Path

import pytest

from craft_dag.catalog.pack import PackError, Problem, load_pack, validate_pack


def write(root: Path, name: str, text: str) -> None:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def where(problems: list[Problem]) -> set[tuple[str, int, str]]:
    return {(p.file, p.line, p.field) for p in problems}


def find(problems: list[Problem], file: str, field: str) -> Problem:
    matches = [p for p in problems if p.file == file and p.field == field]
    assert matches, f"no problem at {file} {field}; got:\n" + "\n".join(map(str, problems))
    return matches[0]


def test_the_mini_pack_is_valid(mini_pack: Path) -> None:
    assert validate_pack(mini_pack) == []
    pack = load_pack(mini_pack)
    assert pack.category_ids == ["cuisine", "landmarks", "crafts"]
    assert [e.id for e in pack.entities["cuisine"]] == ["moussaka", "souvlaki"]
    assert pack.glossary[0].wrong == ("kebab",) or list(pack.glossary[0].wrong) == ["kebab"]


def test_every_problem_is_reported_at_once_with_file_line_and_field(mini_pack: Path) -> None:
    write(
        mini_pack,
        "entities/cuisine.yaml",
        "category: cuisine\n"  # 1
        "entities:\n"  # 2
        "  - id: moussaka\n"  # 3
        "    native_name: Μουσακάς\n"  # 4
        "    english_name: Moussaka\n"  # 5
        "    queries: []\n"  # 6  no queries
        "  - id: souvlaki\n"  # 7
        "    native_name: Souvlaki\n"  # 8  no Greek letter
        "    english_name: Souvlaki\n"  # 9
        "    queries:\n"  # 10
        "      - σουβλάκι\n"  # 11
        "      - souvlaki pita\n"  # 12  no Greek letter
        "  - id: parthenon\n"  # 13  duplicate of landmarks.yaml
        "    native_name: Παρθενώνας\n"  # 14
        "    english_name: Parthenon\n"  # 15
        "    querys: [Παρθενώνας]\n",  # 16  misspelt key, and so no queries
    )
    write(mini_pack, "entities/crafts.yaml", "category: crafts\nentities: []\n")
    write(
        mini_pack,
        "entities/music.yaml",
        "category: music\n"
        "entities:\n"
        "  - id: bouzouki\n"
        "    native_name: Μπουζούκι\n"
        "    english_name: Bouzouki\n"
        "    queries: [μπουζούκι]\n",
    )
    write(
        mini_pack,
        "prompts/cuisine.yaml",
        "prompts:\n"  # 1
        "  - id: p1\n"  # 2
        "    category: cuisine\n"  # 3
        "    entity: baklava\n"  # 4  unknown entity
        "    source: Μπακλαβάς\n"  # 5
        "    english: Baklava\n"  # 6
        "  - id: p2\n"  # 7
        "    category: desserts\n"  # 8  unknown category
        "    source: Γλυκά\n"  # 9
        "    english: Sweets\n"  # 10
        "  - id: p1\n"  # 11  duplicate id
        "    category: cuisine\n"
        "    source: Φαγητό\n"
        "    english: Food\n"
        "  - id: p4\n"  # 15
        "    category: cuisine\n"  # 16
        "    entity: parthenon\n"  # 17  entity of another category
        "    source: Παρθενώνας\n"
        "    english: Parthenon\n",
    )
    write(
        mini_pack,
        "glossary.yaml",
        "terms:\n  - source: σουβλάκι\n    target: souvlaki\n    wrong: [Souvlaki]\n",
    )
    write(mini_pack, "prompts/broken.yaml", "prompts:\n  - id: x\n    source: [unclosed\n")

    problems = validate_pack(mini_pack)
    listing = "\n".join(map(str, problems))

    assert ("entities/cuisine.yaml", 6, "entities[0].queries") in where(problems), listing
    assert (
        "at least one query"
        in find(problems, "entities/cuisine.yaml", "entities[0].queries").message
    )
    assert ("entities/cuisine.yaml", 8, "entities[1].native_name") in where(problems), listing
    assert ("entities/cuisine.yaml", 12, "entities[1].queries[1]") in where(problems), listing
    assert ("entities/cuisine.yaml", 16, "entities[2].querys") in where(problems), listing
    assert ("entities/cuisine.yaml", 13, "entities[2].queries") in where(problems), listing
    assert ("entities/crafts.yaml", 1, "entities") in where(problems), listing
    assert "has no entities" in find(problems, "entities/crafts.yaml", "entities").message
    assert ("entities/music.yaml", 1, "category") in where(problems), listing
    assert "unknown category 'music'" in find(problems, "entities/music.yaml", "category").message
    assert ("prompts/cuisine.yaml", 4, "prompts[0].entity") in where(problems), listing
    assert ("prompts/cuisine.yaml", 8, "prompts[1].category") in where(problems), listing
    assert ("prompts/cuisine.yaml", 11, "prompts[2].id") in where(problems), listing
    assert (
        "first at prompts/cuisine.yaml:2"
        in find(problems, "prompts/cuisine.yaml", "prompts[2].id").message
    )
    assert ("prompts/cuisine.yaml", 17, "prompts[3].entity") in where(problems), listing
    assert ("glossary.yaml", 4, "terms[0].wrong[0]") in where(problems), listing
    broken = [p for p in problems if p.file == "prompts/broken.yaml"]
    assert len(broken) == 1 and broken[0].line == 3 and "malformed YAML" in broken[0].message

    with pytest.raises(PackError) as excinfo:
        load_pack(mini_pack)
    assert excinfo.value.problems == problems
    assert "entities/cuisine.yaml:6: entities[0].queries" in str(excinfo.value)


def test_duplicate_entity_id_across_files_points_at_the_first(mini_pack: Path) -> None:
    write(
        mini_pack,
        "entities/crafts.yaml",
        "category: crafts\n"
        "entities:\n"
        "  - id: moussaka\n"
        "    native_name: Μουσακάς\n"
        "    english_name: Moussaka\n"
        "    queries: [μουσακάς]\n",
    )
    problems = validate_pack(mini_pack)
    # Files are read in name order: crafts.yaml comes before cuisine.yaml.
    problem = find(problems, "entities/cuisine.yaml", "entities[0].id")
    assert problem.line == 3
    assert problem.message == "duplicate entity id 'moussaka' (first at entities/crafts.yaml:3)"


def test_category_without_entity_file_points_at_pack_yaml(mini_pack: Path) -> None:
    (mini_pack / "entities" / "crafts.yaml").unlink()
    problems = validate_pack(mini_pack)
    problem = find(problems, "pack.yaml", "categories[2]")
    assert problem.line == 17
    assert "expected entities/crafts.yaml" in problem.message


@pytest.mark.parametrize(
    ("text", "line", "field", "message"),
    [
        ("id: El Mini\n", 1, "id", "is not an id"),
        ("scripts: [Elvish]\n", 1, "scripts[0]", "unknown Unicode script"),
        ("licence:\n", 1, "licence", "Input should be a valid string"),
    ],
)
def test_pack_yaml_field_errors(
    mini_pack: Path, text: str, line: int, field: str, message: str
) -> None:
    original = (mini_pack / "pack.yaml").read_text(encoding="utf-8")
    key = text.split(":")[0]
    lines = [ln for ln in original.splitlines() if not ln.startswith(f"{key}:")]
    write(mini_pack, "pack.yaml", text + "\n".join(lines) + "\n")
    problems = validate_pack(mini_pack)
    problem = find(problems, "pack.yaml", field)
    assert problem.line == line
    assert message in problem.message


def test_missing_pack_yaml(tmp_path: Path) -> None:
    problems = validate_pack(tmp_path)
    assert len(problems) == 1
    assert problems[0].file == "pack.yaml"
    assert "not a culture pack" in problems[0].message


def test_fingerprint_changes_only_for_the_edited_category(mini_pack: Path) -> None:
    before = load_pack(mini_pack)
    path = mini_pack / "entities" / "landmarks.yaml"
    path.write_text(
        path.read_text(encoding="utf-8").replace("μονές Μετεώρων", "Μετέωρα μονή"), encoding="utf-8"
    )
    after = load_pack(mini_pack)
    assert before.category_fingerprint("landmarks") != after.category_fingerprint("landmarks")
    for category in ("cuisine", "crafts"):
        assert before.category_fingerprint(category) == after.category_fingerprint(category)


def test_fingerprint_ignores_comments_and_formatting(mini_pack: Path) -> None:
    before = load_pack(mini_pack).category_fingerprint("crafts")
    path = mini_pack / "entities" / "crafts.yaml"
    path.write_text("# reviewed\n" + path.read_text(encoding="utf-8") + "\n\n", encoding="utf-8")
    assert load_pack(mini_pack).category_fingerprint("crafts") == before
