"""Which Tesseract language data a culture pack needs (split out of text_detection.py)."""

from __future__ import annotations

# ISO 639-1 code -> Tesseract's language data name. Culture packs name their source language
# by ISO 639-1; Tesseract names its traineddata files by (mostly) ISO 639-2/T with suffixes.
TESSERACT_LANGUAGES: dict[str, str] = {
    "ar": "ara",
    "be": "bel",
    "bg": "bul",
    "cs": "ces",
    "de": "deu",
    "el": "ell",
    "en": "eng",
    "es": "spa",
    "fa": "fas",
    "fi": "fin",
    "fr": "fra",
    "he": "heb",
    "hi": "hin",
    "hy": "hye",
    "id": "ind",
    "it": "ita",
    "ja": "jpn",
    "ka": "kat",
    "kk": "kaz",
    "ko": "kor",
    "ky": "kir",
    "nl": "nld",
    "pl": "pol",
    "pt": "por",
    "ro": "ron",
    "ru": "rus",
    "sr": "srp",
    "sv": "swe",
    "th": "tha",
    "tr": "tur",
    "tt": "tat",
    "uk": "ukr",
    "uz": "uzb",
    "vi": "vie",
    "zh": "chi_sim",
}


def tesseract_languages(source_language: str) -> tuple[str, ...]:
    """Tesseract languages for a pack: its source language, then English (once).

    ``source_language`` is an ISO 639-1 code (``"ru"``; a region such as ``"pt-BR"`` is
    ignored) or already a Tesseract name (``"rus"``). English is always added: stock
    watermarks and shop signs in most countries are in Latin script.
    """
    code = source_language.strip().replace("_", "-").split("-")[0].casefold()
    if code in TESSERACT_LANGUAGES:
        name = TESSERACT_LANGUAGES[code]
    elif source_language in TESSERACT_LANGUAGES.values():
        name = source_language
    else:
        raise ValueError(
            f"no Tesseract language known for {source_language!r}: add it to "
            f"TESSERACT_LANGUAGES (known: {', '.join(sorted(TESSERACT_LANGUAGES))})"
        )
    return tuple(dict.fromkeys((name, "eng")))
