"""Load a culture pack from its folder, checking everything and reporting every problem at once.

``validate_pack`` returns the problems (empty when the pack is sound); ``load_pack`` returns a
``CulturePack`` or raises ``PackError`` carrying all of them. Each problem names the file
(relative to the pack), the line and the field, so a person can fix a pack in one pass.
"""

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, TypeAdapter, ValidationError

from craft_dag.catalog.caption_rules import DEFAULT_RULES, RULES_FILE, CaptionRules, merge_rules
from craft_dag.catalog.glossary import read_glossary
from craft_dag.catalog.models import (
    CatalogTerms,
    Category,
    Entity,
    EvalPrompt,
    GlossaryTerm,
    PackMeta,
)
from craft_dag.catalog.scripts import has_letter_of, is_known_script
from craft_dag.catalog.yaml_source import YamlDocument, YamlSourceError, load_yaml
from craft_dag.curation.policy import CurationPolicy, effective

PACK_FILE = "pack.yaml"
ENTITIES_DIR = "entities"
PROMPTS_DIR = "prompts"
GLOSSARY_FILE = "glossary.yaml"
CURATION_FILE = "curation.yaml"

M = TypeVar("M", bound=BaseModel)

BUNDLED_PACKS = Path(__file__).resolve().parent.parent / "packs"


def bundled_pack_path(pack_id: str = "ru") -> Path:
    """The folder of a pack shipped inside craft_dag (package data)."""
    return BUNDLED_PACKS / pack_id


@dataclass(frozen=True)
class Problem:
    file: str
    line: int
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}"
        return (
            f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"
        )


class PackError(ValueError):
    """A culture pack that failed validation; ``problems`` lists every finding."""

    def __init__(self, root: Path, problems: list[Problem]) -> None:
        self.root = root
        self.problems = problems
        listing = "\n".join(f"  {p}" for p in problems)
        super().__init__(f"culture pack {root} has {len(problems)} problem(s):\n{listing}")


@dataclass(frozen=True)
class CulturePack:
    root: Path
    meta: PackMeta
    entities: dict[str, tuple[Entity, ...]]
    glossary: tuple[GlossaryTerm, ...] = ()  # glossary.yaml's terms; merged_glossary adds entities
    glossary_catalog: CatalogTerms = field(default_factory=CatalogTerms)
    prompts: tuple[EvalPrompt, ...] = ()
    files: dict[str, Path] = field(default_factory=dict)
    curation: CurationPolicy = field(default_factory=CurationPolicy)
    caption_rules: CaptionRules = DEFAULT_RULES

    @property
    def id(self) -> str:
        return self.meta.id

    @property
    def categories(self) -> tuple[Category, ...]:
        return tuple(self.meta.categories)

    @property
    def category_ids(self) -> list[str]:
        return [c.id for c in self.meta.categories]

    def category(self, category_id: str) -> Category:
        for category in self.meta.categories:
            if category.id == category_id:
                return category
        raise KeyError(f"pack {self.id!r} has no category {category_id!r}")

    def category_fingerprint(self, category_id: str) -> str:
        """A hash of what the pack says about one category: its record and its entities.

        Built from the parsed records, not the file bytes, so a comment or re-indentation
        does not mark a partition as changed.
        """
        payload = {
            "pack": self.id,
            "source_language": self.meta.source_language,
            "category": self.category(category_id).model_dump(mode="json"),
            "entities": [e.model_dump(mode="json") for e in self.entities[category_id]],
        }
        blob = json.dumps(payload, ensure_ascii=False, sort_keys=True).encode("utf-8")
        return hashlib.sha256(blob).hexdigest()[:16]

    def curation_fingerprint(self, category_id: str) -> str:
        """A hash of the curation thresholds in force for one category (see curation.yaml)."""
        self.category(category_id)
        return effective(self.curation, category_id).fingerprint()


@cache
def _adapter(model: type[BaseModel]) -> TypeAdapter:
    return TypeAdapter(model)


