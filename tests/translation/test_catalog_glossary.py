"""Every catalog entity of the bundled pack is a glossary term (issue 12, part 4).

Each case names an entity, a Russian caption with the entity in a non-nominative case, its
right English rendering and a generic one that machine translation produces. The right one
must pass with no miss at all; the generic one must miss exactly that entity's term.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from craft_dag.catalog.glossary import english_renderings, merged_glossary
from craft_dag.catalog.pack import bundled_pack_path, load_pack
from craft_dag.text.morphology import fold, tokens
from craft_dag.translation.cli import main as glossary_main
from craft_dag.translation.glossary import GlossaryMatcher

# (entity id, caption, the inflected form in it, right rendering, generic rendering)
CASES = [
    # utensils_household
    (
        "samovar",
        "Чай из самовара на даче",
        "самовара",
        "Tea from a samovar at the dacha",
        "Tea from a kettle at the dacha",
    ),
    (
        "chugunok",
        "Картошка в чугунке",
        "чугунке",
        "Potatoes in a chugunok",
        "Potatoes in a cast-iron pot",
    ),
    (
        "avoska_string_bag",
        "Женщина с авоськами",
        "авоськами",
        "A woman with avoskas",
        "A woman with string bags",
    ),
    ("bratina", "Мёд в братине", "братине", "Honey in a bratina", "Honey in a bowl"),
    (
        "primus_stove",
        "Чайник на примусе",
        "примусе",
        "A teapot on a Primus stove",
        "A teapot on a camping stove",
    ),
    # clothing_costume
    ("kokoshnik", "Девушка в кокошнике", "кокошнике", "A girl in a kokoshnik", "A girl in a crown"),
    ("valenki", "Дети в валенках", "валенках", "Children in valenki", "Children in felt boots"),
    ("sarafan", "Девушки в сарафанах", "сарафанах", "Girls in sarafans", "Girls in dresses"),
    ("ushanka", "Мужчина в ушанке", "ушанке", "A man in an ushanka", "A man in a fur hat"),
    (
        "tulup",
        "Ямщик в тулупе",
        "тулупе",
        "A coachman in a tulup",
        "A coachman in a sheepskin coat",
    ),
    (
        "budenovka",
        "Мальчик в будёновке",
        "будёновке",
        "A boy in a budenovka",
        "A boy in a pointed hat",
    ),
    # national_cuisine
    ("kvass", "Кружка кваса", "кваса", "A mug of kvass", "A mug of beer"),
    ("okroshka", "Тарелка окрошки", "окрошки", "A plate of okroshka", "A plate of cold soup"),
    ("ukha", "Котелок ухи", "ухи", "A pot of ukha", "A pot of fish soup"),
    ("medovik_cake", "Кусок медовика", "медовика", "A slice of medovik", "A slice of honey cake"),
    (
        "sbiten",
        "Самовар со сбитнем",
        "сбитнем",
        "A samovar with sbiten",
        "A samovar with mulled wine",
    ),
    # folk_crafts_traditions
    (
        "matryoshka",
        "Ряд матрёшек на полке",
        "матрёшек",
        "A row of matryoshkas on a shelf",
        "A row of nesting dolls on a shelf",
    ),
    ("balalaika", "Игра на балалайке", "балалайке", "Playing the balalaika", "Playing the guitar"),
    (
        "bayan",
        "Старик с баяном",
        "баяном",
        "An old man with a bayan",
        "An old man with an accordion",
    ),
    (
        "khokhloma",
        "Ложки с хохломой",
        "хохломой",
        "Spoons with Khokhloma",
        "Spoons with a red and gold pattern",
    ),
    # fauna
    ("sable", "Мех соболя", "соболя", "The fur of a sable", "The fur of a marten"),
    (
        "western_capercaillie",
        "Песня глухаря",
        "глухаря",
        "The song of a capercaillie",
        "The song of a grouse",
    ),
    ("bullfinch", "Стайка снегирей", "снегирей", "A flock of bullfinches", "A flock of red birds"),
    # trees_plants
    (
        "cloudberry",
        "Корзина морошки",
        "морошки",
        "A basket of cloudberries",
        "A basket of yellow berries",
    ),
    ("fly_agaric", "Под мухомором", "мухомором", "Under a fly agaric", "Under a mushroom"),
    (
        "lingonberry",
        "Варенье из брусники",
        "брусники",
        "Jam made of lingonberries",
        "Jam made of cranberries",
    ),
    # technic
    (
        "t34_tank",
        "Экипаж танка Т-34",
        "танка",
        "The crew of a T-34 tank",
        "The crew of a Soviet tank",
    ),
]


@pytest.fixture(scope="module")
def pack():  # type: ignore[no-untyped-def]
    return load_pack(bundled_pack_path("ru"))


@pytest.fixture(scope="module")
def matcher(pack) -> GlossaryMatcher:  # type: ignore[no-untyped-def]
    return GlossaryMatcher.for_pack(pack)


def test_the_cases_cover_enough_entities_and_categories(pack) -> None:  # type: ignore[no-untyped-def]
    category_of = {e.id: c for c, rows in pack.entities.items() for e in rows}
    assert len({case[0] for case in CASES}) >= 20
    assert len({category_of[case[0]] for case in CASES}) >= 5
    for entity_id, caption, form, *_ in CASES:
        entity = next(e for e in pack.entities[category_of[entity_id]] if e.id == entity_id)
        assert form in tokens(caption)
        # The form is inflected: no name of the entity is written that way.
        assert all(fold(form) not in map(fold, tokens(n)) for n in [entity.native_name])


@pytest.mark.parametrize(("entity_id", "caption", "form", "right", "generic"), CASES)
def test_an_entity_in_any_case_is_a_term(
    matcher: GlossaryMatcher, entity_id: str, caption: str, form: str, right: str, generic: str
) -> None:
    assert matcher.check(caption, right) == []
    misses = matcher.check(caption, generic)
    assert [(m.entity, m.origin) for m in misses if m.entity == entity_id] == [
        (entity_id, "catalog")
    ]
    assert all(m.entity == entity_id or m.origin == "glossary" for m in misses)


def test_the_merged_glossary_has_a_term_for_nearly_every_entity(pack) -> None:  # type: ignore[no-untyped-def]
    merged = merged_glossary(pack)
    assert merged.glossary_terms == len(pack.glossary)
    assert merged.entities == sum(len(rows) for rows in pack.entities.values())
    # An entity gives no term only when the glossary holds all its names or it is excluded.
    assert merged.catalog_terms >= merged.entities - len(merged.excluded)
    assert len(merged.excluded) <= merged.entities // 20
    assert len({t.source for t in merged.terms}) == len(merged.terms)


def test_english_names_become_renderings() -> None:
    assert english_renderings("Tulup (sheepskin coat)") == ("Tulup",)
    assert english_renderings("The Irony of Fate, or Enjoy Your Bath!") == (
        "The Irony of Fate, or Enjoy Your Bath",
        "Irony of Fate, or Enjoy Your Bath",
        "The Irony of Fate",
        "Irony of Fate",
        "Enjoy Your Bath",
    )
    assert english_renderings("To buy a cat in a sack (to buy a pig in a poke)") == (
        "To buy a cat in a sack",
        "buy a cat in a sack",
    )


def test_multiword_names_and_aliases_match_inflected(matcher: GlossaryMatcher) -> None:
    # "Тульский самовар" (an alias) in the prepositional, "Шапка-ушанка" by its alias.
    assert matcher.check("Чай в тульском самоваре", "Tea in a Tula samovar") == []
    assert [m.entity for m in matcher.check("Чай в тульском самоваре", "Tea in a pot")] == [
        "samovar"
    ]
    assert matcher.check("Портрет Юрия Гагарина", "A portrait of Yuri Gagarin") == []
    assert [m.entity for m in matcher.check("Портрет Юрия Гагарина", "A portrait")] == [
        "yuri_gagarin"
    ]


def test_a_name_inside_a_longer_name_is_not_a_term_of_its_own(matcher: GlossaryMatcher) -> None:
    # Ёжик (the hedgehog's alias) inside the cartoon's title asks only for the title.
    assert matcher.check("Кадр из «Ёжика в тумане»", "A still from Hedgehog in the Fog") == []
    hits = matcher.find("Кадр из «Ёжика в тумане»")
    assert [h.entity for h in hits] == ["hedgehog_in_the_fog"]


def test_latin_aliases_are_renderings(matcher: GlossaryMatcher) -> None:
    assert matcher.check("Белая «копейка» ВАЗ-2101", "A white VAZ-2101") == []
    assert matcher.check("Белый ВАЗ-2101", "A white Lada 1200") == []
    assert [m.entity for m in matcher.check("Белый ВАЗ-2101", "A white car")] == ["vaz_2101"]


def _set_catalog(root: Path, text: str) -> None:
    """Replace the ``catalog:`` section of a pack copy's glossary.yaml."""
    path = root / "glossary.yaml"
    kept = path.read_text(encoding="utf-8").split("\ncatalog:\n")[0]
    path.write_text(kept + "\ncatalog:\n" + text, encoding="utf-8")


