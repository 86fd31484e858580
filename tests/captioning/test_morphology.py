"""Tokens, lemmas and inflection-insensitive phrase search (craft_dag.text.morphology)."""

import pytest

from craft_dag.text.morphology import (
    LemmaIndex,
    contains_phrase,
    find_phrase,
    lemma,
    lemmas,
    normalise_language,
    tokens,
)


def test_tokens_keep_hyphenated_words_and_drop_punctuation() -> None:
    assert tokens("Чёрно-белая фотография «Юрия Гагарина», 1961 г.") == [
        "Чёрно-белая",
        "фотография",
        "Юрия",
        "Гагарина",
        "1961",
        "г",
    ]
    assert tokens("Gagarin's smile, по-видимому — black-and-white.") == [
        "Gagarin's",
        "smile",
        "по-видимому",
        "black-and-white",
    ]


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("пирожки", "пирожок"),
        ("пирожок", "пирожок"),
        ("пирожками", "пирожок"),
        ("матрёшки", "матрешка"),  # ё folded
        ("матрешки", "матрешка"),
        ("космонавта", "космонавт"),
        ("Юрия", "юрий"),
        ("Гагарина", "гагарин"),
        ("Красной", "красный"),
        ("площади", "площадь"),
    ],
)
def test_russian_lemmas(word: str, expected: str) -> None:
    assert lemma(word, "ru") == expected


def test_plural_and_singular_nouns_share_a_lemma() -> None:
    assert lemma("пирожки", "ru") == lemma("пирожок", "ru")
    assert lemmas("Красной площади", "ru") == lemmas("Красная площадь", "ru")


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("Cosmonauts", "cosmonaut"),
        ("Gagarin's", "gagarin"),
        ("cosmonauts'", "cosmonaut"),
        ("churches", "church"),
        ("boxes", "box"),
        ("horses", "horse"),
        ("cities", "city"),
        ("glass", "glass"),
        ("is", "is"),
        ("this", "this"),
        ("children", "child"),
    ],
)
def test_english_light_normaliser(word: str, expected: str) -> None:
    assert lemma(word, "en") == expected


def test_other_languages_casefold_and_codes_are_normalised() -> None:
    assert lemma("Straße", "de") == "strasse"
    assert normalise_language("ru-RU") == "ru"
    assert lemma("Гагарина", "ru_RU") == "гагарин"


@pytest.mark.parametrize(
    ("text", "phrase", "span"),
    [
        ("Портрет Юрия Гагарина в шлеме", "Юрий Гагарин", (1, 3)),
        ("Толпа на Красной площади", "Красная площадь", (2, 4)),
        ("Блюдо с пирожками", "пирожки", (2, 3)),
        ("Блюдо с пирожками", "пирожок", (2, 3)),
        ("Две матрёшки на полке", "матрешка", (1, 2)),
        ("Шлем космонавта", "космонавт", (1, 2)),
        ("Картина Юрия Пименова", "Юрий Пименов", (1, 3)),  # best guess for Пименов is Пимен
        ("Песня крокодила Гены", "Крокодил Гена", (1, 3)),
        ("Портрет Валентины Терешковой", "Валентина Терешкова", (1, 3)),
    ],
)
def test_find_phrase_russian_inflection(text: str, phrase: str, span: tuple[int, int]) -> None:
    assert find_phrase(text, phrase, "ru") == span


def test_find_phrase_needs_the_whole_sequence_in_order() -> None:
    assert find_phrase("Гагарин Юрий", "Юрий Гагарин", "ru") is None
    assert find_phrase("Юрий Долгорукий", "Юрий Гагарин", "ru") is None
    assert not contains_phrase("Ленинград", "Ленин", "ru")


def test_part_of_speech_keeps_different_words_apart() -> None:
    # The hedge "возможно" (adverb) is not the adjective "возможные".
    assert not contains_phrase("Возможные варианты росписи", "возможно", "ru")
    assert contains_phrase("Возможно, это зима", "возможно", "ru")
    # The passive participle "изображён" is neither the noun nor the active verb.
    assert contains_phrase("На фото изображена женщина", "изображён", "ru")
    assert not contains_phrase("Изображение святого", "изображён", "ru")
    assert not contains_phrase("Художник изобразил Москву", "изображён", "ru")


def test_exact_form_tokens() -> None:
    assert contains_phrase("Видимо, пошёл снег", "=видимо", "ru")
    assert not contains_phrase("Звёзды видимы", "=видимо", "ru")


def test_find_phrase_english() -> None:
    assert find_phrase("The images show two cats", "the image shows", "en") == (0, 3)
    assert find_phrase("Yuri Gagarin's helmet", "Yuri Gagarin", "en") == (0, 2)
    assert contains_phrase("Golden domes of churches", "church", "en")
    assert not contains_phrase("Nothing here", "church", "en")


def test_lemma_index_finds_every_occurrence() -> None:
    index = LemmaIndex("На фото Гагарин, и на фото Титов", "ru")
    assert index.find_all("на фото") == [(0, 2), (4, 6)]
    assert index.text_of((0, 2)) == "На фото"
    assert index.find("космонавт") is None
    assert LemmaIndex("", "ru").find_all("на фото") == []
