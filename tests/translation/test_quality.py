"""Quality signals on real English and Russian strings; the CometKiwi scorer's error."""

from __future__ import annotations

import pytest

from craft_dag.translation.quality import (
    CometKiwiScorer,
    LanguageDetector,
    default_detector,
    quality_signals,
)

SOURCE = "Юрий Гагарин в оранжевом скафандре улыбается."


def test_a_good_translation() -> None:
    signals = quality_signals(
        SOURCE, "Yuri Gagarin in an orange spacesuit, smiling.", source_language="ru"
    )
    assert signals.language == "en" and signals.language_confidence > 0.5
    assert 0.8 < signals.length_ratio < 1.3
    assert not signals.empty and not signals.truncated
    assert signals.qe_score is None


def test_source_copied_through_is_detected_as_the_source_language() -> None:
    signals = quality_signals(SOURCE, SOURCE, source_language="ru")
    assert signals.language == "ru"
    assert signals.length_ratio == 1.0


def test_empty_and_truncated() -> None:
    empty = quality_signals(SOURCE, "   ")
    assert empty.empty and empty.truncated and empty.language == ""
    cut = quality_signals(SOURCE, "Yuri Gagarin in an orange")
    assert cut.truncated and not cut.empty  # lost its final full stop
    short = quality_signals("Пельмени со сметаной в глиняной миске на деревянном столе", "Pelmeni")
    assert short.truncated  # no final punctuation either side, but far too short
    fine = quality_signals("Пельмени", "Pelmeni")
    assert not fine.truncated


def test_detector_is_built_once_per_language_set() -> None:
    assert default_detector("en", "ru") is default_detector("en-US", "ru")
    detector = LanguageDetector(["en", "ru"], low_accuracy=True)
    assert detector.languages == ("en", "ru")
    assert detector.detect("Pirozhki on a plate")[0] == "en"
    assert detector.detect("")[1] == 0.0
    with pytest.raises(ValueError, match="no model for language 'xx'"):
        LanguageDetector(["en", "xx"])


def test_cometkiwi_without_its_environment_says_how_to_get_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("CRAFT_QE_PYTHON", raising=False)
    with pytest.raises(ImportError, match="unbabel-comet"):
        CometKiwiScorer()