def test_exclude_drops_entities_and_common_words(ru_pack_copy: Path) -> None:
    _set_catalog(ru_pack_copy, "  exclude: [samovar]\n  exclude_sources: [кокошник]\n")
    matcher = GlossaryMatcher.for_pack(load_pack(ru_pack_copy))
    assert matcher.check("Чай из самовара", "Tea from a kettle") == []
    assert matcher.check("Девушка в кокошнике", "A girl in a crown") == []
    assert [m.entity for m in matcher.check("Дети в валенках", "Children in felt boots")] == [
        "valenki"
    ]


def test_accepted_adds_renderings(ru_pack_copy: Path) -> None:
    _set_catalog(ru_pack_copy, "  accepted:\n    valenki: [felt boots]\n")
    matcher = GlossaryMatcher.for_pack(load_pack(ru_pack_copy))
    assert matcher.check("Дети в валенках", "Children in felt boots") == []


def test_a_glossary_term_overrides_the_entity(ru_pack_copy: Path) -> None:
    term = (
        "  - source: валенки\n"
        "    target: valenki boots\n"
        "    wrong: [felt boots]\n"
        "    entity: valenki\n"
    )
    path = ru_pack_copy / "glossary.yaml"
    path.write_text(
        path.read_text(encoding="utf-8").replace("terms:\n", "terms:\n" + term, 1),
        encoding="utf-8",
    )
    pack = load_pack(ru_pack_copy)
    matcher = GlossaryMatcher.for_pack(pack)
    [miss] = matcher.check("Дети в валенках", "Children in felt boots")
    assert (miss.origin, miss.target, miss.found_wrong) == (
        "glossary",
        "valenki boots",
        "felt boots",
    )
    assert matcher.enforce("Дети в валенках", "Children in felt boots").text == (
        "Children in valenki boots"
    )
    assert not any(t.entity == "valenki" and t.origin == "catalog" for t in matcher.terms)
    # An override that names its entity is meant: no conflict is added for it.
    bundled = merged_glossary(load_pack(bundled_pack_path("ru")))
    assert merged_glossary(pack).conflicts == bundled.conflicts


