"""Every catalog entity as a glossary term, merged with the pack's own ``glossary.yaml``.

A pack's glossary lists the terms a curator wrote by hand; its catalog holds hundreds of
entities more, and a caption naming one of them ("самовар") rendered generically ("a kettle")
is the paper's section 6 failure. So each entity becomes a term (``origin="catalog"``): its
native name and its source-script aliases are the sources (parenthesised remarks dropped:
"Морозко (фильм)" is "Морозко"; matched by lemma, so "самовара", "кокошнике" and "валенках"
count), its English name and its Latin-script aliases the accepted renderings.

How an English name becomes renderings (:func:`english_renderings`): a part in parentheses is
an explanation, not a rendering ("Tulup (sheepskin coat)": "a sheepskin coat" is exactly the
generic rendering to catch), so it is dropped; a title with ", or" gives each half as well
("The Irony of Fate, or Enjoy Your Bath!"); a leading article, "to" or "like" is optional.
A word of the English name that transliterates a one-word source is accepted too ("Gagarin"
for the alias "Гагарин", "Kremlin" for "Кремль"), so a surname alone is no false alarm.

The pack's glossary wins wherever the two meet (see docs/pack-format.md, "glossary.yaml"):

* a glossary term with ``entity: ID`` replaces that entity's catalog term;
* a glossary term whose source (or alias) equals an entity's source by lemma takes that source
  from the entity; when its rendering is none of the entity's, that is a :class:`Conflict`,
  which ``craft pack validate`` reports (set ``entity:`` on the term to say it is meant);
* ``catalog.exclude`` drops entities, ``catalog.exclude_sources`` drops common words
  ("медведь", "печь") from every entity, ``catalog.accepted`` adds renderings per entity;
* a source that two entities share ("Урал": the mountains and the motorcycle) is ambiguous, so
  it is dropped from both and reported, since either rendering would be a false alarm.

:func:`merged_glossary` is the one place the glossary of a pack is built for checking and
translation; ``GlossaryMatcher.for_pack`` uses it.
"""

from __future__ import annotations

import difflib
import re
from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from craft_dag.catalog.models import CatalogTerms, Entity, GlossaryTerm, PackMeta
from craft_dag.catalog.scripts import has_letter_of
from craft_dag.text.morphology import lemmas, normalise_language, tokens

if TYPE_CHECKING:
    from craft_dag.catalog.pack import CulturePack, _Collector
    from craft_dag.catalog.yaml_source import YamlDocument

_PARENTHETICAL = re.compile(r"\s*\([^()]*\)")
_OR = re.compile(r",\s+or\s+", re.IGNORECASE)
# Words a rendering may start with that a translation is free to change ("a Samovar";
# "to beat baklushi" -> "beating baklushi"; "like a fish in water" -> "as a fish...").
_LEADING = {"the", "a", "an", "to", "like"}
_EDGE_PUNCTUATION = " ,;:!?.\u00ab\u00bb\"'"
# Source languages written in Cyrillic, for which the transliteration rule applies.
_CYRILLIC_LANGUAGES = {"ru", "uk", "be", "bg"}

# Russian -> Latin, only to tell whether an English word transliterates a Russian one; the
# comparison below folds the spelling variants (kh/h, y/i/j, doubled letters, -ff/-v).
_CYRILLIC_LATIN = dict(
    zip(
        "абвгдеёжзийклмнопрстуфхцчшщъыьэюяіїєў",
        "a b v g d e yo zh z i y k l m n o p r s t u f kh ts ch sh shch _ y _ e yu ya i yi ye u".split(),  # noqa: SIM905
        strict=True,
    )
)
_CYRILLIC_LATIN["ъ"] = _CYRILLIC_LATIN["ь"] = ""
# How alike an English word and a transliterated source word must be (difflib ratio after
# folding): 0.75 keeps "Tchaikovsky"/"Чайковский" (0.95), "Kremlin"/"Кремль" (0.83) and
# "Chaliapin"/"Шаляпин" (0.89) and leaves out "Trinity"/"Троица" (0.71).
_TRANSLITERATION_RATIO = 0.75
_MIN_WORD = 4  # shorter words ("Mi", "Rye") are too easily alike by chance


def strip_parentheses(text: str) -> str:
    """``text`` without its parenthesised remarks, whitespace collapsed."""
    return " ".join(_PARENTHETICAL.sub("", text).split()) or text.strip()


def _transliterated(word: str) -> str:
    return "".join(_CYRILLIC_LATIN.get(char, char) for char in word.casefold())


def _spelling_key(word: str) -> str:
    word = word.casefold().replace("kh", "h").replace("ff", "v")
    word = word.translate(str.maketrans({"w": "v", "j": "i", "y": "i"}))
    word = re.sub(r"[^a-z0-9]", "", word)
    return re.sub(r"(.)\1+", r"\1", word)


