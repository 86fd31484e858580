"""Caption one category in storage: human captions, automatic ones where the policy needs
them, clean-up, the guideline linter, and the ``captions`` table."""

import json
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import pyarrow as pa

from craft_dag.captioning.captioner import CaptionRequest, GenerationSettings
from craft_dag.captioning.choose import (
    HUMAN_CAPTIONS,
    HumanCaption,
    choose,
    from_review,
    merge_human,
    needs_auto,
    parse_caption_csv,
)
from craft_dag.captioning.cleanup import clean_caption
from craft_dag.captioning.lint import lint_captions
from craft_dag.catalog.caption_rules import CaptionRules
from craft_dag.curation.filtering import FILTERED, IMAGE_FIELDS
from craft_dag.curation.score import colour_image
from craft_dag.imaging.decode import ImageRejected
from craft_dag.review.decisions import RowProblem
from craft_dag.storage import Storage, StorageError

CAPTIONS = "captions"
AUTO_LANGUAGE = "en"  # the captioners are prompted, and answer, in English

CAPTIONS_SCHEMA = pa.schema(
    [
        *IMAGE_FIELDS,
        ("human_caption", pa.string()),
        ("human_author", pa.string()),
        ("human_source", pa.string()),  # review | csv | ""
        ("auto_caption", pa.string()),  # cleaned
        ("auto_caption_raw", pa.string()),  # as the model wrote it
        ("auto_model", pa.string()),
        ("auto_params", pa.string()),  # JSON: generation settings and instruction
        ("auto_error", pa.string()),
        ("caption", pa.string()),  # the chosen caption
        ("caption_source", pa.string()),  # human | auto | none
        ("caption_language", pa.string()),
        ("violations", pa.list_(pa.string())),  # guideline rule ids the chosen caption breaks
        ("included", pa.bool_()),  # goes on to translation and training
        ("excluded_reason", pa.string()),
    ]
)


@dataclass
class CaptionsResult:
    table: pa.Table
    problems: list[RowProblem] = field(default_factory=list)
    counts: Counter = field(default_factory=Counter)
    violations: Counter = field(default_factory=Counter)


def load_human_captions(
    store: Storage, category: str, filtered: Sequence[Mapping[str, Any]], language: str
) -> tuple[dict[tuple[str, str], HumanCaption], list[RowProblem]]:
    """Review captions, then every CSV under ``human_captions/<category>/`` (later wins)."""
    csv_captions: list[HumanCaption] = []
    problems: list[RowProblem] = []
    for name in store.list_files(HUMAN_CAPTIONS, category):
        if not name.endswith(".csv"):
            continue
        found, bad = parse_caption_csv(
            store.read_file((HUMAN_CAPTIONS, category, name)),
            where=f"{HUMAN_CAPTIONS}/{category}/{name}",
            language=language,
        )
        csv_captions += found
        problems += bad
    # A CSV row without an entity applies to the image under every entity it is filed under.
    entities_of: dict[str, list[str]] = {}
    for r in filtered:
        entities_of.setdefault(r["image_id"], []).append(r["entity_id"])
    expanded = [
        HumanCaption(c.image_id, e, c.text, c.author, c.language, c.source, c.written_at)
        for c in csv_captions
        for e in ([c.entity_id] if c.entity_id else entities_of.get(c.image_id, []))
    ]
    return merge_human(from_review(filtered, language), expanded), problems


