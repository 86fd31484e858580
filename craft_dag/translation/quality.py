"""Cheap quality signals of a machine translation, and an optional learned quality estimate.

Machine translation fails quietly: it copies the source through, answers in a third
language, stops half-way, or returns nothing. Each translated caption gets signals that catch
those without a reference translation:

* the detected language and its confidence, by lingua (``lingua-language-detector``: n-gram
  models shipped in its wheel, no network). A detector is built once per language set and
  reused. Restricted to a handful of languages (the target, the source and a few common ones)
  in high-accuracy mode it costs about 1 s and 190 MB to load, then under 0.1 ms per caption;
  all 75 languages would take 15 s and 1.2 GB. ``low_accuracy=True`` loads in 0.04 s and
  13 MB, at lower accuracy on short texts (measured on a 2-core CPU).
* the length ratio, translation characters over source characters;
* ``empty``: the translation is blank;
* ``truncated``: the source ends with terminal punctuation and the translation does not, or
  the translation is much shorter than a source of some length (``SHORT_RATIO``).

``qe_score`` is for a learned reference-free estimate: ``CometKiwiScorer`` (seed 001 of the
design: "is MT any good?" is answered with CometKiwi). It is optional and heavy, see its
docstring; the cheap signals never need it.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from craft_dag.text.morphology import normalise_language

# Languages every default detector can also answer with, besides the pack's source and target:
# the commonest ones an MT model drifts into. Each costs about 40 MB in high-accuracy mode.
DEFAULT_EXTRA_LANGUAGES: tuple[str, ...] = ("en", "de", "fr", "es")

# Sentence-final punctuation, any script: Latin/Cyrillic, ellipsis, CJK, Devanagari, Arabic.
TERMINAL_PUNCTUATION = ".!?\u2026\u3002\uff01\uff1f\u0964\u061f"
# Closing quotes and brackets that may follow the final punctuation.
_CLOSERS = "\"'\u00bb\u201d\u2019)]}\u300d\u300f"

SHORT_RATIO = 0.4
"""A translation under this share of its source's characters counts as truncated..."""
SHORT_MIN_SOURCE = 30
"""...when the source has at least this many characters (short captions vary too much)."""


@dataclass(frozen=True)
class QualitySignals:
    """Signals of one translation; see the module docstring.

    ``language`` is the detected ISO 639-1 code ("" when nothing could be detected), with
    ``language_confidence`` in [0, 1] relative to the detector's languages. ``qe_score`` is a
    learned estimate when one was computed, else None.
    """

    language: str
    language_confidence: float
    length_ratio: float
    empty: bool
    truncated: bool
    qe_score: float | None = None


class LanguageDetector:
    """lingua's detector restricted to some languages (ISO 639-1 codes), built once.

    ``detect(text)`` gives the most likely language's code and confidence. A code lingua does
    not know is an error here, not silently dropped: the signal would be meaningless.
    """

    def __init__(self, languages: Iterable[str], *, low_accuracy: bool = False) -> None:
        from lingua import IsoCode639_1, Language, LanguageDetectorBuilder

        chosen = []
        for code in dict.fromkeys(normalise_language(c) for c in languages):
            try:
                chosen.append(Language.from_iso_code_639_1(IsoCode639_1.from_str(code)))
            except ValueError:
                raise ValueError(
                    f"lingua has no model for language {code!r}; pass languages it knows"
                ) from None
        if not chosen:
            raise ValueError("a language detector needs at least one language")
        self.languages = tuple(sorted(language.iso_code_639_1.name.lower() for language in chosen))
        builder = LanguageDetectorBuilder.from_languages(*chosen)
        if low_accuracy:
            builder = builder.with_low_accuracy_mode()
        # Preloaded: the first call would otherwise pay the model loading, inside a timed loop.
        self._detector = builder.with_preloaded_language_models().build()

    def detect(self, text: str) -> tuple[str, float]:
        """(ISO 639-1 code, confidence) of the likeliest language; ("", 0.0) for none."""
        values = self._detector.compute_language_confidence_values(text)
        if not values or values[0].value <= 0.0:
            return "", 0.0
        best = values[0]
        # lingua sums its n-gram probabilities in an order that varies from call to call, so
        # the same text's confidence moves in its last bits (seen: 13 values 1e-16 apart in 50
        # calls); rounded to 9 digits it is the same on every run, shard or machine.
        return best.language.iso_code_639_1.name.lower(), round(float(best.value), 9)


@lru_cache(maxsize=8)
def _cached_detector(languages: tuple[str, ...], low_accuracy: bool) -> LanguageDetector:
    return LanguageDetector(languages, low_accuracy=low_accuracy)


def default_detector(
    target_language: str, source_language: str | None = None, *, low_accuracy: bool = False
) -> LanguageDetector:
    """The shared detector for a language pair: target, source and ``DEFAULT_EXTRA_LANGUAGES``."""
    codes = [target_language, *([source_language] if source_language else [])]
    codes += DEFAULT_EXTRA_LANGUAGES
    normalised = tuple(sorted({normalise_language(code) for code in codes}))
    return _cached_detector(normalised, low_accuracy)


