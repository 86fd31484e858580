"""The caption guideline of the CRAFT paper (section 4.3) as data: numbers and phrase lists.

The paper's annotators wrote 2 to 10 sentences, named the main entity, varied their wording,
and avoided three kinds of phrase: ones about looking at a picture ("this image shows"),
guesses at what an object is for ("can be used for"), and hedging ("probably"). Phrases
*characterising* the image ("black and white photo", "still from a Soviet cartoon") are allowed.

The phrase lists are per language code, so a pack for another culture adds its language
without code changes. Each phrase is matched by lemma sequence
(:func:`craft_dag.text.morphology.find_phrase`): "предназначен для" also finds "предназначена
для", "изображён" finds "изображена", while "на фотографии" needs an entry of its own beside "на
фото" (another lemma). A token written ``=word`` matches that exact form only.
``viewing_patterns``, ``hedging_patterns`` and ``usage_patterns`` are regular expressions for
what a lemma sequence cannot say (a hedge only as a parenthetical, "похоже, ..." but not "похоже
на"; a suggestion built around any adjective, "would be perfect for"); they are searched in the
casefolded caption with ``ё`` folded to ``е`` (write them in lower case, with ``е``).
``allowed`` lists phrases that are never flagged: a match inside an allowed phrase's words is
dropped. ``opening_ignore`` lists words (articles, numerals) that the ``templated`` check skips
when it compares openings, so "A set of seven ..." and "Set of five ..." open alike.

How the lists were extended: a hand-labelled set of 193 captions written from the paper's rules
(``tests/captioning/data/lint_labelled.yaml``, scored by
:mod:`craft_dag.captioning.lint_calibration`) showed which phrasings of each rule the first
lists missed; each entry added covers a family of phrasings (every picture noun with every
determiner, every hedge of a kind), not one caption of the set.

Two decisions about the lists:

* "изображён" (the passive participle, "X is depicted") is a viewing phrase: "Изображена
  девушка за рулём" and "на фото изображён Гагарин" talk about the picture. The noun
  "изображение" (in "изображение святого на иконе") and the active verb "художник изобразил"
  never match it, because phrase matching compares the part of speech too. When the participle
  describes an *artwork* the caption names ("картина Пименова, на которой изображена девушка",
  which is how the paper's reviewed caption of "New Moscow" reads), ``allowed`` keeps it: the
  painting is the entity, not a picture of it. In English "is depicted"/"are depicted" are
  viewing phrases, "the painting depicts" is not.
* "you can see" is not in the English list: the paper's own reviewed caption of "New Moscow"
  uses it for a place inside the painting ("in the upper left corner you can see ...").

Packs override or extend these lists with :func:`merge_rules` (the pack's optional
``caption_rules.yaml``, read by :func:`load_rules_file`).

Layering: this was ``captioning/rules.py``. It lives in ``catalog`` beside ``glossary`` (the
translation stage's terms) because it is what a culture pack declares, and ``catalog.pack``
loads and validates it with the rest of the pack: ``catalog`` sits below ``captioning`` and
``translation``, which read the pack and never the other way round. ``catalog`` itself sits
above ``curation`` (``pack`` reads ``curation.yaml`` through ``curation.policy``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from craft_dag.text.morphology import normalise_language

# The file name of a pack's optional overrides.
RULES_FILE = "caption_rules.yaml"

# The list fields of LanguageRules: what merge_rules extends or replaces.
LIST_FIELDS = (
    "viewing_phrases",
    "viewing_patterns",
    "hedging",
    "hedging_patterns",
    "usage_guess",
    "usage_patterns",
    "allowed",
    "opening_ignore",
)


class LanguageRules(BaseModel):
    """The phrase lists of one language (see the module docstring for how they match)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    viewing_phrases: list[str] = Field(default_factory=list)
    viewing_patterns: list[str] = Field(default_factory=list)
    hedging: list[str] = Field(default_factory=list)
    hedging_patterns: list[str] = Field(default_factory=list)
    usage_guess: list[str] = Field(default_factory=list)
    usage_patterns: list[str] = Field(default_factory=list)
    allowed: list[str] = Field(default_factory=list)
    opening_ignore: list[str] = Field(default_factory=list)

    @field_validator("viewing_patterns", "hedging_patterns", "usage_patterns")
    @classmethod
    def _patterns_compile(cls, value: list[str], info: ValidationInfo) -> list[str]:
        for pattern in value:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(
                    f"{info.field_name}: {pattern!r} is not a regular expression: {exc}"
                ) from exc
        return value


