"""The pack glossary applied to translations: find terms, check renderings, post-edit.

The CRAFT paper's translation limitation (section 6) is the reason: космонавт became
"astronaut", so the training images of cosmonauts carried American flags, and пирожки became
"pies". A pack's ``glossary.yaml`` fixes the target rendering of such terms and lists the
known wrong ones; this module enforces it on every translated caption.

* :meth:`GlossaryMatcher.find` finds terms in a source text by lemma (``craft_dag.text``'s
  morphology), so "космонавта" and "космонавты" find "космонавт", and multi-word terms match
  in any inflection ("Великой Отечественной войны").
* :meth:`GlossaryMatcher.check` lists every term found in the source whose required target does
  not occur in the translation, or whose known wrong rendering does. The target side is matched
  by lemma as well, in the target language: for English case-insensitively with regular plurals
  and possessives, so "Cosmonauts" counts for "cosmonaut".
* :meth:`GlossaryMatcher.enforce` is a checked post-edit: it replaces the known wrong renderings
  of the terms found with the required term, keeping the case and number of what it replaces
  ("astronauts" -> "cosmonauts", "Pies" -> "Pirozhki"), then checks again. A term that was
  dropped or rendered in a way the glossary does not list cannot be fixed by replacement: it
  stays a miss, so it is reported, never passed silently.

Known limit: source words match a term by *any* of their readings, so a homograph of a term
is found too ("Дети ели пирожки": ели is also the plural of ель, spruce). The check then asks
for "spruce" and reports a miss: a false alarm for a person to dismiss, never a wrong edit,
since only the known wrong renderings are ever replaced.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from craft_dag.catalog.models import GlossaryTerm
from craft_dag.text.morphology import (
    LemmaIndex,
    first_word_keys,
    fold,
    lemma,
    normalise_language,
)

if TYPE_CHECKING:
    from craft_dag.catalog.pack import CulturePack

Span = tuple[int, int]


@dataclass(frozen=True)
class GlossaryHit:
    """A glossary term found in a source text.

    ``source`` is the term's dictionary form as the glossary has it, ``target`` its required
    rendering, ``span`` the character offsets ``(start, end)`` of the words that matched.
    """

    source: str
    target: str
    span: Span
    origin: str = "glossary"  # glossary.yaml, or "catalog" for a term derived from an entity
    entity: str | None = None


@dataclass(frozen=True)
class Miss:
    """A term found in the source but not rendered as required in the translation.

    ``found_wrong`` is the known wrong rendering that occurs in the translation (as written
    there), or None when the required target is simply absent.
    """

    source: str
    target: str
    found_wrong: str | None = None
    origin: str = "glossary"
    entity: str | None = None


@dataclass(frozen=True)
class Edit:
    """One replacement of the post-edit: ``found`` at ``span`` of the translation it was made
    in became ``replacement``, for the glossary term ``source``."""

    source: str
    found: str
    replacement: str
    span: Span


@dataclass(frozen=True)
class Enforced:
    """A post-edited translation, the edits made, and the misses that remain in ``text``."""

    text: str
    edits: tuple[Edit, ...]
    misses: tuple[Miss, ...]


def _english_plural(word: str) -> str:
    """The regular English plural of a word: the inverse of the English lemma rules."""
    lower = word.lower()
    if lower.endswith(("s", "x", "z", "ch", "sh")):
        return word + "es"
    if lower.endswith("y") and len(word) > 1 and lower[-2] not in "aeiou":
        return word[:-1] + "ies"
    return word + "s"


def _english_article(article: str, following: str) -> str:
    """ "a" or "an" (in the article's case) for the word that now follows it."""
    wanted = "an" if following[:1].lower() in "aeiou" else "a"
    shouting = len(article) > 1 or following.isupper()  # "AN ASTRONAUT" -> "A COSMONAUT"
    if article.isupper() and shouting:
        return wanted.upper()
    return wanted.capitalize() if article[:1].isupper() else wanted


# Indefinite articles that agree with the next word's sound, per target language: a
# replacement changes the word, so "an astronaut" must become "a cosmonaut". The vowel-letter
# rule is approximate ("an hour", "a unicorn" are not covered) but right for glossary terms.
ARTICLES: dict[str, tuple[re.Pattern[str], Callable[[str, str], str]]] = {
    "en": (re.compile(r"\b(an?)(\s+)$", re.IGNORECASE), _english_article)
}

# How to put a word into the plural, per target language. A language without an entry keeps the
# required term as written when it replaces a plural (matching still works by lemma).
PLURALS: dict[str, Callable[[str], str]] = {"en": _english_plural}

# Possessive endings kept when a rendering is replaced ("astronaut's" -> "cosmonaut's").
_POSSESSIVES = ("'s", "\u2019s", "'", "\u2019")


class _Indexed:
    """A text with its words' character offsets, searched by lemma in one language."""

    def __init__(self, text: str, language: str) -> None:
        self.text = text
        self.index = LemmaIndex(text, language)
        # LemmaIndex gives token spans; the tokens are substrings of the text in order, so
        # their character offsets are found by scanning forward.
        self.offsets: list[Span] = []
        position = 0
        for token in self.index.tokens:
            start = text.index(token, position)
            position = start + len(token)
            self.offsets.append((start, position))

    def find_all(self, phrase: str) -> list[Span]:
        """Character spans of every occurrence of ``phrase`` (by lemma), in text order."""
        return [
            (self.offsets[start][0], self.offsets[end - 1][1])
            for start, end in self.index.find_all(phrase)
        ]

    def last_token(self, span: Span) -> str:
        """The last word inside a character span."""
        inside = [
            token
            for token, (start, end) in zip(self.index.tokens, self.offsets, strict=True)
            if start >= span[0] and end <= span[1]
        ]
        return inside[-1] if inside else self.text[span[0] : span[1]]


def _overlaps(a: Span, b: Span) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def _inside(a: Span, b: Span) -> bool:
    """Whether ``a`` lies within ``b`` and is shorter."""
    return b[0] <= a[0] and a[1] <= b[1] and (b[1] - b[0]) > (a[1] - a[0])


class GlossaryMatcher:
    """Finds a pack's glossary terms in source texts and checks and fixes their renderings.

    ``terms`` are ``GlossaryTerm`` records; ``source_language`` and ``target_language`` the
    pack's codes (``pack.meta.source_language`` / ``target_language``). :meth:`for_pack` builds
    one from a pack's merged glossary (its glossary.yaml and its catalog entities), which is
    what checks and translation use. A term matches by any of its sources (``source`` and
    ``aliases``) and is rendered right by any of ``target`` and ``accepted``.

    A catalog term found inside a longer term's words is not a term there: "Ёжик в тумане"
    (the cartoon) asks for "Hedgehog in the Fog", not also for "hedgehog".
    """

    def __init__(
        self,
        terms: Sequence[GlossaryTerm],
        source_language: str,
        target_language: str,
    ) -> None:
        self.terms: tuple[GlossaryTerm, ...] = tuple(terms)
        self.source_language = normalise_language(source_language)
        self.target_language = normalise_language(target_language)
        self._by_source: dict[str, GlossaryTerm] = {}
        for term in self.terms:
            self._by_source.setdefault(term.source, term)
        # Hundreds of catalog terms: a text is searched only for the phrases whose first word
        # it holds, found through the keys of that word (computed once, here).
        self._by_first_key: dict[tuple[str, str], list[tuple[GlossaryTerm, str]]] = {}
        for term in self._by_source.values():
            for phrase in term.sources():
                for key in first_word_keys(phrase, self.source_language):
                    self._by_first_key.setdefault(key, []).append((term, phrase))

    @classmethod
    def for_pack(cls, pack: CulturePack) -> GlossaryMatcher:
        """The matcher of a pack's merged glossary (``craft_dag.catalog.glossary``)."""
        from craft_dag.catalog.glossary import merged_glossary

        return cls(
            merged_glossary(pack).terms, pack.meta.source_language, pack.meta.target_language
        )

    def fingerprint(self) -> str:
        """What the matcher holds, as a short digest: a changed term changes it."""
        text = repr((self.source_language, self.target_language, self.terms))
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]

    def term(self, source: str) -> GlossaryTerm:
        """The glossary record of a term by its dictionary form."""
        return self._by_source[source]

    def find(self, source_text: str) -> list[GlossaryHit]:
        """Every occurrence of every term in ``source_text``, in text order."""
        indexed = _Indexed(source_text, self.source_language)
        candidates: dict[tuple[str, str], GlossaryTerm] = {}
        for key in indexed.index.keys:
            for term, phrase in self._by_first_key.get(key, ()):
                candidates.setdefault((term.source, phrase), term)
        found: dict[tuple[str, Span], GlossaryHit] = {}
        for (_, phrase), term in candidates.items():
            for span in indexed.find_all(phrase):
                hit = GlossaryHit(term.source, term.target, span, term.origin, term.entity)
                found.setdefault((term.source, span), hit)
        hits = list(found.values())
        hits = [
            hit
            for hit in hits
            if hit.origin != "catalog" or not any(_inside(hit.span, o.span) for o in hits)
        ]
        return sorted(hits, key=lambda hit: (hit.span, hit.source))

    def _found_terms(self, source_text: str) -> list[GlossaryTerm]:
        """The terms occurring in ``source_text``, each once, by first occurrence."""
        seen: dict[str, None] = {}
        for hit in self.find(source_text):
            seen.setdefault(hit.source)
        return [self._by_source[source] for source in seen]

    def forbidden(self, source_text: str) -> list[str]:
        """The renderings a translation of ``source_text`` must not contain, for generation.

        The known wrong renderings of the terms found, each as written, lower-case,
        capitalised, and in the plural where the target language has a rule (``PLURALS``), so
        that a backend can forbid the surface forms it might produce.
        """
        plural = PLURALS.get(self.target_language)
        forms: dict[str, None] = {}
        for term in self._found_terms(source_text):
            for wrong in term.wrong:
                variants = [wrong]
                if plural is not None:
                    head, _, last = wrong.rpartition(" ")
                    variants.append(f"{head} {plural(last)}".strip())
                for variant in variants:
                    for form in (variant, variant.lower(), variant[:1].upper() + variant[1:]):
                        forms.setdefault(form)
        return list(forms)

    def check(self, source_text: str, translation: str) -> list[Miss]:
        """The terms of ``source_text`` not rendered as required in ``translation``.

        A term misses when its target does not occur in the translation, or when one of its
        known wrong renderings does (outside an occurrence of the target itself), even if the
        target occurs too: "a cosmonaut and an astronaut" for one космонавт is still wrong.
        """
        indexed = _Indexed(translation, self.target_language)
        misses = []
        for term in self._found_terms(source_text):
            targets = self._rendered(indexed, term)
            wrong = self._wrong_occurrences(indexed, term, targets)
            if wrong:
                span = wrong[0][1]
                found: str | None = translation[span[0] : span[1]]
            elif not targets:
                found = None
            else:
                continue
            misses.append(Miss(term.source, term.target, found, term.origin, term.entity))
        return misses

    @staticmethod
    def _rendered(indexed: _Indexed, term: GlossaryTerm) -> list[Span]:
        """Spans of every rendering of ``term`` that counts as right, in text order."""
        return sorted(span for r in term.renderings() for span in indexed.find_all(r))

    @staticmethod
    def _wrong_occurrences(
        indexed: _Indexed, term: GlossaryTerm, targets: list[Span]
    ) -> list[tuple[str, Span]]:
        """(wrong rendering, span) of every known wrong rendering of ``term`` in the text.

        Longer renderings claim their words first ("Santa Claus" before "Santa"); a span that
        overlaps an occurrence of the target ("New Year tree" around "tree") is not wrong.
        """
        found: list[tuple[str, Span]] = []
        for wrong in sorted(term.wrong, key=len, reverse=True):
            for span in indexed.find_all(wrong):
                if any(_overlaps(span, other) for other in targets):
                    continue
                if any(_overlaps(span, taken) for _, taken in found):
                    continue
                found.append((wrong, span))
        return sorted(found, key=lambda item: item[1])

    def _replacement(self, term: GlossaryTerm, wrong: str, found: str, last_word: str) -> str:
        """The required target written to stand where ``found`` (a form of ``wrong``) was.

        Number: a plural form of a singular rendering makes the target plural ("astronauts"
        -> "cosmonauts") where the target language has a plural rule; a possessive ending is
        kept. Case: an all-capitals or capitalised original makes the target so, unless the
        target has capitals of its own (a name, "Ded Moroz"), which are kept as written.
        """
        language = self.target_language
        target = term.target
        possessive = next((p for p in _POSSESSIVES if last_word.endswith(p)), "")
        bare = last_word[: len(last_word) - len(possessive)] if possessive else last_word
        wrong_last = wrong.rpartition(" ")[2]
        wrong_is_lemma = lemma(wrong_last, language) == fold(wrong_last)
        found_is_inflected = fold(bare) != lemma(bare, language)
        plural = PLURALS.get(language)
        if plural is not None and wrong_is_lemma and found_is_inflected:
            head, _, last = target.rpartition(" ")
            target = f"{head} {plural(last)}".strip()
        if possessive:
            target += possessive
        letters = [c for c in found if c.isalpha()]
        if any(c.isupper() for c in term.target):
            return target
        if len(letters) > 1 and all(c.isupper() for c in letters):
            return target.upper()
        if letters and letters[0].isupper():
            return target[:1].upper() + target[1:]
        return target

    def _with_article(self, translation: str, edit: Edit) -> Edit:
        """``edit`` widened to the indefinite article before it when that must change."""
        rule = ARTICLES.get(self.target_language)
        if rule is None:
            return edit
        pattern, choose = rule
        match = pattern.search(translation, 0, edit.span[0])
        if match is None:
            return edit
        article = choose(match.group(1), edit.replacement)
        if article == match.group(1):
            return edit
        start = match.start(1)
        return Edit(
            edit.source,
            translation[start : edit.span[1]],
            article + match.group(2) + edit.replacement,
            (start, edit.span[1]),
        )

    def enforce(self, source_text: str, translation: str) -> Enforced:
        """Replace the known wrong renderings of the terms found, then check again.

        When several terms found in the source share a wrong rendering ("dumplings" for both
        пельмени and вареники), its occurrences go to those terms in source order, the last
        term taking any extra ones. ``misses`` are those of the edited text.
        """
        indexed = _Indexed(translation, self.target_language)
        claims: dict[Span, list[tuple[GlossaryTerm, str]]] = {}
        for term in self._found_terms(source_text):
            targets = self._rendered(indexed, term)
            for wrong, span in self._wrong_occurrences(indexed, term, targets):
                claims.setdefault(span, []).append((term, wrong))
        # Drop spans overlapping a longer claimed span, then share out each rendering.
        spans = sorted(claims, key=lambda s: (-(s[1] - s[0]), s[0]))
        chosen: list[Span] = []
        for span in spans:
            if not any(_overlaps(span, other) for other in chosen):
                chosen.append(span)
        chosen.sort()
        seen_per_key: dict[tuple[str, ...], int] = {}
        edits: list[Edit] = []
        for span in chosen:
            candidates = claims[span]
            key = tuple(term.source for term, _ in candidates)
            turn = seen_per_key.get(key, 0)
            seen_per_key[key] = turn + 1
            term, wrong = candidates[min(turn, len(candidates) - 1)]
            found = translation[span[0] : span[1]]
            replacement = self._replacement(term, wrong, found, indexed.last_token(span))
            edits.append(Edit(term.source, found, replacement, span))
        edits = [self._with_article(translation, edit) for edit in edits]
        text = translation
        for edit in reversed(edits):
            text = text[: edit.span[0]] + edit.replacement + text[edit.span[1] :]
        return Enforced(text, tuple(edits), tuple(self.check(source_text, text)))