def _ends_sentence(text: str) -> bool:
    stripped = text.rstrip().rstrip(_CLOSERS).rstrip()
    return bool(stripped) and stripped[-1] in TERMINAL_PUNCTUATION


def quality_signals(
    source: str,
    translation: str,
    *,
    target_language: str = "en",
    source_language: str | None = None,
    detector: LanguageDetector | None = None,
    qe_score: float | None = None,
) -> QualitySignals:
    """The cheap signals of one translation (see the module docstring).

    ``detector`` defaults to ``default_detector(target_language, source_language)``;
    ``qe_score`` is passed through (score a batch with ``CometKiwiScorer`` first).
    """
    if detector is None:
        detector = default_detector(target_language, source_language)
    source_chars = len(source.strip())
    translation_chars = len(translation.strip())
    empty = translation_chars == 0
    ratio = translation_chars / source_chars if source_chars else (0.0 if empty else 1.0)
    language, confidence = ("", 0.0) if empty else detector.detect(translation)
    truncated = bool(source_chars) and (
        empty
        or (_ends_sentence(source) and not _ends_sentence(translation))
        or (source_chars >= SHORT_MIN_SOURCE and ratio < SHORT_RATIO)
    )
    return QualitySignals(
        language=language,
        language_confidence=confidence,
        length_ratio=ratio,
        empty=empty,
        truncated=truncated,
        qe_score=qe_score,
    )


# The scoring script run by the quality-estimation interpreter: JSON in on stdin, JSON out.
_COMET_SCRIPT = """
import json, sys
from comet import download_model, load_from_checkpoint
request = json.load(sys.stdin)
model = load_from_checkpoint(download_model(request["model"]))
data = [{"src": s, "mt": t} for s, t in zip(request["sources"], request["translations"])]
output = model.predict(data, batch_size=request["batch_size"], gpus=request["gpus"],
                       progress_bar=False)
# Last line: comet and lightning may print their own lines to stdout before it.
print("\n" + json.dumps([float(x) for x in output.scores]))
"""

QE_PYTHON_ENV = "CRAFT_QE_PYTHON"
"""Environment variable naming the interpreter that has unbabel-comet installed."""

QE_INSTALL_HINT = (
    "CometKiwi needs unbabel-comet, which pins numpy<2 and transformers<5 and so cannot be "
    "installed beside craft_dag: give it its own virtualenv "
    "(python3 -m venv .venv-qe && .venv-qe/bin/pip install 'unbabel-comet>=2.2') and point "
    f"CometKiwiScorer(python=...) or {QE_PYTHON_ENV} at .venv-qe/bin/python"
)


class CometKiwiScorer:
    """Reference-free translation quality estimates by CometKiwi (unbabel-comet).

    ``Unbabel/wmt22-cometkiwi-da`` is licensed **CC-BY-NC-SA-4.0** (non-commercial,
    share-alike) and gated on the Hugging Face Hub (accept its terms, log in once); its scores
    lie roughly in [0, 1], higher is better. unbabel-comet requires numpy<2 and
    transformers<5, so it cannot share craft_dag's environment; the scorer runs it in a
    separate interpreter (``python``, or ``$CRAFT_QE_PYTHON``) with the sources and
    translations as JSON on stdin. Without one, constructing the scorer raises ImportError
    saying how to make one. Nothing in the tests downloads or runs the model.
    """

    def __init__(
        self,
        model: str = "Unbabel/wmt22-cometkiwi-da",
        *,
        python: str | os.PathLike[str] | None = None,
        batch_size: int = 16,
        gpus: int = 0,
        timeout_s: float | None = None,
    ) -> None:
        interpreter = python or os.environ.get(QE_PYTHON_ENV)
        if not interpreter or not Path(interpreter).is_file():
            raise ImportError(f"no interpreter with unbabel-comet configured. {QE_INSTALL_HINT}")
        probe = subprocess.run(
            [str(interpreter), "-c", "import comet"], capture_output=True, text=True, check=False
        )
        if probe.returncode != 0:
            raise ImportError(
                f"{interpreter} cannot import comet: {probe.stderr.strip()[-300:]}. {QE_INSTALL_HINT}"
            )
        self.model = model
        self.python = str(interpreter)
        self.batch_size = batch_size
        self.gpus = gpus
        self.timeout_s = timeout_s

    def score(self, sources: Sequence[str], translations: Sequence[str]) -> list[float]:
        """One estimate per (source, translation) pair, in order."""
        if len(sources) != len(translations):
            raise ValueError(f"{len(sources)} sources for {len(translations)} translations")
        if not sources:
            return []
        request: dict[str, Any] = {
            "model": self.model,
            "sources": list(sources),
            "translations": list(translations),
            "batch_size": self.batch_size,
            "gpus": self.gpus,
        }
        done = subprocess.run(
            [self.python, "-c", _COMET_SCRIPT],
            input=json.dumps(request),
            capture_output=True,
            text=True,
            timeout=self.timeout_s,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"CometKiwi scoring failed: {done.stderr.strip()[-2000:]}")
        scores = json.loads(done.stdout.strip().splitlines()[-1])
        if len(scores) != len(sources):
            raise RuntimeError(f"CometKiwi returned {len(scores)} scores for {len(sources)} pairs")
        return [float(score) for score in scores]
