"""Check captions against the paper's captioning guideline (section 4.3).

Rules, in the order violations are reported (:data:`RULE_IDS`):

* ``too_few_sentences`` / ``too_many_sentences``: outside ``min_sentences``..``max_sentences``
  (2..10), counted by :func:`craft_dag.text.sentences.split_sentences`;
* ``missing_entity``: none of the entity's names (native, English, aliases) occurs, inflection
  aside, in the caption's language, nor as the same casefolded words in any language (an
  English name quoted in a Russian caption counts);
* ``viewing_phrase``, ``hedging``, ``usage_guess``: a phrase of the language's lists
  (:mod:`craft_dag.catalog.caption_rules`) occurs, unless inside an ``allowed`` phrase;
* ``templated``: across the captions of one entity, more than ``templated_share`` of them (with
  at least ``templated_min_captions``) start with the same first ``templated_prefix_words``
  lemmas. Every caption sharing that opening is flagged.

A row without a language gets one by script (:func:`detect_language`): the script with most
letters in the caption, looked up in a script -> language table (:data:`SCRIPT_LANGUAGES`,
Cyrillic -> ``ru`` and Latin -> ``en`` by default; the CLI builds it from a pack's ``scripts``,
``source_language`` and ``target_language``). A caption with no letter of a known script gets
the default language.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

from craft_dag.catalog.caption_rules import DEFAULT_RULES, CaptionRules, LanguageRules
from craft_dag.text.morphology import LemmaIndex, fold, lemma, tokens
from craft_dag.text.sentences import split_sentences

RULE_IDS: tuple[str, ...] = (
    "too_few_sentences",
    "too_many_sentences",
    "missing_entity",
    "viewing_phrase",
    "hedging",
    "usage_guess",
    "templated",
)

# Script (first word of the Unicode character names) -> language code, for rows without one.
SCRIPT_LANGUAGES: dict[str, str] = {"CYRILLIC": "ru", "LATIN": "en"}
DEFAULT_LANGUAGE = "en"

# The language code for "no analyser": LemmaIndex then compares casefolded word forms.
_PLAIN = "und"

# Hyphens inside words (ASCII, Unicode hyphen and non-breaking hyphen), as tokens() keeps them.
_HYPHENS = re.compile(r"(?<=[^\W_])[-\u2010\u2011](?=[^\W_])")


@dataclass(frozen=True)
class Violation:
    """One broken rule of one caption: the rule id and what in the caption broke it."""

    rule: str
    detail: str


@lru_cache(maxsize=4096)
def _script_of(char: str) -> str:
    return unicodedata.name(char, "").split(" ", 1)[0]


def detect_language(
    text: str,
    scripts: Mapping[str, str] = SCRIPT_LANGUAGES,
    default: str = DEFAULT_LANGUAGE,
) -> str:
    """The language of the script most of the text's letters are in (see the module docstring).

    ``scripts`` maps upper-case script names (``CYRILLIC``, ``LATIN``, ``GREEK``, ``CJK``, ...)
    to language codes; letters of other scripts are not counted.
    """
    counts: Counter[str] = Counter()
    for char in text:
        if char.isalpha():
            script = _script_of(char)
            if script in scripts:
                counts[script] += 1
    if not counts:
        return default
    # Ties go to the table's order, so the result never depends on hash order.
    order = {script: i for i, script in enumerate(scripts)}
    best = max(counts, key=lambda s: (counts[s], -order[s]))
    return scripts[best]


def _sentence_violations(caption: str, language: str, rules: CaptionRules) -> list[Violation]:
    count = len(split_sentences(caption, language))
    if count < rules.min_sentences:
        return [
            Violation("too_few_sentences", f"{count} sentence(s), at least {rules.min_sentences}")
        ]
    if count > rules.max_sentences:
        return [
            Violation("too_many_sentences", f"{count} sentences, at most {rules.max_sentences}")
        ]
    return []


def _unhyphenated(text: str) -> str:
    return _HYPHENS.sub(" ", text)


def _entity_found(index: LemmaIndex, caption: str, names: Sequence[str]) -> bool:
    wanted = [n for n in names if n and n.strip()]
    if any(index.find(n) is not None for n in wanted):
        return True
    # A name inside a hyphenated compound ("Матрёшка-великан", "шапка-ушанка" for "ушанка") is
    # one token; its parts are looked for as words. Names are split the same way, so that a
    # hyphenated name ("Родина-мать") still matches its inflected form ("Родины-матери").
    if _HYPHENS.search(caption):
        split = LemmaIndex(_unhyphenated(caption), index.language)
        if any(split.find(_unhyphenated(n)) is not None for n in wanted):
            return True
    # Names in another language (an English title in a Russian caption) by their plain words.
    plain = LemmaIndex(caption, _PLAIN)
    return any(plain.find(n) is not None for n in wanted)


def _phrase_hits(
    index: LemmaIndex, phrases: Sequence[str], allowed: list[tuple[int, int]]
) -> list[tuple[int, int]]:
    """Spans of the phrases in the text, outside allowed spans and not nested in another hit."""
    spans = {
        span
        for phrase in phrases
        for span in index.find_all(phrase)
        if not any(a <= span[0] and span[1] <= b for a, b in allowed)
    }
    return sorted(
        s
        for s in spans
        if not any(o != s and o[0] <= s[0] and s[1] <= o[1] for o in spans)  # keep the longest
    )


def _phrase_violations(index: LemmaIndex, caption: str, lists: LanguageRules) -> list[Violation]:
    allowed = [span for phrase in lists.allowed for span in index.find_all(phrase)]
    folded = fold(caption)
    out: list[Violation] = []
    for rule, phrases, patterns in (
        ("viewing_phrase", lists.viewing_phrases, lists.viewing_patterns),
        ("hedging", lists.hedging, lists.hedging_patterns),
        ("usage_guess", lists.usage_guess, lists.usage_patterns),
    ):
        found = [f'"{index.text_of(s)}"' for s in _phrase_hits(index, phrases, allowed)]
        for pattern in _compiled(tuple(patterns)):
            found.extend(f'"{m.group(0)}"' for m in pattern.finditer(folded))
        if found:
            out.append(Violation(rule, ", ".join(dict.fromkeys(found))))
    return out


@lru_cache(maxsize=64)
def _compiled(patterns: tuple[str, ...]) -> tuple[re.Pattern[str], ...]:
    return tuple(re.compile(p, re.IGNORECASE) for p in patterns)


def lint_caption(
    caption: str,
    names: Sequence[str],
    language: str,
    rules: CaptionRules = DEFAULT_RULES,
) -> list[Violation]:
    """The per-caption rules a caption breaks, in :data:`RULE_IDS` order.

    ``names`` are the entity's names to look for (native, English, aliases); with none, the
    ``missing_entity`` rule is skipped. ``templated`` needs several captions: see
    :func:`lint_captions`.
    """
    caption = caption or ""
    index = LemmaIndex(caption, language)
    out = _sentence_violations(caption, language, rules)
    if any(n and n.strip() for n in names) and not _entity_found(index, caption, names):
        out.append(Violation("missing_entity", "none of " + ", ".join(f'"{n}"' for n in names)))
    out.extend(_phrase_violations(index, caption, rules.for_language(language)))
    return out


def _row_names(row: Mapping[str, object]) -> list[str]:
    names = row.get("names")
    if names is None or names == "":
        entity = row.get("entity")
        return [str(entity)] if entity not in (None, "") else []
    if isinstance(names, str):
        return [names]
    return [str(n) for n in names]  # type: ignore[union-attr]


def _opening(
    caption: str, language: str, size: int, rules: CaptionRules
) -> tuple[tuple[str, ...], str] | None:
    """The lemmas of a caption's first ``size`` words and those words as written, or None.

    Hyphenated words count as their parts ("black-and-white" is "black and white") and the
    language's ``opening_ignore`` words (articles, numerals) and digits are skipped: they fill a
    template's slots, they do not make two openings different.
    """
    ignore = _ignored_lemmas(tuple(rules.for_language(language).opening_ignore), language)
    keys: list[str] = []
    words: list[str] = []
    for word in tokens(_unhyphenated(caption)):
        key = lemma(word, language)
        if word.isdigit() or key in ignore:
            continue
        keys.append(key)
        words.append(word)
        if len(keys) == size:
            return tuple(keys), " ".join(words)
    return None


@lru_cache(maxsize=64)
def _ignored_lemmas(words: tuple[str, ...], language: str) -> frozenset[str]:
    return frozenset(lemma(w, language) for w in words)


def lint_captions(
    rows: Sequence[Mapping[str, object]],
    rules: CaptionRules = DEFAULT_RULES,
    *,
    scripts: Mapping[str, str] = SCRIPT_LANGUAGES,
    default_language: str = DEFAULT_LANGUAGE,
) -> list[list[Violation]]:
    """Per row, the rules its caption breaks, including ``templated`` across each entity.

    A row has ``entity`` (an id or a name), ``caption``, optionally ``language`` (else detected
    by script, with ``scripts`` and ``default_language``; see :func:`detect_language`) and
    ``names`` (else the ``entity`` value is the name).
    """
    results: list[list[Violation]] = []
    openings: dict[str, list[tuple[int, tuple[str, ...], str]]] = defaultdict(list)
    counts: Counter[str] = Counter()
    size = rules.templated_prefix_words
    for i, row in enumerate(rows):
        caption = str(row.get("caption") or "")
        language = str(row.get("language") or "") or detect_language(
            caption, scripts, default_language
        )
        results.append(lint_caption(caption, _row_names(row), language, rules))
        entity = str(row.get("entity") or "")
        counts[entity] += 1
        opening = _opening(caption, language, size, rules)
        if opening is not None:
            openings[entity].append((i, *opening))
    for entity, started in openings.items():
        total = counts[entity]
        if total < rules.templated_min_captions:
            continue
        shared = Counter(key for _, key, _ in started)
        for key, n in sorted(shared.items()):
            if n <= rules.templated_share * total:
                continue
            example = next(text for _, k, text in started if k == key)
            detail = f'{n} of {total} captions of "{entity}" start with "{example}"'
            for i, k, _ in started:
                if k == key:
                    results[i].append(Violation("templated", detail))
    return results
