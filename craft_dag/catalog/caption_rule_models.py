"""The shape of the caption guideline: ``CaptionRules`` and its per-language ``LanguageRules``.

Split out of ``caption_rules.py`` (whose docstring says how the phrase lists match, and which
re-exports both models); the built-in values are ``caption_phrases.DEFAULT_RULES``.
"""

from __future__ import annotations

import re

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from craft_dag.text.morphology import normalise_language


class LanguageRules(BaseModel):
    """The phrase lists of one language (``caption_rules``' docstring says how they match)."""

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
