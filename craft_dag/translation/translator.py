"""What every translation backend offers, and translation with the pack's glossary enforced.

A backend (``TransformersTranslator`` for Marian/NLLB-style seq2seq models, ``VllmTranslator``
for instruction-following LLMs) turns source-language captions into target-language ones. The
paper's limitation (section 6) is why the glossary is not optional here: machine translation
rendered космонавт as "astronaut", and the training images of cosmonauts got American flags.
``translate_with_glossary`` therefore runs every translation through the pack glossary: the
backend may steer generation away from known wrong renderings, then ``GlossaryMatcher.enforce``
post-edits what is left and reports, per caption, what could not be fixed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from craft_dag.translation.glossary import Edit, GlossaryHit, GlossaryMatcher, Miss


@dataclass(frozen=True)
class TranslationSettings:
    """How a backend generates: beam width, the longest output, requests per batch.

    ``num_beams`` 1 is greedy decoding. A backend that cannot search beams (vLLM's chat API)
    decodes greedily and says so; one that schedules its own batches ignores ``batch_size``.
    """

    num_beams: int = 4
    max_new_tokens: int = 512
    batch_size: int = 16

    def __post_init__(self) -> None:
        for name in ("num_beams", "max_new_tokens", "batch_size"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(
                    f"TranslationSettings.{name} must be an integer >= 1, not {value!r}"
                )


class Translator(Protocol):
    """A translation backend: ``name`` of the backend, ``model`` id it runs.

    ``translate`` returns one translation per text, in input order; an empty text gives "".
    """

    name: str
    model: str

    def translate(self, texts: Sequence[str], settings: TranslationSettings) -> list[str]: ...


class GlossaryAwareTranslator(Translator, Protocol):
    """A backend that can use the glossary while it translates (``accepts_glossary`` true).

    ``glossary`` is matched against ``sources`` (by default the texts themselves; pass the
    original captions when ``texts`` were pre-processed), one per text.
    """

    accepts_glossary: bool

    def translate(
        self,
        texts: Sequence[str],
        settings: TranslationSettings,
        *,
        glossary: GlossaryMatcher | None = None,
        sources: Sequence[str] | None = None,
    ) -> list[str]: ...


@dataclass(frozen=True)
class GlossaryTranslation:
    """One caption through translation and the glossary.

    ``raw`` is what the backend produced, ``text`` the translation after the post-edit,
    ``hits`` the glossary terms found in the source, ``edits`` the replacements made and
    ``misses`` what is still wrong in ``text`` (empty when every term is rendered as required).
    """

    source: str
    raw: str
    text: str
    hits: tuple[GlossaryHit, ...]
    edits: tuple[Edit, ...]
    misses: tuple[Miss, ...]


def translate_with_glossary(
    translator: Translator,
    texts: Sequence[str],
    settings: TranslationSettings,
    glossary: GlossaryMatcher,
) -> list[GlossaryTranslation]:
    """Translate ``texts`` and enforce ``glossary`` on every result.

    A backend with ``accepts_glossary`` gets the glossary during generation (forbidden wrong
    renderings, or the required terms in an LLM's prompt); every translation is then
    post-edited and re-checked, so a term the backend still got wrong is either fixed or
    reported as a miss, never passed silently.
    """
    texts = list(texts)
    raw = raw_translations(translator, texts, settings, glossary)
    return [
        glossary_checked(source, translation, glossary)
        for source, translation in zip(texts, raw, strict=True)
    ]


def raw_translations(
    translator: Translator,
    texts: Sequence[str],
    settings: TranslationSettings,
    glossary: GlossaryMatcher,
) -> list[str]:
    """The model's translations of ``texts``, the glossary given to a backend that takes it."""
    texts = list(texts)
    if getattr(translator, "accepts_glossary", False):
        raw = translator.translate(texts, settings, glossary=glossary)  # type: ignore[call-arg]
    else:
        raw = translator.translate(texts, settings)
    if len(raw) != len(texts):
        raise RuntimeError(
            f"translator {translator.name!r} returned {len(raw)} translations for {len(texts)} texts"
        )
    return list(raw)


def glossary_checked(
    source: str, translation: str, glossary: GlossaryMatcher
) -> GlossaryTranslation:
    """One translation (a model's or a person's) post-edited against the glossary and checked."""
    enforced = glossary.enforce(source, translation)
    return GlossaryTranslation(
        source=source,
        raw=translation,
        text=enforced.text,
        hits=tuple(glossary.find(source)),
        edits=enforced.edits,
        misses=enforced.misses,
    )


def language_name(code: str) -> str:
    """The English name of a language code ("ru" -> "Russian"), for prompts; else the code.

    Names come from lingua's language table, so no language is listed here by hand.
    """
    from lingua import IsoCode639_1, Language

    primary = code.split("-")[0].split("_")[0].lower()
    try:
        language = Language.from_iso_code_639_1(IsoCode639_1.from_str(primary))
    except ValueError:
        return code
    return language.name.replace("_", " ").title()
