"""The culture pack's records, as pydantic models.

Models check what one record can check alone (types, id syntax, non-empty lists). What needs
the whole pack (unique ids, references, the source-language script) is checked in
``craft_dag.catalog.validate``, so that every problem is reported at once with its location.
"""

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

Identifier = Annotated[
    str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_]*$", max_length=64, strict=True)
]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, strict=True)]
LanguageCode = Annotated[str, StringConstraints(pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")]


class _Record(BaseModel):
    # A misspelt key (``querys:``) must be an error, not a silently dropped field.
    model_config = ConfigDict(extra="forbid", frozen=True)


class Category(_Record):
    id: Identifier
    native_name: Text
    english_name: Text
    description: str = ""


class PackMeta(_Record):
    id: Identifier
    name: Text
    source_language: LanguageCode
    target_language: LanguageCode
    scripts: list[Text] = Field(min_length=1)
    licence: Text
    description: str = ""
    categories: list[Category] = Field(min_length=1)


class Entity(_Record):
    id: Identifier
    native_name: Text
    english_name: Text
    aliases: list[Text] = Field(default_factory=list)
    queries: list[Text] = Field(
        min_length=1, json_schema_extra={"description": "web queries in the source language"}
    )
    english_queries: list[Text] = Field(default_factory=list)
    notes: str = ""

    @field_validator("queries", mode="before")
    @classmethod
    def _queries_present(cls, value: object) -> object:
        if value is None or value == []:
            raise ValueError("an entity needs at least one query")
        return value


class EntityFile(_Record):
    category: Identifier
    entities: list[Entity] = Field(default_factory=list)


class GlossaryTerm(_Record):
    """A source term and its required rendering (see docs/pack-format.md, ``glossary.yaml``).

    ``aliases`` are other source phrases of the same term, ``accepted`` other renderings that
    count as right besides ``target``. ``entity`` ties a pack term to a catalog entity whose
    catalog-derived term it replaces. ``origin`` says where a term came from: ``glossary`` for
    glossary.yaml, ``catalog`` for a term derived from an entity (``craft_dag.catalog.glossary``);
    it is set by the loader, never written in the file.
    """

    source: Text
    target: Text
    wrong: list[Text] = Field(default_factory=list)
    aliases: list[Text] = Field(default_factory=list)
    accepted: list[Text] = Field(default_factory=list)
    category: Identifier | None = None
    entity: Identifier | None = None
    note: str = ""
    origin: Literal["glossary", "catalog"] = "glossary"

    def sources(self) -> tuple[str, ...]:
        """Every source phrase: the dictionary form, then the aliases."""
        return (self.source, *self.aliases)

    def renderings(self) -> tuple[str, ...]:
        """Every rendering that counts as right: the target, then the accepted ones."""
        return (self.target, *self.accepted)


class CatalogTerms(_Record):
    """``catalog:`` in glossary.yaml: how catalog entities become glossary terms.

    ``exclude`` lists entity ids that give no term; ``exclude_sources`` native names or aliases
    (matched by lemma) that are common words in running text ("медведь", "печь"), dropped from
    every entity; ``accepted`` more renderings that count as right, per entity id.
    """

    exclude: list[Identifier] = Field(default_factory=list)
    exclude_sources: list[Text] = Field(default_factory=list)
    accepted: dict[Identifier, list[Text]] = Field(default_factory=dict)


class Glossary(_Record):
    terms: list[GlossaryTerm] = Field(default_factory=list)
    catalog: CatalogTerms = Field(default_factory=CatalogTerms)


class EvalPrompt(_Record):
    id: Identifier
    category: Identifier
    entity: Identifier | None = None
    source: Text
    english: Text


class PromptFile(_Record):
    prompts: list[EvalPrompt] = Field(default_factory=list)