def _field_name(loc: Iterable[str | int]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


_ID_FIELDS = {"id", "category", "entity"}


def _message(error: dict[str, Any]) -> str:
    loc = error["loc"]
    if error["type"] == "string_pattern_mismatch" and loc and loc[-1] in _ID_FIELDS:
        return f"{error['input']!r} is not an id: use lower-case a-z, 0-9 and _"
    if error["type"] == "extra_forbidden":
        return "unknown field (misspelt?)"
    if error["type"] == "missing":
        return "required field is missing"
    message = error["msg"]
    return message.removeprefix("Value error, ")


class _Collector:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.problems: list[Problem] = []

    def rel(self, file: Path) -> str:
        try:
            return file.relative_to(self.root).as_posix()
        except ValueError:
            return file.as_posix()

    def add(self, file: Path, line: int, loc: Iterable[str | int], message: str) -> None:
        self.problems.append(Problem(self.rel(file), line, _field_name(loc), message))

    def at(self, doc: YamlDocument, loc: tuple[str | int, ...], message: str) -> None:
        self.add(doc.file, doc.line_of(loc), loc, message)

    def load(self, file: Path) -> YamlDocument | None:
        try:
            doc = load_yaml(file)
        except YamlSourceError as exc:
            self.add(file, exc.line, (), exc.message)
            return None
        for loc, line in doc.duplicate_keys:
            self.add(file, line, loc, "key appears twice in the same mapping")
        return doc

    def validate(
        self, model: type[M], data: Any, doc: YamlDocument, prefix: tuple[str | int, ...]
    ) -> M | None:
        try:
            return _adapter(model).validate_python(data)
        except ValidationError as exc:
            for error in exc.errors():
                loc = (*prefix, *error["loc"])
                self.add(doc.file, doc.line_of(loc), loc, _message(error))
            return None

    def records(
        self, model: type[M], doc: YamlDocument, key: str
    ) -> list[tuple[int, M | None, Any]]:
        """Validate each item of the list under ``key`` alone, so one bad record hides nothing.

        Yields (index, record or None if invalid, raw item).
        """
        if not isinstance(doc.data, dict):
            self.at(doc, (), f"expected a mapping with a '{key}' list")
            return []
        items = doc.data.get(key)
        if items is None:
            return []
        if not isinstance(items, list):
            self.at(doc, (key,), "expected a list")
            return []
        out = []
        for index, item in enumerate(items):
            out.append((index, self.validate(model, item, doc, (key, index)), item))
        return out


def _check_script(
    c: _Collector, doc: YamlDocument, loc: tuple[str | int, ...], text: str, scripts: list[str]
) -> None:
    if not has_letter_of(text, scripts):
        c.at(doc, loc, f"{text!r} has no letter of the source script ({', '.join(scripts)})")


def _check_raw_script(
    c: _Collector,
    doc: YamlDocument,
    loc: tuple[str | int, ...],
    raw: Any,
    keys: tuple[str, ...],
    scripts: list[str],
) -> None:
    """Script checks on a record that failed validation, so its other problems still show."""
    if not isinstance(raw, dict):
        return
    for key in keys:
        value = raw.get(key)
        if isinstance(value, str) and value.strip():
            _check_script(c, doc, (*loc, key), value, scripts)
        elif isinstance(value, list):
            for i, item in enumerate(value):
                if isinstance(item, str) and item.strip():
                    _check_script(c, doc, (*loc, key, i), item, scripts)


def _read(root: Path) -> tuple[CulturePack | None, list[Problem]]:
    root = Path(root)
    c = _Collector(root)
    pack_file = root / PACK_FILE
    if not pack_file.is_file():
        c.add(pack_file, 1, (), f"not a culture pack: {PACK_FILE} is missing")
        return None, c.problems
    pack_doc = c.load(pack_file)
    if pack_doc is None:
        return None, c.problems
    meta = c.validate(PackMeta, pack_doc.data, pack_doc, ())
    if meta is None:
        return None, c.problems
    for i, script in enumerate(meta.scripts):
        if not is_known_script(script):
            c.at(pack_doc, ("scripts", i), f"unknown Unicode script {script!r}")
    category_line: dict[str, int] = {}
    category_index: dict[str, int] = {}
    for i, category in enumerate(meta.categories):
        if category.id in category_line:
            c.at(
                pack_doc,
                ("categories", i, "id"),
                f"duplicate category id {category.id!r} (first on line {category_line[category.id]})",
            )
        else:
            category_line[category.id] = pack_doc.line_of(("categories", i))
            category_index[category.id] = i
        _check_script(
            c, pack_doc, ("categories", i, "native_name"), category.native_name, meta.scripts
        )

    # Entities: one file per category.
    entities: dict[str, list[Entity]] = {cid: [] for cid in category_line}
    files: dict[str, Path] = {}
    entity_where: dict[str, str] = {}
    entity_category: dict[str, str] = {}
    listed: set[str] = set()  # categories whose file lists records, valid or not
    for file in sorted((root / ENTITIES_DIR).glob("*.y*ml")):
        doc = c.load(file)
        if doc is None:
            continue
        if not isinstance(doc.data, dict):
            c.at(doc, (), "expected a mapping with 'category' and 'entities'")
            continue
        category_id = doc.data.get("category")
        if category_id is None:
            c.at(doc, (), "required field 'category' is missing")
        elif category_id not in category_line:
            c.at(doc, ("category",), f"unknown category {category_id!r} (not in {PACK_FILE})")
        elif category_id != file.stem:
            c.at(
                doc,
                ("category",),
                f"category {category_id!r} does not match the file name {file.name!r}",
            )
        elif category_id in files:
            c.at(
                doc,
                ("category",),
                f"category {category_id!r} already has {c.rel(files[category_id])}",
            )
        for key in set(doc.data) - {"category", "entities"}:
            c.at(doc, (key,), "unknown field (misspelt?)")
        items = c.records(Entity, doc, "entities")
        if items and category_id in entities:
            listed.add(category_id)
        for index, entity, raw in items:
            loc = ("entities", index)
            if entity is None:
                _check_raw_script(c, doc, loc, raw, ("native_name", "queries"), meta.scripts)
                continue
            if entity.id in entity_where:
                c.at(
                    doc,
                    (*loc, "id"),
                    f"duplicate entity id {entity.id!r} (first at {entity_where[entity.id]})",
                )
                continue
            entity_where[entity.id] = f"{c.rel(file)}:{doc.line_of(loc)}"
            _check_script(c, doc, (*loc, "native_name"), entity.native_name, meta.scripts)
            for q, query in enumerate(entity.queries):
                _check_script(c, doc, (*loc, "queries", q), query, meta.scripts)
            if category_id in entities and category_id == file.stem:
                entities[category_id].append(entity)
                entity_category[entity.id] = category_id
        if category_id in category_line and category_id == file.stem:
            files.setdefault(category_id, file)
    for category_id, line in category_line.items():
        if not entities[category_id] and category_id not in listed:
            where = files.get(category_id)
            if where is None:
                c.add(
                    pack_file,
                    line,
                    ("categories", category_index[category_id]),
                    f"category has no entities (expected {ENTITIES_DIR}/{category_id}.yaml)",
                )
            else:
                c.add(where, 1, ("entities",), f"category {category_id!r} has no entities")

    # Glossary: the pack's terms and how catalog entities become terms (catalog/glossary.py).
    glossary: list[GlossaryTerm] = []
    glossary_catalog = CatalogTerms()
    glossary_file = root / GLOSSARY_FILE
    if glossary_file.is_file() and (doc := c.load(glossary_file)) is not None:
        glossary, glossary_catalog = read_glossary(
            c, doc, meta, set(category_line), set(entity_where)
        )

    # Curation thresholds (optional): the pack's cultural filtering decisions.
    curation = CurationPolicy()
    curation_file = root / CURATION_FILE
    if curation_file.is_file() and (doc := c.load(curation_file)) is not None:
        loaded = c.validate(CurationPolicy, doc.data or {}, doc, ())
        if loaded is not None:
            curation = loaded
            for category_id in loaded.categories:
                if category_id not in category_line:
                    c.at(doc, ("categories", category_id), f"unknown category {category_id!r}")

    # Caption guideline rules (optional): extend or replace the built-in lists per language.
    caption_rules = DEFAULT_RULES
    rules_file = root / RULES_FILE
    if rules_file.is_file() and (doc := c.load(rules_file)) is not None:
        try:
            caption_rules = merge_rules(DEFAULT_RULES, doc.data or {})
        except ValidationError as exc:
            for error in exc.errors():
                c.at(doc, tuple(error["loc"]), _message(error))
        except (ValueError, TypeError) as exc:
            c.at(doc, (), str(exc))

    # Evaluation prompts.
    prompts: list[EvalPrompt] = []
    prompt_where: dict[str, str] = {}
    for file in sorted((root / PROMPTS_DIR).glob("*.y*ml")):
        doc = c.load(file)
        if doc is None:
            continue
        for index, prompt, raw in c.records(EvalPrompt, doc, "prompts"):
            loc = ("prompts", index)
            if prompt is None:
                _check_raw_script(c, doc, loc, raw, ("source",), meta.scripts)
                continue
            if prompt.id in prompt_where:
                c.at(
                    doc,
                    (*loc, "id"),
                    f"duplicate prompt id {prompt.id!r} (first at {prompt_where[prompt.id]})",
                )
                continue
            prompt_where[prompt.id] = f"{c.rel(file)}:{doc.line_of(loc)}"
            if prompt.category not in category_line:
                c.at(doc, (*loc, "category"), f"unknown category {prompt.category!r}")
            if prompt.entity is not None:
                if prompt.entity not in entity_where:
                    c.at(doc, (*loc, "entity"), f"unknown entity {prompt.entity!r}")
                elif entity_category.get(prompt.entity, prompt.category) != prompt.category:
                    c.at(
                        doc,
                        (*loc, "entity"),
                        f"entity {prompt.entity!r} belongs to category {entity_category[prompt.entity]!r}, "
                        f"not {prompt.category!r}",
                    )
            _check_script(c, doc, (*loc, "source"), prompt.source, meta.scripts)
            prompts.append(prompt)

    if c.problems:
        return None, c.problems
    pack = CulturePack(
        root=root,
        meta=meta,
        entities={cid: tuple(rows) for cid, rows in entities.items()},
        glossary=tuple(glossary),
        glossary_catalog=glossary_catalog,
        prompts=tuple(prompts),
        files=files,
        curation=curation,
        caption_rules=caption_rules,
    )
    return pack, []


def validate_pack(root: Path | str) -> list[Problem]:
    """Every problem of the pack at ``root``; an empty list means it is sound."""
    return _read(Path(root))[1]


def load_pack(root: Path | str) -> CulturePack:
    """Load and validate the pack at ``root``; raise ``PackError`` listing every problem."""
    pack, problems = _read(Path(root))
    if pack is None:
        raise PackError(Path(root), problems)
    return pack
