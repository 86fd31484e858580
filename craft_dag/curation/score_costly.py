"""The costly pass of scoring: OCR, the overlay detector and the models, for survivors only.

Split out of ``score.py``, which decides which images survive the cheap CPU rules and calls
``costly_scores`` on them. Survivors are decoded again, in colour and at most
``COLOUR_MAX_SIDE`` px (``colour_image``), and scored in batches; a score an earlier run
already holds is not computed again.
"""

import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from PIL import Image

from craft_dag.curation.score_records import RawScores, ScoreItem, Scorers
from craft_dag.curation.text_findings import watermark_suspected
from craft_dag.imaging.decode import ImageRejected, open_untrusted, rejecting
from craft_dag.imaging.greyscale import to_greyscale

COLOUR_MAX_SIDE = 1024
"""Survivors are decoded in colour at most this large for OCR and the models."""


def colour_image(data: bytes, max_side: int = COLOUR_MAX_SIDE) -> Image.Image:
    """The image as RGB (transparency on white), at most ``max_side`` px, for OCR and models."""
    image, fmt = open_untrusted(data)
    with rejecting(fmt):
        if fmt == "JPEG":
            image.draft("RGB", (max_side, max_side))
        image.load()
        if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
            rgba = image.convert("RGBA")
            rgb = Image.new("RGB", rgba.size, "white")
            rgb.paste(rgba, mask=rgba.getchannel("A"))
        elif image.mode.startswith("I;16") or image.mode in ("I", "F"):
            rgb = to_greyscale(image).convert("RGB")
        else:
            rgb = image.convert("RGB")
        rgb.thumbnail((max_side, max_side))
    return rgb


def costly_scores(
    items: Sequence[ScoreItem],
    raws: list[RawScores],
    survivors: list[int],
    scorers: Scorers,
    log: Callable[[str], None],
) -> list[RawScores]:
    """Fill in the OCR, detector and model scores the survivors lack, in batches."""
    wanted = {
        "text": scorers.text is not None,
        "relevance": scorers.relevance is not None,
        "watermark": scorers.watermark is not None,
        "nsfw": scorers.nsfw is not None,
        "overlay": scorers.overlay is not None,
    }

    def missing(i: int) -> bool:
        raw = raws[i]
        return (
            (wanted["text"] and raw.text_words is None)
            or (wanted["relevance"] and raw.relevance is None)
            or (wanted["watermark"] and raw.watermark is None)
            or (wanted["nsfw"] and raw.nsfw is None)
            or (wanted["overlay"] and raw.tiled_overlay is None)
        )

    todo = [i for i in survivors if missing(i)]
    if not todo:
        return raws
    raws = list(raws)
    started = time.perf_counter()
    size = max(1, scorers.batch_size)
    for start in range(0, len(todo), size):
        batch = todo[start : start + size]
        images: list[Image.Image] = []
        ready: list[int] = []
        updates: list[dict[str, Any]] = []
        for i in batch:
            try:
                images.append(colour_image(items[i].load()))
                ready.append(i)
            except (ImageRejected, OSError) as exc:
                reason = exc.reason if isinstance(exc, ImageRejected) else "unreadable"
                raws[i] = replace(raws[i], status="error", error=f"{reason}: {exc}")
                continue
            updates.append({})
        if not ready:
            continue
        if wanted["text"]:
            for u, (i, image) in zip(updates, zip(ready, images, strict=True), strict=True):
                if raws[i].text_words is None:
                    found = scorers.text.detect(image)
                    u.update(
                        text_words=found.words,
                        text_area=found.text_area,
                        text=found.text,
                        text_watermark=watermark_suspected(found),
                    )
        if wanted["overlay"]:
            for u, (i, image) in zip(updates, zip(ready, images, strict=True), strict=True):
                if raws[i].tiled_overlay is None:
                    u["tiled_overlay"] = float(scorers.overlay.score(image))
        if wanted["relevance"]:
            values = scorers.relevance.score(images, [items[i].texts for i in ready])
            for u, value in zip(updates, values, strict=True):
                u["relevance"] = float(value)
        for name in ("watermark", "nsfw"):
            if wanted[name]:
                values = getattr(scorers, name).score(images)
                for u, value in zip(updates, values, strict=True):
                    u[name] = float(value)
        for i, u in zip(ready, updates, strict=True):
            raws[i] = replace(
                raws[i], **{k: v for k, v in u.items() if getattr(raws[i], k) is None}
            )
        log(f"OCR and model scores: {min(start + size, len(todo))}/{len(todo)} survivors")
    log(f"OCR and model scores: {len(todo)} images in {time.perf_counter() - started:.1f} s")
    return raws