def caption_category(
    store: Storage,
    category: str,
    *,
    names: Mapping[str, Sequence[str]],
    category_name: str,
    source_language: str,
    policy: str,
    captioner: Any,
    settings: GenerationSettings,
    rules: CaptionRules,
    batch_size: int = 8,
    auto_captions: Callable[[list[dict]], dict[tuple[str, str], Any]] | None = None,
    log: Callable[[str], None] = lambda _: None,
) -> CaptionsResult:
    """Caption the category's ``filtered_images`` and write ``captions``.

    ``names`` maps each entity to its names (native first, then English and aliases): the
    first is given to the captioner when ``settings.include_entity``, all of them to the
    linter's ``missing_entity`` rule. ``captioner`` may be None when the policy needs none.
    ``auto_captions(rows)``, when given, writes the automatic captions instead of ``captioner``
    in this process (``craft_dag.parallel.captioning``: by shard on Ray), with the same results.
    """
    filtered = store.read_table(FILTERED, category).to_pylist()
    human, problems = load_human_captions(store, category, filtered, source_language)
    wanted = [r for r in filtered if needs_auto(policy, (r["image_id"], r["entity_id"]) in human)]
    auto: dict[tuple[str, str], Any] = {}
    if wanted and auto_captions is not None:
        auto = auto_captions(wanted)
    elif wanted:
        if captioner is None:
            raise ValueError(f"caption policy {policy!r} needs a captioner, and none is set")
        auto = write_auto_captions(
            store, wanted, names, category_name, captioner, settings, batch_size, log
        )

    rows = []
    for r in filtered:
        key = (r["image_id"], r["entity_id"])
        person = human.get(key)
        machine = auto.get(key)
        cleaned = clean_caption(machine.text) if machine is not None and machine.text else ""
        chosen = choose(policy, person, cleaned, AUTO_LANGUAGE)
        rows.append(
            {
                "image_id": r["image_id"],
                "entity_id": r["entity_id"],
                "category": category,
                "blob_key": r["blob_key"],
                "width": r["width"],
                "height": r["height"],
                "human_caption": person.text if person else "",
                "human_author": person.author if person else "",
                "human_source": person.source if person else "",
                "auto_caption": cleaned,
                "auto_caption_raw": machine.text if machine else "",
                "auto_model": machine.model if machine else "",
                "auto_params": json.dumps(machine.params, sort_keys=True) if machine else "",
                "auto_error": machine.error if machine else "",
                "caption": chosen.text,
                "caption_source": chosen.source,
                "caption_language": chosen.language,
            }
        )

    # The guideline linter, on the chosen captions, per entity (the templated rule looks across).
    lint_rows = [
        {
            "entity": row["entity_id"],
            "caption": row["caption"],
            "language": row["caption_language"],
            "names": list(names.get(row["entity_id"], [row["entity_id"]])),
        }
        for row in rows
        if row["caption"]
    ]
    found = iter(lint_captions(lint_rows, rules))
    result = CaptionsResult(pa.table({}), problems)
    for row in rows:
        broken = [v.rule for v in next(found)] if row["caption"] else []
        row["violations"] = sorted(set(broken))
        if not row["caption"]:
            reason = "no caption" if row["caption_source"] == "none" else ""
            if row["auto_error"]:
                reason = "captioner error"
            row["included"], row["excluded_reason"] = False, reason or "no caption"
        elif broken:
            row["included"], row["excluded_reason"] = (
                False,
                "guidelines: " + ";".join(row["violations"]),
            )
        else:
            row["included"], row["excluded_reason"] = True, ""
        result.counts[
            f"{row['caption_source']}: {'included' if row['included'] else 'excluded'}"
        ] += 1
        result.violations.update(row["violations"])
    result.table = pa.Table.from_pylist(rows, schema=CAPTIONS_SCHEMA)
    store.write_table(CAPTIONS, category, result.table)
    return result


def write_auto_captions(
    store: Storage,
    rows: Sequence[Mapping[str, Any]],
    names: Mapping[str, Sequence[str]],
    category_name: str,
    captioner: Any,
    settings: GenerationSettings,
    batch_size: int,
    log: Callable[[str], None],
) -> dict[tuple[str, str], Any]:
    """Automatic captions in batches; an image that will not load is a per-row error."""
    from craft_dag.captioning.captioner import CaptionResult

    out: dict[tuple[str, str], Any] = {}
    started = time.perf_counter()
    for start in range(0, len(rows), batch_size):
        batch = rows[start : start + batch_size]
        requests, keys = [], []
        for r in batch:
            key = (r["image_id"], r["entity_id"])
            try:
                image = colour_image(store.get_blob(r["image_id"]))
            except (ImageRejected, StorageError, OSError) as exc:
                out[key] = CaptionResult(r["image_id"], "", error=f"unreadable image: {exc}")
                continue
            entity = (names.get(r["entity_id"]) or [r["entity_id"]])[0]
            requests.append(CaptionRequest(r["image_id"], image, entity, category_name))
            keys.append(key)
        if requests:
            for key, result in zip(keys, captioner.caption(requests, settings), strict=True):
                out[key] = result
        log(f"captions: {min(start + batch_size, len(rows))}/{len(rows)} images")
    elapsed = time.perf_counter() - started
    log(f"captions: {len(rows)} images with {captioner.model} in {elapsed:.1f} s")
    return out


def settings_dict(settings: GenerationSettings) -> dict[str, Any]:
    return asdict(settings)
