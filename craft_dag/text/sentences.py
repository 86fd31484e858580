"""Sentence splitting per language code, for the caption guideline's "2 to 10 sentences".

Russian goes through razdel's ``sentenize``, which knows Russian abbreviations ("т. е.", "г.",
"ул.") and initials ("А. С. Пушкин"); a break it makes inside a quotation that closes later is
undone. Its one known weakness here: an abbreviation that really
ends a sentence ("... в 1937 г. Художник ...") is kept inside it, so such a pair counts as one.

Every other language gets a regex splitter: a sentence ends at ``.``, ``!``, ``?`` or ``…``
(with closing quotes or brackets after it) followed by white space, or at the CJK full stops,
unless

* the word before the dot is a known abbreviation of the language (:data:`ABBREVIATIONS`,
  keyed by language code; a pack's language without a table gets only the rules below),
* it is a single capital letter, an initial ("J. R. R. Tolkien", "A. S. Pushkin"), or
* the next sentence would begin with a lower-case letter (so "e.g. a samovar" stays whole), or
* it is inside a quotation that closes later in the text: the question marks of a title such as
  "What? Where? When?" do not end the sentence that names it (razdel does the same for Russian).
"""

from __future__ import annotations

import re

from craft_dag.text.morphology import normalise_language

# Abbreviations that a dot follows without ending the sentence, casefolded, without the dot.
# Keyed by language code so that a pack's language adds its own table without code changes.
ABBREVIATIONS: dict[str, frozenset[str]] = {
    "en": frozenset(
        {
            "mr",
            "mrs",
            "ms",
            "dr",
            "prof",
            "st",
            "jr",
            "sr",
            "mt",
            "ft",
            "gen",
            "col",
            "lt",
            "capt",
            "sgt",
            "rev",
            "vs",
            "etc",
            "e.g",
            "i.e",
            "cf",
            "approx",
            "ca",
            "c",
            "no",
            "nos",
            "vol",
            "fig",
            "ed",
            "jan",
            "feb",
            "mar",
            "apr",
            "jun",
            "jul",
            "aug",
            "sep",
            "sept",
            "oct",
            "nov",
            "dec",
            "u.s",
            "u.k",
            "u.s.s.r",
        }
    ),
}

# Abbreviations that commonly end a sentence too: they split when the next word is capitalised.
_MAY_END: dict[str, frozenset[str]] = {"en": frozenset({"etc"})}

_BOUNDARY = re.compile(r"(?:[.!?\u2026]+[\"'\u00bb\u201d\u2019)\]]*\s+|[\u3002\uff01\uff1f]+\s*)")
# The word just before a dot: letters and inner dots ("e.g", "U.S").
_LAST_WORD = re.compile(r"([^\W\d_]+(?:\.[^\W\d_]+)*)\.$")


# Quotation marks that open and close a quotation (ASCII double quotes both open and close).
_QUOTE_PAIRS = (("\u00ab", "\u00bb"), ("\u201c", "\u201d"))


def _inside_quotes(text: str, position: int) -> bool:
    """Whether ``position`` is inside a quotation that is closed after it.

    A quote that is never closed (a stray inch mark) does not count, so it cannot swallow the
    sentence ends of the rest of the text.
    """
    before, after = text[:position], text[position:]
    if before.count('"') % 2 == 1 and '"' in after:
        return True
    return any(
        before.count(opening) > before.count(closing) and closing in after
        for opening, closing in _QUOTE_PAIRS
    )


def _split_regex(text: str, language: str) -> list[str]:
    abbreviations = ABBREVIATIONS.get(language, frozenset())
    may_end = _MAY_END.get(language, frozenset())
    sentences: list[str] = []
    start = 0
    for match in _BOUNDARY.finditer(text):
        end = match.end()
        following = text[end : end + 1]
        if not following:
            break
        if following.islower() or _inside_quotes(text, end):
            continue
        head = text[start : match.start() + 1]
        last = _LAST_WORD.search(head) if text[match.start()] == "." else None
        if last is not None:
            word = last.group(1)
            folded = word.casefold()
            if folded in abbreviations and folded not in may_end:
                continue
            if len(word) == 1 and word.isupper():
                continue
        sentences.append(text[start:end].strip())
        start = end
    sentences.append(text[start:].strip())
    return [s for s in sentences if s]


def _split_razdel(text: str) -> list[str]:
    from razdel import sentenize

    # razdel ends a sentence inside quoted speech («Медвежонок! Медвежонок!»); such a piece is
    # glued back to the sentence that quotes it, as the regex splitter does.
    sentences: list[str] = []
    start = 0
    for piece in sentenize(text):
        if sentences and _inside_quotes(text, piece.start):
            sentences[-1] = text[start : piece.stop]
        else:
            start = piece.start
            sentences.append(piece.text)
    return [s.strip() for s in sentences if s.strip()]


# Languages with a dedicated splitter; the rest use the regex rules above.
_SPLITTERS = {"ru": _split_razdel}


def split_sentences(text: str, language: str) -> list[str]:
    """The sentences of a text, stripped, empty ones dropped (see the module docstring)."""
    lang = normalise_language(language)
    splitter = _SPLITTERS.get(lang)
    if splitter is not None:
        return splitter(text)
    return _split_regex(text, lang)
