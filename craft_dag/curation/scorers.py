"""Which costly scorers run, per profile: OCR, cultural relevance, watermark and NSFW models.

``tiny`` (the default, CPU, no downloads): Tesseract OCR when installed, and a tiny random
CLIP for relevance (its scores are noise; the relevance rule is off unless a threshold is set,
so it exercises the code path without deciding anything). ``full``: Tesseract plus real
model ids, loaded with ``from_pretrained`` from the hub or a local path.
"""

from collections.abc import Callable
from dataclasses import dataclass

from craft_dag.curation.score import Scorers


@dataclass(frozen=True)
class ScorerSettings:
    profile: str = "tiny"  # tiny | full
    ocr: str = "auto"  # auto | on | off
    relevance_model: str = ""  # "" = the profile's default; "off" = no relevance score
    watermark_model: str = ""  # "" = the profile's default (full: a classifier; tiny: OCR only)
    nsfw_model: str = ""  # "" = none (an optional check); a model id or path turns it on
    device: str = "cpu"
    batch_size: int = 16


def text_detector_for(source_language: str, mode: str, *, warn: Callable[[str], None]) -> Scorers:
    """The OCR detector (or none) and the tiled-overlay detector: what ``craft images score`` runs.

    ``mode`` (auto | on | off) switches both: they are the text and watermark detection.
    """
    return Scorers(
        text=_text_detector(source_language, mode, warn), overlay=_overlay_detector(mode)
    )


def _overlay_detector(mode: str) -> object | None:
    """The tiled-overlay detector (numpy and scipy only, so always available), unless off."""
    if mode == "off":
        return None
    from craft_dag.curation.watermark import TiledOverlayDetector

    return TiledOverlayDetector()


def _text_detector(source_language: str, mode: str, warn: Callable[[str], None]) -> object | None:
    if mode not in ("auto", "on", "off"):
        raise ValueError(f"ocr must be auto, on or off, not {mode!r}")
    if mode == "off":
        return None
    from craft_dag.curation.text_detection import (
        TesseractTextDetector,
        TextDetectorUnavailable,
        tesseract_languages,
    )

    try:
        return TesseractTextDetector(languages=tesseract_languages(source_language))
    except TextDetectorUnavailable as exc:
        if mode == "on":
            raise
        warn(f"OCR text detection is off (only the tiled-overlay watermark detector runs): {exc}")
        return None


def build_scorers(
    settings: ScorerSettings, source_language: str, *, warn: Callable[[str], None]
) -> Scorers:
    """The scorers of a profile; ``warn`` hears about anything switched off for lack of it."""
    if settings.profile not in ("tiny", "full"):
        raise ValueError(f"profile must be tiny or full, not {settings.profile!r}")
    scorers = Scorers(
        text=_text_detector(source_language, settings.ocr, warn),
        overlay=_overlay_detector(settings.ocr),
        batch_size=settings.batch_size,
    )
    relevance = settings.relevance_model
    if relevance != "off":
        from craft_dag.curation.relevance import (
            DEFAULT_RELEVANCE_MODEL,
            TransformersRelevanceScorer,
            tiny_relevance_scorer,
        )

        if settings.profile == "tiny" and not relevance:
            scorers.relevance = tiny_relevance_scorer()
        else:
            scorers.relevance = TransformersRelevanceScorer(
                relevance or DEFAULT_RELEVANCE_MODEL,
                device=settings.device,
                batch_size=settings.batch_size,
            )
    watermark = settings.watermark_model
    if not watermark and settings.profile == "full":
        from craft_dag.curation.classifiers import DEFAULT_WATERMARK_MODEL

        watermark = DEFAULT_WATERMARK_MODEL
    nsfw = settings.nsfw_model
    if watermark not in ("", "off") or nsfw not in ("", "off"):
        from craft_dag.curation.classifiers import TransformersImageClassifier

        if watermark not in ("", "off"):
            scorers.watermark = TransformersImageClassifier(
                watermark, positive_labels=("watermark",), device=settings.device
            )
        if nsfw not in ("", "off"):
            scorers.nsfw = TransformersImageClassifier(
                nsfw, positive_labels=("nsfw",), device=settings.device
            )
    scorers.version = scorers_version(settings, scorers)
    return scorers


def scorers_version(settings: ScorerSettings, scorers: Scorers) -> str:
    """A string that changes when different scorers would give different scores."""
    parts = [f"{name}={kind}" for name, kind in scorers.describe().items()]
    parts += [
        f"relevance_model={settings.relevance_model or settings.profile}",
        f"watermark_model={settings.watermark_model}",
        f"nsfw_model={settings.nsfw_model}",
    ]
    return ";".join(parts)