def transliterates(english: str, native: str) -> bool:
    """Whether the English word reads as a transliteration of the (Cyrillic) native word."""
    a, b = _spelling_key(english), _spelling_key(_transliterated(native))
    if len(a) < _MIN_WORD or not b:
        return False
    return difflib.SequenceMatcher(None, a, b).ratio() >= _TRANSLITERATION_RATIO


def _without_leading(phrase: str) -> str:
    words = phrase.split()
    while len(words) > 1 and words[0].casefold() in _LEADING:
        words = words[1:]
    return " ".join(words)


def english_renderings(english_name: str) -> tuple[str, ...]:
    """The renderings an English name stands for, the name without parentheses first."""
    head = strip_parentheses(english_name)
    parts = [head, *(_OR.split(head) if _OR.search(head) else [])]
    out: dict[str, None] = {}
    for part in parts:
        part = part.strip(_EDGE_PUNCTUATION) or part
        for variant in (part, _without_leading(part)):
            if tokens(variant):
                out.setdefault(variant)
    return tuple(out)


def _key(phrase: str, language: str) -> tuple[str, ...]:
    """A phrase's lemma sequence: two sources are the same term when these are equal."""
    return tuple(lemmas(phrase, language))


@dataclass(frozen=True)
class Conflict:
    """A glossary term and a catalog entity that name the same source differently.

    ``kind`` is ``rendering`` (the glossary's target is none of the entity's renderings; the
    glossary's is used) or ``shared`` (several entities share the source; it is dropped).
    """

    kind: str
    source: str
    entities: tuple[str, ...]
    glossary_target: str | None
    catalog_targets: tuple[str, ...]

    def __str__(self) -> str:
        if self.kind == "shared":
            return (
                f"{self.source!r} is a name of entities {', '.join(self.entities)}: it is no "
                f"term of either; add a glossary term or catalog.exclude_sources to decide"
            )
        return (
            f"glossary term {self.source!r} -> {self.glossary_target!r} conflicts with catalog "
            f"entity {self.entities[0]} ({' / '.join(self.catalog_targets)}): the glossary's "
            f"rendering is used; set 'entity: {self.entities[0]}' on the term if that is meant, "
            f"or add the rendering under catalog.accepted"
        )


@dataclass(frozen=True)
class MergedGlossary:
    """The terms used to check translations: the pack's first, then the catalog's."""

    terms: tuple[GlossaryTerm, ...]
    conflicts: tuple[Conflict, ...]
    entities: int  # entities in the catalog
    excluded: tuple[str, ...]  # entity ids that give no catalog term of their own

    @property
    def catalog_terms(self) -> int:
        return sum(1 for t in self.terms if t.origin == "catalog")

    @property
    def glossary_terms(self) -> int:
        return sum(1 for t in self.terms if t.origin == "glossary")


def _entity_names(entity: Entity, meta: PackMeta) -> tuple[list[str], list[str]]:
    """(sources, renderings) of an entity before the pack's glossary is applied.

    An alias without a letter of the source script ("Lada 1200", "Velaro RUS") is a
    rendering, not a source.
    """
    sources: dict[str, None] = {}
    renderings: dict[str, None] = dict.fromkeys(english_renderings(entity.english_name))
    for name in (entity.native_name, *entity.aliases):
        name = strip_parentheses(name)
        if not tokens(name):
            continue
        (sources if has_letter_of(name, meta.scripts) else renderings).setdefault(name)
    if normalise_language(meta.source_language) in _CYRILLIC_LANGUAGES:
        single = [words[0] for s in sources if len(words := tokens(s)) == 1]
        for word in tokens(strip_parentheses(entity.english_name)):
            if any(transliterates(word, native) for native in single):
                renderings.setdefault(word)
    return list(sources), list(renderings)


