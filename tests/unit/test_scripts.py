import pytest

from craft_dag.catalog.scripts import has_letter_of, is_known_script


@pytest.mark.parametrize(
    ("text", "scripts", "expected"),
    [
        ("космонавт Гагарин", ["Cyrillic"], True),
        ("ВАЗ-2101", ["Cyrillic"], True),
        ("VAZ-2101", ["Cyrillic"], False),
        ("2101", ["Cyrillic"], False),
        ("Παρθενώνας", ["Greek"], True),
        ("Parthenon", ["Greek"], False),
        ("北京烤鸭", ["Han"], True),
        ("김치", ["Hangul"], True),
        ("すし", ["Hiragana", "Katakana", "CJK"], True),
        ("Gagarin", ["Cyrillic", "Latin"], True),
    ],
)
def test_has_letter_of(text: str, scripts: list[str], expected: bool) -> None:
    assert has_letter_of(text, scripts) is expected


@pytest.mark.parametrize(
    "script", ["Cyrillic", "cyrillic", "Latin", "Greek", "Arabic", "Han", "Devanagari"]
)
def test_known_scripts(script: str) -> None:
    assert is_known_script(script)


def test_unknown_script() -> None:
    assert not is_known_script("Klingon")