def test_glossary_check_reports_catalog_terms_with_their_origin(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "c.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["source", "translation"])
        for _, caption, _, right, generic in CASES:
            writer.writerow([caption, right])
            writer.writerow([caption, generic])
        writer.writerow(["Два космонавта", "Two astronauts"])
    assert glossary_main(["glossary", "check", str(path), "--out", str(tmp_path / "o.csv")]) == 1
    captured = capsys.readouterr()
    assert f"{2 * len(CASES) + 1} rows, {len(CASES) + 1} with glossary misses" in captured.out
    assert "from catalog entities" in captured.out
    assert "Самовар -> 'Samovar' required, not found [catalog: samovar]" in captured.err
    assert "космонавт -> 'cosmonaut' required, found 'astronauts' [glossary]" in captured.err
    with (tmp_path / "o.csv").open(encoding="utf-8") as handle:
        misses = [row["misses"] for row in csv.DictReader(handle)]
    assert misses[0::2][: len(CASES)] == [""] * len(CASES)
    assert all(misses[1::2])


def _add_term(root: Path, term: str) -> None:
    path = root / "glossary.yaml"
    text = path.read_text(encoding="utf-8").replace("terms:\n", "terms:\n" + term, 1)
    path.write_text(text, encoding="utf-8")


def test_pack_validate_reports_a_glossary_catalog_conflict(
    ru_pack_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from craft_dag.cli import main as craft_main

    assert craft_main(["pack", "validate", str(ru_pack_copy), "--strict"]) == 0
    assert "0 glossary/catalog conflicts" in capsys.readouterr().out
    _add_term(ru_pack_copy, "  - source: сарафан\n    target: sundress\n    wrong: [dress]\n")
    assert craft_main(["pack", "validate", str(ru_pack_copy)]) == 0  # a warning
    assert craft_main(["pack", "validate", str(ru_pack_copy), "--strict"]) == 1
    err = capsys.readouterr().err
    assert "glossary term 'сарафан' -> 'sundress' conflicts with catalog entity sarafan" in err
    # The glossary's rendering is the one checked.
    matcher = GlossaryMatcher.for_pack(load_pack(ru_pack_copy))
    assert [m.origin for m in matcher.check("Девушки в сарафанах", "Girls in sarafans")] == [
        "glossary"
    ]


def test_an_override_naming_its_entity_is_no_conflict(ru_pack_copy: Path) -> None:
    _add_term(
        ru_pack_copy,
        "  - source: сарафан\n    target: sundress\n    wrong: [dress]\n    entity: sarafan\n",
    )
    assert merged_glossary(load_pack(ru_pack_copy)).conflicts == ()


def test_unknown_entities_in_the_catalog_section_are_problems(ru_pack_copy: Path) -> None:
    from craft_dag.catalog.pack import validate_pack

    _set_catalog(ru_pack_copy, "  exclude: [no_such_entity]\n  accepted:\n    nope: [x]\n")
    problems = [str(p) for p in validate_pack(ru_pack_copy)]
    assert any("catalog.exclude[0]: unknown entity 'no_such_entity'" in p for p in problems)
    assert any("catalog.accepted.nope: unknown entity 'nope'" in p for p in problems)


def test_two_entities_sharing_a_name_give_no_false_alarm(matcher: GlossaryMatcher) -> None:
    # "Крещение" is a name of the Epiphany bathing; "Крещение Руси" the baptism of Rus: the
    # longer name is the term there.
    assert matcher.check("Картина «Крещение Руси»", "The painting Baptism of Rus") == []
