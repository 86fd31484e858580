"""Which writing system a piece of text is in, by the Unicode names of its letters.

A query pasted in the wrong language is the commonest pack mistake; the check is deliberately
simple: the text must hold at least one letter whose Unicode name starts with one of the pack's
script names (CYRILLIC SMALL LETTER A, CJK UNIFIED IDEOGRAPH-4E00, HANGUL SYLLABLE GA, ...).
"""

import sys
import unicodedata
from functools import lru_cache

# Common names people write that differ from the first word of the Unicode character names.
_ALIASES = {"han": "CJK", "chinese": "CJK", "kanji": "CJK", "korean": "HANGUL"}


def _script_word(script: str) -> str:
    return _ALIASES.get(script.casefold(), script.upper())


def _first_word(char: str) -> str:
    return unicodedata.name(char, "").split(" ", 1)[0]


@lru_cache(maxsize=1)
def known_scripts() -> frozenset[str]:
    """First words of the Unicode names of every letter: the script names a pack may use."""
    words = set()
    for code in range(sys.maxunicode + 1):
        char = chr(code)
        if char.isalpha():
            words.add(_first_word(char))
    words.discard("")
    return frozenset(words)


def is_known_script(script: str) -> bool:
    return _script_word(script) in known_scripts()


def has_letter_of(text: str, scripts: list[str]) -> bool:
    """True if ``text`` holds at least one letter of one of ``scripts``."""
    wanted = {_script_word(s) for s in scripts}
    return any(char.isalpha() and _first_word(char) in wanted for char in text)
