"""Where Tesseract's language data is installed: the tessdata folder for a set of languages.

Split out of ``text_detection.py`` (which re-exports ``find_tessdata``); which languages a
culture pack needs is ``ocr_languages``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from craft_dag.curation.text_findings import TextDetectorUnavailable

# Where distributions put traineddata files (Debian/Ubuntu's tesseract-ocr-* packages for
# Tesseract 5 and 4, Fedora, Homebrew, source builds). TESSDATA_PREFIX, when set, comes first.
_TESSDATA_DIRS: tuple[str, ...] = (
    "/usr/share/tesseract-ocr/5/tessdata",
    "/usr/share/tesseract-ocr/4.00/tessdata",
    "/usr/share/tessdata",
    "/usr/local/share/tessdata",
    "/opt/homebrew/share/tessdata",
)


def find_tessdata(languages: Sequence[str], tessdata: str | os.PathLike[str] | None = None) -> Path:
    """The first tessdata folder holding every one of ``languages``' traineddata files.

    Raises TextDetectorUnavailable naming the missing languages and how to install them.
    """
    if tessdata is not None:
        candidates = [Path(tessdata)]
    else:
        prefix = os.environ.get("TESSDATA_PREFIX")
        candidates = [Path(p) for p in ([prefix] if prefix else []) + list(_TESSDATA_DIRS)]
    best: tuple[Path, list[str]] | None = None
    for folder in candidates:
        missing = [lang for lang in languages if not (folder / f"{lang}.traineddata").is_file()]
        if not missing:
            return folder
        if folder.is_dir() and (best is None or len(missing) < len(best[1])):
            best = (folder, missing)
    missing = best[1] if best else list(languages)
    where = f"in {best[0]}" if best else f"in any of {', '.join(str(c) for c in candidates)}"
    packages = " ".join(f"tesseract-ocr-{lang.replace('_', '-').lower()}" for lang in missing)
    raise TextDetectorUnavailable(
        f"Tesseract language data for {', '.join(missing)} not found {where}: install it "
        f"(Debian/Ubuntu: apt-get install {packages}; or put <lang>.traineddata from "
        "github.com/tesseract-ocr/tessdata_fast in a folder named by TESSDATA_PREFIX)"
    )
