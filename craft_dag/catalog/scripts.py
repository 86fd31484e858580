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


@lru_cache(maxsize=64)
def is_known_script(script: str) -> bool:
    """True if some letter's Unicode name starts with ``script`` (Cyrillic, Greek, CJK, ...).

    Scans code points in order and stops at the first match: common scripts sit low in the
    code space, so the usual answer takes microseconds; only a misspelt name scans it all.
    """
    word = _script_word(script)
    for code in range(sys.maxunicode + 1):
        char = chr(code)
        if char.isalpha() and _first_word(char) == word:
            return True
    return False


def has_letter_of(text: str, scripts: list[str]) -> bool:
    """True if ``text`` holds at least one letter of one of ``scripts``."""
    wanted = {_script_word(s) for s in scripts}
    return any(char.isalpha() and _first_word(char) in wanted for char in text)
