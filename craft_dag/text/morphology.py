"""Tokens, lemmas and inflection-insensitive phrase search, per language code.

Captions and glossary terms name things in running text, where Russian inflects them:
"Юрия Гагарина" is "Юрий Гагарин", "пирожками" is "пирожок". A plain substring test misses
those, so the linter and the glossary check compare *lemma sequences* instead.

Per language (the primary subtag of the code: ``ru-RU`` is ``ru``):

* ``ru`` (and ``uk`` when ``pymorphy3-dicts-uk`` is installed): pymorphy3's normal form, with
  ``ё`` folded to ``е`` so that "матрёшка" and "матрешка" agree. Plural nouns normalise to the
  singular ("пирожки" -> "пирожок"), suppletive plurals to their singular ("люди" -> "человек"),
  adjectives to the masculine ("Красной" -> "красный").
* ``en``: a light rule-based normaliser, not a real lemmatiser: lowercase, drop a possessive
  ``'s``/``'``, undo regular plurals (-s, -es after s/x/z/ch/sh, -ies -> -y) and a handful of
  irregular ones. It applies the same rules to every word, so verbs lose a third-person -s too
  ("shows" -> "show"), which is what phrase matching needs. Its limits: no tenses ("painted"
  stays), -oes/-ses plurals of words ending in o or s keep an "e" ("potatoes" -> "potatoe",
  "buses" -> "buse" while "bus" stays), and words ending in -ss/-us/-is are left alone.
* any other language: casefolding (with the same ``ё`` fold), so a pack in a language without
  an analyser still matches exact word forms.

:func:`find_phrase` matches a phrase token to a text token when they share a surface form or any
(lemma, part of speech) reading of the two words. Comparing *all* readings, not only the most
likely one, matters for names: pymorphy's best guess for "Пименов" is the name "Пимен", for
"Пименова" the surname "Пименов". Comparing the part of speech too keeps a short adjective's
reading from matching a full adjective: the hedge "возможно" does not fire on "возможные".
A phrase token written ``=word`` matches that word form only (casefolded), for the few phrases
where inflected forms mean something else.
"""

from __future__ import annotations

import re
from collections import defaultdict
from functools import lru_cache
from typing import Any

# A word is a run of letters or digits (any script), with inner hyphens or apostrophes kept:
# "чёрно-белая", "по-видимому", "Gagarin's" are single words.
_WORD = r"[^\W_]+(?:[-\u2010\u2011'\u2019][^\W_]+)*"
_WORD_RE = re.compile(_WORD)
_PHRASE_TOKEN_RE = re.compile("=?" + _WORD)

# Languages analysed with pymorphy3, and whether a missing dictionary is an error (for Russian,
# a dependency of the project) or a quiet fallback to casefolding (optional extra dictionaries).
_PYMORPHY_LANGUAGES: dict[str, bool] = {"ru": True, "uk": False}

# Parts of speech that pymorphy tells apart but inflected text mixes freely: a finite verb's
# normal form is its infinitive.
_POS_CLASS: dict[str, str] = {"INFN": "VERB"}

_EN_IRREGULAR_PLURALS: dict[str, str] = {
    "men": "man",
    "women": "woman",
    "children": "child",
    "feet": "foot",
    "teeth": "tooth",
    "mice": "mouse",
    "geese": "goose",
    "wolves": "wolf",
    "knives": "knife",
    "wives": "wife",
}
_EN_ES_PLURAL_ENDINGS = ("sses", "xes", "zzes", "ches", "shes")
_EN_KEEP_S_ENDINGS = ("ss", "us", "is")

# A key says how a word may match: ("=", form) for its surface form, (lemma, POS) per reading.
Key = tuple[str, str]
_SURFACE = "="


def normalise_language(language: str) -> str:
    """The primary subtag of a BCP-47 language code, lower-case: ``"ru-RU"`` -> ``"ru"``."""
    return language.strip().replace("_", "-").split("-", 1)[0].lower()


def fold(word: str) -> str:
    """Casefold a word and fold ``ё`` into ``е``, the spelling most Russian text uses."""
    return word.casefold().replace("ё", "е")


def tokens(text: str) -> list[str]:
    """The words of a text in order, Unicode-aware, hyphenated words kept whole."""
    return _WORD_RE.findall(text)


@lru_cache(maxsize=8)
def _analyser(language: str) -> Any | None:
    """A cached pymorphy3 analyser for a language, or None where there is none."""
    required = _PYMORPHY_LANGUAGES.get(language)
    if required is None:
        return None
    try:
        import pymorphy3

        return pymorphy3.MorphAnalyzer(lang=language)
    except (ImportError, ValueError, OSError, LookupError):
        if required:
            raise
        return None


