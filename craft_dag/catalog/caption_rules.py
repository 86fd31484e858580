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

The built-in lists (``DEFAULT_RULES``) and the decisions behind them are in
``caption_phrases``, the pydantic models (``CaptionRules``, ``LanguageRules``) in
``caption_rule_models``; this module merges a pack's overrides into them and re-exports all
three names.

Packs override or extend these lists with :func:`merge_rules` (the pack's optional
``caption_rules.yaml``, read by :func:`load_rules_file`).

Layering: this was ``captioning/rules.py``. It lives in ``catalog`` beside ``glossary`` (the
translation stage's terms) because it is what a culture pack declares, and ``catalog.pack``
loads and validates it with the rest of the pack: ``catalog`` sits below ``captioning`` and
``translation``, which read the pack and never the other way round. ``catalog`` itself sits
above ``curation`` (``pack`` reads ``curation.yaml`` through ``curation.policy``).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from craft_dag.catalog.caption_phrases import DEFAULT_RULES
from craft_dag.catalog.caption_rule_models import CaptionRules, LanguageRules

# The public names of this module before it was split: importers keep using them from here.
__all__ = [
    "DEFAULT_RULES",
    "LIST_FIELDS",
    "RULES_FILE",
    "CaptionRules",
    "LanguageRules",
    "load_rules_file",
    "merge_rules",
]

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
