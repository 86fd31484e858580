"""The glossary matcher on the paper's failure cases (section 6) and the bundled ru pack."""

from __future__ import annotations

import pytest

from craft_dag.catalog.models import GlossaryTerm
from craft_dag.catalog.pack import bundled_pack_path, load_pack
from craft_dag.translation.glossary import GlossaryHit, GlossaryMatcher, Miss


@pytest.fixture(scope="module")
def matcher() -> GlossaryMatcher:
    pack = load_pack(bundled_pack_path("ru"))
    return GlossaryMatcher(pack.glossary, pack.meta.source_language, pack.meta.target_language)


@pytest.mark.parametrize(
    "source",
    ["Космонавт машет рукой", "Портрет космонавта", "Космонавты у ракеты", "с космонавтами"],
)
def test_inflected_sources_find_the_dictionary_form(matcher: GlossaryMatcher, source: str) -> None:
    hits = matcher.find(source)
    assert [(h.source, h.target) for h in hits] == [("космонавт", "cosmonaut")]
    start, end = hits[0].span
    assert source[start:end].lower().startswith("космонавт")


def test_multi_word_term_in_an_inflected_form(matcher: GlossaryMatcher) -> None:
    source = "Ветераны Великой Отечественной войны на параде"
    [hit] = matcher.find(source)
    assert hit == GlossaryHit("Великая Отечественная война", "Great Patriotic War", (9, 36))
    assert source[slice(*hit.span)] == "Великой Отечественной войны"
    assert matcher.check(source, "Veterans of the Great Patriotic War at a parade") == []
    assert matcher.check(source, "Veterans of World War II at a parade") == [
        Miss("Великая Отечественная война", "Great Patriotic War", "World War II")
    ]


def test_cosmonaut_is_never_an_astronaut(matcher: GlossaryMatcher) -> None:
    source = "Два космонавта перед стартом"
    assert matcher.check(source, "Two cosmonauts before the launch") == []  # plural counts
    assert matcher.check(source, "Two Cosmonauts before the launch") == []  # case does not matter
    assert matcher.check(source, "Two astronauts before the launch") == [
        Miss("космонавт", "cosmonaut", "astronauts")
    ]
    # The target occurring does not excuse a wrong rendering beside it.
    assert matcher.check(source, "A cosmonaut and an astronaut") == [
        Miss("космонавт", "cosmonaut", "astronaut")
    ]


def test_pirozhki_are_never_pies(matcher: GlossaryMatcher) -> None:
    source = "Бабушка печёт пирожки с капустой"
    assert matcher.check(source, "Grandma bakes pirozhki with cabbage") == []
    assert matcher.check(source, "Grandma bakes pies with cabbage") == [
        Miss("пирожки", "pirozhki", "pies")
    ]
    assert [h.source for h in matcher.find("Тарелка пирожков")] == ["пирожки"]


def test_post_edit_keeps_case_and_number(matcher: GlossaryMatcher) -> None:
    fixed = matcher.enforce("Космонавты у ракеты", "Astronauts by the rocket")
    assert fixed.text == "Cosmonauts by the rocket"
    assert fixed.misses == ()
    assert [(e.found, e.replacement) for e in fixed.edits] == [("Astronauts", "Cosmonauts")]

    assert matcher.enforce("Космонавт", "an astronaut").text == "a cosmonaut"
    assert matcher.enforce("Баня", "An old sauna").text == "An old banya"
    assert matcher.enforce("Баня", "A sauna").text == "A banya"
    assert matcher.enforce("Изба", "An old hut and a hut").text == "An old izba and an izba"
    assert matcher.enforce("Космонавты", "ASTRONAUTS").text == "COSMONAUTS"
    assert matcher.enforce("Шлем космонавта", "The astronaut's helmet").text == (
        "The cosmonaut's helmet"
    )
    assert matcher.enforce("Пирожки на столе", "Pies on the table").text == "Pirozhki on the table"
    # A target with capitals of its own (a name) is written as the glossary has it.
    assert matcher.enforce("Дед Мороз у ёлки", "santa claus by the tree").text == (
        "Ded Moroz by the tree"
    )
    # The longer wrong rendering wins over the shorter one inside it ("Santa Claus", "Santa").
    assert matcher.enforce("Дед Мороз", "Santa Claus").edits[0].found == "Santa Claus"


def test_shared_wrong_rendering_goes_to_the_terms_in_source_order(matcher: GlossaryMatcher) -> None:
    fixed = matcher.enforce("Пельмени и вареники", "Dumplings and dumplings")
    assert fixed.text == "Pelmeni and vareniki"
    assert fixed.misses == ()


def test_unfixable_miss_is_reported(matcher: GlossaryMatcher) -> None:
    # The term was dropped: nothing to replace, so the miss stays and the text is unchanged.
    fixed = matcher.enforce("Космонавт в скафандре", "A man in a spacesuit")
    assert fixed.text == "A man in a spacesuit"
    assert fixed.edits == ()
    assert fixed.misses == (Miss("космонавт", "cosmonaut", None),)
    # An unlisted rendering is not guessed at either.
    assert matcher.enforce("Пирожки", "Buns").misses == (Miss("пирожки", "pirozhki", None),)


def test_text_without_terms_has_nothing_to_check(matcher: GlossaryMatcher) -> None:
    assert matcher.find("Красивый закат над рекой") == []
    assert matcher.check("Красивый закат над рекой", "A beautiful sunset over the river") == []
    fixed = matcher.enforce("Красивый закат", "A beautiful sunset")
    assert (fixed.text, fixed.edits, fixed.misses) == ("A beautiful sunset", (), ())


def test_forbidden_lists_the_surface_forms_of_wrong_renderings(matcher: GlossaryMatcher) -> None:
    forms = matcher.forbidden("Космонавты на орбите")
    assert {"astronaut", "Astronaut", "astronauts", "Astronauts"} <= set(forms)
    assert matcher.forbidden("Закат над рекой") == []


def test_any_language_pair_from_its_codes() -> None:
    # A target language without plural rules still matches exact word forms, case-insensitively.
    terms = [GlossaryTerm(source="дача", target="Datscha", wrong=["Hütte"])]
    matcher = GlossaryMatcher(terms, "ru", "de")
    assert matcher.check("Лето на даче", "Sommer in der Hütte") == [
        Miss("дача", "Datscha", "Hütte")
    ]
    assert matcher.enforce("Лето на даче", "Sommer in der Hütte").text == "Sommer in der Datscha"