class CaptionRules(BaseModel):
    """The whole guideline: sentence bounds, the template check and per-language phrase lists."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    min_sentences: int = Field(2, ge=0)
    max_sentences: int = Field(10, ge=1)
    # `templated`: an entity with at least `templated_min_captions` captions, more than
    # `templated_share` of which start with the same first `templated_prefix_words` lemmas.
    templated_prefix_words: int = Field(3, ge=1)
    templated_share: float = Field(0.5, ge=0.0, lt=1.0)
    templated_min_captions: int = Field(3, ge=2)
    languages: dict[str, LanguageRules] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _bounds_ordered(self) -> CaptionRules:
        if self.min_sentences > self.max_sentences:
            raise ValueError(
                f"min_sentences ({self.min_sentences}) exceeds max_sentences ({self.max_sentences})"
            )
        return self

    def for_language(self, language: str) -> LanguageRules:
        """The lists of a language code (``ru-RU`` uses ``ru``); empty lists for an unknown one."""
        if language in self.languages:
            return self.languages[language]
        return self.languages.get(normalise_language(language), LanguageRules())


# Phrases that name an artwork as the carrier of a depiction; see the module docstring.
_RU_ARTWORK_DEPICTIONS = [
    f"{where} {verb}"
    for where in (
        "на котором",
        "где",
        "на картине",
        "на полотне",
        "на иконе",
        "на фреске",
        "на плакате",
        "на открытке",
        "на марке",
        "на монете",
        "на гербе",
        "на гобелене",
        "на барельефе",
    )
    for verb in ("изображён", "изображено")
]

# "на фото", "на этом снимке", "на данной фотографии": every picture noun, bare or with a
# determiner. Lemma matching covers inflection ("на этом снимке" finds "на этих снимках"), but
# each noun is its own lemma, so each noun has its own entries.
_RU_PICTURE_NOUNS = ("фото", "фотография", "фотоснимок", "изображение", "картинка", "снимок")
_RU_PICTURE_PLACES = [
    f"на {determiner}{noun}"
    for noun in _RU_PICTURE_NOUNS
    for determiner in ("", "этом ", "данном ", "представленном ", "нашем ")
]

# "this image shows", "the photograph captures", "in this picture": the picture itself as the
# subject. Artworks ("the painting depicts", "a poster shows") are not picture nouns here: the
# caption names them as the entity (see the module docstring).
_EN_PICTURE_NOUNS = ("image", "picture", "photo", "photograph", "snapshot", "shot", "illustration")
_EN_PICTURE_VERBS = (
    "shows",
    "depicts",
    "captures",
    "features",
    "presents",
    "portrays",
    "displays",
    "illustrates",
)
_EN_PICTURE_PHRASES = [
    *(
        f"{determiner} {noun} {verb}"
        for determiner in ("this", "the")
        for noun in _EN_PICTURE_NOUNS
        for verb in _EN_PICTURE_VERBS
    ),
    *(f"in {determiner} {noun}" for determiner in ("this", "the") for noun in _EN_PICTURE_NOUNS),
]

# Words skipped when the `templated` check compares openings: articles and numerals fill a
# template's slots ("A set of seven matryoshka dolls", "Set of five matryoshka dolls").
_EN_OPENING_IGNORE = [
    "a",
    "an",
    "the",
    *[
        "one",
        "two",
        "three",
        "four",
        "five",
        "six",
        "seven",
        "eight",
        "nine",
        "ten",
        "eleven",
        "twelve",
        "twenty",
    ],
]
_RU_NUMERALS = [
    "один",
    "два",
    "три",
    "четыре",
    "пять",
    "шесть",
    "семь",
    "восемь",
    "девять",
    "десять",
    "двенадцать",
]

DEFAULT_RULES = CaptionRules(
    languages={
        "ru": LanguageRules(
            viewing_phrases=[
                *_RU_PICTURE_PLACES,
                "мы видим",
                "перед нами",
                "можно увидеть",
                "можно видеть",
                "изображено",
                "изображён",
            ],
            hedging=[
                "вероятно",
                "возможно",
                "наверное",
                "наверно",
                "кажется",
                "по-видимому",
                "=видимо",
                "скорее всего",
                # "судя по всему", "судя по цвету": an inference from a clue.
                "судя по",
                "предположительно",
                "может быть",
                "по всей видимости",
                "вроде бы",
                "=должно =быть",
            ],
            hedging_patterns=[
                # "Похоже, ..." / "похоже, что": a parenthetical; "похоже на" compares.
                r"\bпохоже(,| что\b)",
                # по-видимому written without its hyphen.
                r"\bпо видимому\b",
            ],
            usage_guess=[
                "можно использовать для",
                "используется для",
                "служит для",
                "предназначен для",
                "применяется для",
                "подходит для",
                "подойдёт для",
                "годится для",
                "пригоден для",
                "пригодится",
                "сгодится",
            ],
            usage_patterns=[
                r"\bможно (было бы |бы )?(использовать|применять|применить) (для|в качестве|как)\b",
                r"\b(использу\w+|применя\w+) (для|в качестве)\b",
                r"\bпредназнач\w* для\b",
                # "на ней можно играть", "в нём можно хранить": what one can do with the object
                # (seeing it is a viewing phrase, not a use).
                r"\b((на|в|с|из|под) )?(ним|нем|ней|них|им|ей|ею|ими) можно"
                r" (?!(у|раз)?видеть|заметить|различить|разглядеть)\w+(ть|ти|чь)\b",
                # "удобно есть кашу", "удобен для поездок": convenience is a guess at a use.
                r"\bудобн(о|а|ы|ен) (для|\w+(ть|ться|ти|чь))\b",
            ],
            allowed=_RU_ARTWORK_DEPICTIONS,
            opening_ignore=_RU_NUMERALS,
        ),
        "en": LanguageRules(
            viewing_phrases=[
                *_EN_PICTURE_PHRASES,
                "we can see",
                "we see",
                "can be seen",
                "is depicted",
                "are depicted",
                "is shown",
                "are shown",
                "is pictured",
                "are pictured",
                "pictured is",
                "pictured are",
                "pictured here",
            ],
            hedging=[
                "probably",
                "perhaps",
                "maybe",
                "seems",
                "seemed",
                "seemingly",
                "appears to",
                "appeared to",
                "apparently",
                "likely",
                "possibly",
                "presumably",
                "might be",
                "may be",
                "could be",
                "it looks like",
                "unlikely",
                "supposedly",
                "must be",
                "must have been",
                "i think",
                "i believe",
                "i guess",
                "i suppose",
                "some kind of",
                "some sort of",
            ],
            usage_guess=[
                "can be used for",
                "could be used for",
                "is used for",
                "might be used",
                "is intended for",
                "is meant for",
                "is suitable for",
                "is designed for",
                "are designed for",
            ],
            usage_patterns=[
                r"\b(can|could|may|might) (also |possibly )?be used (for|to|as|in)\b",
                r"\b(is|are) (often |usually |typically )?used (for|as)\b",
                # The passive "is used to roll out dough"; "he used to live" is a habit.
                r"\b(is|are|was|were|be|been|being) (often |usually |typically |mainly )?used to\b",
                r"\b(can|could|may|might|would|will) (also )?serve (as|to|for)\b",
                r"\bserves? to\b",
                r"\b(would|will|could|might) (be|make) (a |an )?(perfect|ideal|great|good|useful"
                r"|handy|suitable|nice)\b",
                r"\b(perfect|ideal|useful|handy|suitable) (for|to)\b",
            ],
            # "in the image of" is the idiom "in the likeness of", not a viewing phrase.
            allowed=["in the image of"],
            opening_ignore=_EN_OPENING_IGNORE,
        ),
    }
)


def _merge_list(base: list[str], value: Any, extend: bool, where: str) -> list[str]:
    """One list of an override: a plain list, or ``{extend: bool, items: [...]}``."""
    if isinstance(value, Mapping):
        unknown = set(value) - {"extend", "items"}
        if unknown:
            raise ValueError(f"{where}: unknown key(s) {sorted(unknown)} (expected extend, items)")
        extend = bool(value.get("extend", extend))
        value = value.get("items", [])
    if value is None:
        value = []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{where}: expected a list of strings")
    if not extend:
        return list(value)
    # Order kept and duplicates dropped so that a re-stated default does not count twice.
    return list(dict.fromkeys([*base, *value]))


def merge_rules(base: CaptionRules, override: Mapping[str, Any] | None) -> CaptionRules:
    """``base`` with a pack's overrides applied (the shape of ``caption_rules.yaml``).

    Numbers (``min_sentences``, ``max_sentences``, ``templated_*``) replace the base's.
    ``languages`` maps a language code to its lists; a language the base lacks is added. Each
    list *extends* the base's list by default; ``extend: false`` on the language replaces all
    the lists it gives, and a single list may say so for itself in the long form::

        min_sentences: 3
        languages:
          ru:
            hedging: [пожалуй]                # added to the built-in list
            usage_guess: {extend: false, items: [служит для]}   # replaces the built-in list
          kk:                                 # a new language
            viewing_phrases: [суретте]

    Lists a language does not mention stay as they are. Raises ``ValueError`` (pydantic's
    ``ValidationError`` is one) naming the offending key.
    """
    if not override:
        return base
    if not isinstance(override, Mapping):
        raise ValueError("caption rules: expected a mapping at the top level")
    data = base.model_dump()
    for key, value in override.items():
        if key != "languages":
            data[key] = value
    languages = override.get("languages") or {}
    if not isinstance(languages, Mapping):
        raise ValueError("languages: expected a mapping of language code to lists")
    for code, lists in languages.items():
        where = f"languages.{code}"
        if lists is None:
            continue
        if not isinstance(lists, Mapping):
            raise ValueError(f"{where}: expected a mapping of list name to phrases")
        unknown = set(lists) - {*LIST_FIELDS, "extend"}
        if unknown:
            raise ValueError(
                f"{where}: unknown key(s) {sorted(unknown)} (expected extend, {', '.join(LIST_FIELDS)})"
            )
        extend = lists.get("extend", True)
        if not isinstance(extend, bool):
            raise ValueError(f"{where}.extend: expected true or false")
        current = data["languages"].get(str(code)) or LanguageRules().model_dump()
        for name in LIST_FIELDS:
            if name in lists:
                current[name] = _merge_list(current[name], lists[name], extend, f"{where}.{name}")
        data["languages"][str(code)] = current
    return CaptionRules.model_validate(data)


def load_rules_file(path: Path | str, base: CaptionRules = DEFAULT_RULES) -> CaptionRules:
    """``base`` merged with a ``caption_rules.yaml`` file, or ``base`` if the file is absent.

    ``path`` may be the file or the pack folder holding it. Raises ``ValueError`` naming the
    file when it is not valid YAML or not valid rules.
    """
    path = Path(path)
    if path.is_dir():
        path = path / RULES_FILE
    if not path.exists():
        return base
    try:
        override = yaml.safe_load(path.read_text(encoding="utf-8-sig"))
        return merge_rules(base, override)
    except (yaml.YAMLError, ValueError) as exc:
        raise ValueError(f"{path}: {exc}") from exc
