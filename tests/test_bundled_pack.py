"""The bundled Russian pack meets the bar the project set for it."""

from collections import Counter

import pytest

from craft_dag.catalog.pack import bundled_pack_path, load_pack, validate_pack

RU = bundled_pack_path("ru")

EXPECTED_CATEGORIES = [
    "famous_personalities",
    "movies_tv",
    "cartoons",
    "literature",
    "painting_art",
    "holidays",
    "national_cuisine",
    "utensils_household",
    "technic",
    "trees_plants",
    "fauna",
    "nature_geography",
    "architecture_landmarks",
    "folk_crafts_traditions",
    "clothing_costume",
    "history_soviet_life",
    "proverbs_idioms",
]


@pytest.fixture(scope="module")
def pack():
    problems = validate_pack(RU)
    assert problems == [], "\n".join(map(str, problems))
    return load_pack(RU)


def test_seventeen_categories(pack) -> None:
    assert pack.category_ids == EXPECTED_CATEGORIES
    assert pack.meta.source_language == "ru" and pack.meta.target_language == "en"


def test_at_least_20_entities_per_category_each_with_3_queries(pack) -> None:
    for category in pack.category_ids:
        rows = pack.entities[category]
        assert len(rows) >= 20, category
        thin = [e.id for e in rows if len(e.queries) < 3]
        assert not thin, f"{category}: fewer than 3 queries for {thin}"
    assert sum(len(rows) for rows in pack.entities.values()) >= 340


def test_paper_examples_are_present(pack) -> None:
    """Table 1 of the paper names these entities; the pack keeps them."""
    names = {e.native_name.casefold() for rows in pack.entities.values() for e in rows}
    english = {e.english_name.casefold() for rows in pack.entities.values() for e in rows}
    assert any("гагарин" in n for n in names)
    assert any("2101" in n for n in names)
    assert "samovar" in english
    assert any("берёза" in n or "береза" in n for n in names)


def test_glossary_has_60_terms_with_the_known_traps(pack) -> None:
    assert len(pack.glossary) >= 60
    terms = {t.source.casefold(): t for t in pack.glossary}
    cosmonaut = terms["космонавт"]
    assert cosmonaut.target == "cosmonaut"
    assert "astronaut" in [w.casefold() for w in cosmonaut.wrong]
    assert all(t.wrong for t in pack.glossary), "every term names at least one wrong rendering"


def test_120_evaluation_prompts_over_every_category(pack) -> None:
    assert len(pack.prompts) >= 120
    per_category = Counter(p.category for p in pack.prompts)
    assert set(per_category) == set(pack.category_ids)
    assert min(per_category.values()) >= 5