def _english_lemma(folded: str) -> str:
    """The rule-based English normal form of a casefolded word (see the module docstring)."""
    word = folded
    if word.endswith(("'s", "\u2019s")):
        word = word[:-2]
    elif word.endswith(("'", "\u2019")):
        word = word[:-1]
    if word in _EN_IRREGULAR_PLURALS:
        return _EN_IRREGULAR_PLURALS[word]
    # Short words ("is", "was", "has", "its") are never plurals worth undoing.
    if len(word) <= 3 or not word[-1].isalpha():
        return word
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(_EN_ES_PLURAL_ENDINGS):
        return word[:-2]
    if word.endswith("s") and not word.endswith(_EN_KEEP_S_ENDINGS):
        return word[:-1]
    return word


@lru_cache(maxsize=1 << 18)
def _lemma_folded(folded: str, language: str) -> str:
    analyser = _analyser(language)
    if analyser is not None:
        parses = analyser.parse(folded)
        return fold(parses[0].normal_form) if parses else folded
    if language == "en":
        return _english_lemma(folded)
    return folded


def lemma(word: str, language: str) -> str:
    """The dictionary form of one word in a language (cached; see the module docstring)."""
    return _lemma_folded(fold(word), normalise_language(language))


def lemmas(text: str, language: str) -> list[str]:
    """The lemma of every word of a text, in order."""
    lang = normalise_language(language)
    return [_lemma_folded(fold(t), lang) for t in tokens(text)]


@lru_cache(maxsize=1 << 18)
def _word_keys(folded: str, language: str) -> frozenset[Key]:
    """Every way a word may match: its surface form and each (lemma, POS) reading."""
    keys: set[Key] = {(_SURFACE, folded)}
    analyser = _analyser(language)
    if analyser is not None:
        for parse in analyser.parse(folded):
            pos = str(parse.tag.POS or "")
            keys.add((fold(parse.normal_form), _POS_CLASS.get(pos, pos)))
    else:
        keys.add((_lemma_folded(folded, language), ""))
    return frozenset(keys)


@lru_cache(maxsize=1 << 16)
def _phrase_keys(phrase: str, language: str) -> tuple[frozenset[Key], ...]:
    """Per token of a phrase, the keys a text token must share one of."""
    out: list[frozenset[Key]] = []
    for token in _PHRASE_TOKEN_RE.findall(phrase):
        if token.startswith("="):
            out.append(frozenset({(_SURFACE, fold(token[1:]))}))
        else:
            out.append(_word_keys(fold(token), language))
    return tuple(out)


def first_word_keys(phrase: str, language: str) -> frozenset[Key]:
    """The keys of a phrase's first word: a text can hold the phrase only if it has one.

    Lets a caller with many phrases (the merged glossary) try only those whose first word
    occurs in a text (``LemmaIndex.keys``) instead of searching for every one.
    """
    keys = _phrase_keys(phrase, normalise_language(language))
    return keys[0] if keys else frozenset()


class LemmaIndex:
    """One text analysed once, to search for many phrases in it by lemma.

    The linter checks dozens of phrases per caption; building the index costs one analysis per
    word (cached across texts) and each search then costs a dictionary look-up per reading of
    the phrase's first word.
    """

    __slots__ = ("_keys", "_positions", "language", "tokens")

    def __init__(self, text: str, language: str) -> None:
        """Tokenise ``text`` and look up every reading of its words in ``language``."""
        self.language = normalise_language(language)
        self.tokens: list[str] = tokens(text)
        self._keys = [_word_keys(fold(t), self.language) for t in self.tokens]
        positions: dict[Key, list[int]] = defaultdict(list)
        for index, keys in enumerate(self._keys):
            for key in keys:
                positions[key].append(index)
        self._positions = dict(positions)

    @property
    def keys(self) -> frozenset[Key]:
        """Every key of every word of the text (see :func:`first_word_keys`)."""
        return frozenset(self._positions)

    def find_all(self, phrase: str) -> list[tuple[int, int]]:
        """Every token span ``(start, end)`` (end exclusive) where the phrase occurs, in order."""
        wanted = _phrase_keys(phrase, self.language)
        if not wanted:
            return []
        starts: set[int] = set()
        for key in wanted[0]:
            starts.update(self._positions.get(key, ()))
        size, length = len(wanted), len(self._keys)
        return [
            (start, start + size)
            for start in sorted(starts)
            if start + size <= length
            and all(wanted[j] & self._keys[start + j] for j in range(1, size))
        ]

    def find(self, phrase: str) -> tuple[int, int] | None:
        """The first token span where the phrase occurs, or None."""
        spans = self.find_all(phrase)
        return spans[0] if spans else None

    def text_of(self, span: tuple[int, int]) -> str:
        """The words of a token span as they are written in the text, space-joined."""
        return " ".join(self.tokens[span[0] : span[1]])


def find_phrase(text: str, phrase: str, language: str) -> tuple[int, int] | None:
    """The first token span ``(start, end)`` where the phrase's lemmas occur in the text's.

    ``find_phrase("Портрет Юрия Гагарина", "Юрий Гагарин", "ru") == (1, 3)``.
    """
    return LemmaIndex(text, language).find(phrase)


def contains_phrase(text: str, phrase: str, language: str) -> bool:
    """Whether the phrase occurs in the text, inflection aside (see :func:`find_phrase`)."""
    return find_phrase(text, phrase, language) is not None
