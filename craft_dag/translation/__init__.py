"""Source -> target translation of captions with the culture pack's glossary enforced.

``translator`` defines the backend interface and ``translate_with_glossary``;
``transformers_backend`` (Marian, NLLB) and ``vllm_backend`` (instruction-following LLMs) are
the backends; ``glossary`` finds, checks and post-edits glossary terms; ``quality`` gives the
cheap quality signals of a translation and an optional CometKiwi estimate; ``cli`` is
``craft glossary check``. Backends import their heavy libraries when they are built.
"""

from craft_dag.translation.glossary import (
    Edit,
    Enforced,
    GlossaryHit,
    GlossaryMatcher,
    Miss,
)
from craft_dag.translation.quality import QualitySignals, quality_signals
from craft_dag.translation.translator import (
    GlossaryTranslation,
    TranslationSettings,
    Translator,
    translate_with_glossary,
)

__all__ = [
    "Edit",
    "Enforced",
    "GlossaryHit",
    "GlossaryMatcher",
    "GlossaryTranslation",
    "Miss",
    "QualitySignals",
    "TranslationSettings",
    "Translator",
    "quality_signals",
    "translate_with_glossary",
]
