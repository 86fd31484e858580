"""The built-in caption guideline, ``DEFAULT_RULES``: the CRAFT paper's rules in Russian, English.

Split out of ``caption_rules.py``, which re-exports ``DEFAULT_RULES`` and merges a pack's
overrides into it; how a phrase or pattern matches is described there.

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
"""

from __future__ import annotations

from craft_dag.catalog.caption_rule_models import CaptionRules, LanguageRules

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