def merge_glossary(
    meta: PackMeta,
    entities: dict[str, tuple[Entity, ...]],
    glossary: tuple[GlossaryTerm, ...],
    catalog: CatalogTerms,
) -> MergedGlossary:
    """The pack glossary plus one term per catalog entity, by the rules of the module doc."""
    source_lang, target_lang = meta.source_language, meta.target_language
    owned: dict[tuple[str, ...], GlossaryTerm] = {}
    for term in glossary:
        for source in term.sources():
            owned.setdefault(_key(source, source_lang), term)
    replaced = {t.entity for t in glossary if t.entity}
    dropped = {_key(s, source_lang) for s in catalog.exclude_sources}
    excluded = set(catalog.exclude)

    candidates: list[tuple[str, Entity, list[str], tuple[str, ...]]] = []
    users: dict[tuple[str, ...], list[str]] = defaultdict(list)
    for category, rows in entities.items():
        for entity in rows:
            if entity.id in excluded or entity.id in replaced:
                continue
            sources, renderings = _entity_names(entity, meta)
            extra = catalog.accepted.get(entity.id, [])
            candidates.append((category, entity, sources, tuple(dict.fromkeys(renderings + extra))))
            for key in {_key(s, source_lang) for s in sources}:
                users[key].append(entity.id)

    conflicts: list[Conflict] = []
    shared_reported: set[tuple[str, ...]] = set()
    terms: list[GlossaryTerm] = [t.model_copy(update={"origin": "glossary"}) for t in glossary]
    for category, entity, sources, renderings in candidates:
        rendering_keys = {_key(r, target_lang) for r in renderings}
        kept: dict[tuple[str, ...], str] = {}
        for source in sources:
            key = _key(source, source_lang)
            if not key or key in dropped or key in kept:
                continue
            if key in owned:
                term = owned[key]
                conflict = Conflict("rendering", term.source, (entity.id,), term.target, renderings)
                if (
                    term.entity != entity.id
                    and conflict not in conflicts
                    and not any(_key(r, target_lang) in rendering_keys for r in term.renderings())
                ):
                    conflicts.append(conflict)
                continue
            if len(users[key]) > 1:
                if key not in shared_reported:
                    shared_reported.add(key)
                    conflicts.append(Conflict("shared", source, tuple(users[key]), None, ()))
                continue
            kept[key] = source
        if not kept:
            continue
        first, *others = kept.values()
        terms.append(
            GlossaryTerm(
                source=first,
                aliases=others,
                target=renderings[0],
                accepted=list(renderings[1:]),
                category=category,
                entity=entity.id,
                note=f"catalog entity {entity.id} ({entity.english_name})",
                origin="catalog",
            )
        )
    with_term = {t.entity for t in terms if t.origin == "catalog"}
    all_ids = [e.id for rows in entities.values() for e in rows]
    return MergedGlossary(
        terms=tuple(terms),
        conflicts=tuple(conflicts),
        entities=len(all_ids),
        excluded=tuple(i for i in all_ids if i not in with_term),
    )


def merged_glossary(pack: CulturePack) -> MergedGlossary:
    """The merged glossary of a loaded pack (see :func:`merge_glossary`)."""
    return merge_glossary(pack.meta, pack.entities, pack.glossary, pack.glossary_catalog)


def read_glossary(
    c: _Collector,
    doc: YamlDocument,
    meta: PackMeta,
    categories: set[str],
    entity_ids: set[str],
) -> tuple[list[GlossaryTerm], CatalogTerms]:
    """The terms and the ``catalog:`` settings of glossary.yaml, problems added to ``c``."""
    from craft_dag.catalog.pack import _check_raw_script, _check_script

    terms: list[GlossaryTerm] = []
    catalog = CatalogTerms()
    if isinstance(doc.data, dict):
        for key in set(doc.data) - {"terms", "catalog"}:
            c.at(doc, (key,), "unknown field (misspelt?)")
        raw_catalog: Any = doc.data.get("catalog")
        if raw_catalog is not None:
            loaded = c.validate(CatalogTerms, raw_catalog, doc, ("catalog",))
            if loaded is not None:
                catalog = loaded
                for i, entity in enumerate(loaded.exclude):
                    if entity not in entity_ids:
                        c.at(doc, ("catalog", "exclude", i), f"unknown entity {entity!r}")
                for entity in loaded.accepted:
                    if entity not in entity_ids:
                        c.at(doc, ("catalog", "accepted", entity), f"unknown entity {entity!r}")
    seen: dict[str, int] = {}
    for index, term, raw in c.records(GlossaryTerm, doc, "terms"):
        loc = ("terms", index)
        if term is None:
            _check_raw_script(c, doc, loc, raw, ("source",), meta.scripts)
            continue
        if isinstance(raw, dict) and "origin" in raw:
            c.at(doc, (*loc, "origin"), "set by the loader, not written in glossary.yaml")
            continue
        key = term.source.casefold()
        if key in seen:
            c.at(
                doc, (*loc, "source"), f"duplicate term {term.source!r} (first on line {seen[key]})"
            )
            continue
        seen[key] = doc.line_of(loc)
        _check_script(c, doc, (*loc, "source"), term.source, meta.scripts)
        for a, alias in enumerate(term.aliases):
            _check_script(c, doc, (*loc, "aliases", a), alias, meta.scripts)
        if term.category is not None and term.category not in categories:
            c.at(doc, (*loc, "category"), f"unknown category {term.category!r}")
        if term.entity is not None and term.entity not in entity_ids:
            c.at(doc, (*loc, "entity"), f"unknown entity {term.entity!r}")
        for w, wrong in enumerate(term.wrong):
            if any(wrong.casefold() == r.casefold() for r in term.renderings()):
                c.at(doc, (*loc, "wrong", w), "a wrong rendering equals the required target")
        terms.append(term)
    return terms, catalog
