"""Sentence splitting per language (craft_dag.text.sentences)."""

import pytest

from craft_dag.text.sentences import split_sentences


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "А. С. Пушкин родился в 1799 г. в Москве. Он писал стихи, т. е. был поэтом.",
            ["А. С. Пушкин родился в 1799 г. в Москве.", "Он писал стихи, т. е. был поэтом."],
        ),
        (
            "На ул. Ленина стоит дом. Он старый...  Очень!",
            ["На ул. Ленина стоит дом.", "Он старый...", "Очень!"],
        ),
        ("Он сказал: «Привет!» Потом ушёл.", ["Он сказал: «Привет!»", "Потом ушёл."]),
        ("Цена 3.5 руб. за штуку. Дёшево", ["Цена 3.5 руб. за штуку.", "Дёшево"]),
        ("", []),
    ],
)
def test_russian(text: str, expected: list[str]) -> None:
    assert split_sentences(text, "ru") == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "J. R. R. Tolkien wrote it. Dr. Watson came, e.g. on foot.",
            ["J. R. R. Tolkien wrote it.", "Dr. Watson came, e.g. on foot."],
        ),
        (
            "A. S. Pushkin was born in 1799. Mr. Smith met Mrs. Jones on Jan. 5. They talked.",
            [
                "A. S. Pushkin was born in 1799.",
                "Mr. Smith met Mrs. Jones on Jan. 5.",
                "They talked.",
            ],
        ),
        (
            'It weighs 3.5 kg. Pies, jam, etc. The shop closed! Really? "Yes." Then',
            [
                "It weighs 3.5 kg.",
                "Pies, jam, etc.",
                "The shop closed!",
                "Really?",
                '"Yes."',
                "Then",
            ],
        ),
        ("Painted c. 1937 by Yuri Pimenov.", ["Painted c. 1937 by Yuri Pimenov."]),
        ("One sentence without a stop", ["One sentence without a stop"]),
        ("   ", []),
    ],
)
def test_english(text: str, expected: list[str]) -> None:
    assert split_sentences(text, "en") == expected


def test_other_languages_use_the_regex_rules() -> None:
    assert split_sentences("猫です。犬です。", "ja") == ["猫です。", "犬です。"]
    assert split_sentences("Erste Zeile. Zweite Zeile.", "de") == ["Erste Zeile.", "Zweite Zeile."]
    assert split_sentences("Две фразы. Вторая.", "ru-RU") == ["Две фразы.", "Вторая."]


@pytest.mark.parametrize(
    ("text", "language", "expected"),
    [
        # A title's question marks are inside the sentence that names it.
        (
            'The studio of "What? Where? When?" at night. Six players sit.',
            "en",
            ['The studio of "What? Where? When?" at night.', "Six players sit."],
        ),
        (
            "A still from “Kin-dza-dza!” Two men stand in a desert.",
            "en",
            ["A still from “Kin-dza-dza!”", "Two men stand in a desert."],
        ),
        # An inch mark never closes: it does not swallow the sentence ends after it.
        (
            'A 12" record. It is black. It spins.',
            "en",
            ['A 12" record.', "It is black.", "It spins."],
        ),
        # razdel's break inside quoted speech is undone; a quote that ended is not reopened.
        (
            "Ёжик зовёт: «Медвежонок! Медвежонок!» Туман густеет.",
            "ru",
            ["Ёжик зовёт: «Медвежонок! Медвежонок!»", "Туман густеет."],
        ),
    ],
)
def test_quotations(text: str, language: str, expected: list[str]) -> None:
    assert split_sentences(text, language) == expected
