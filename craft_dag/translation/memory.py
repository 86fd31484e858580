"""A translation memory: human translations that come before the machine.

Translation workflows keep the sentences people have already translated and checked, and
reuse them before any machine translation runs (the translation-memory step of every CAT
tool). Here a memory is any number of CSV files under ``translation_memory/<category>/`` in
storage, with columns ``source`` and ``translation`` (optional ``translator``): a caption whose
source text matches an entry (after Unicode normalisation and collapsing whitespace) takes the
entry's translation and skips the model. The glossary check and the quality signals still run
on it: a person's translation can miss a glossary term too.
"""

import csv
import io
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from craft_dag.review.decisions import RowProblem
from craft_dag.storage import Storage

MEMORY = "translation_memory"
_SPACE = re.compile(r"\s+")


def normalise(text: str) -> str:
    """The memory's key: NFC, whitespace collapsed, trimmed (case and punctuation kept)."""
    return _SPACE.sub(" ", unicodedata.normalize("NFC", text)).strip()


@dataclass(frozen=True)
class MemoryEntry:
    translation: str
    translator: str
    where: str


class TranslationMemory:
    """Exact (normalised) source -> translation lookups; later files win over earlier ones."""

    def __init__(self, entries: Mapping[str, MemoryEntry] | None = None) -> None:
        self._entries = dict(entries or {})

    def __len__(self) -> int:
        return len(self._entries)

    def lookup(self, source: str) -> MemoryEntry | None:
        return self._entries.get(normalise(source))

    @classmethod
    def from_csv(
        cls, files: Iterable[tuple[str, bytes]]
    ) -> tuple["TranslationMemory", list[RowProblem]]:
        """A memory from (name, bytes) CSV files; a bad row is a problem, never fatal."""
        entries: dict[str, MemoryEntry] = {}
        problems: list[RowProblem] = []
        for where, data in files:
            reader = csv.DictReader(io.StringIO(data.decode("utf-8-sig")))
            missing = {"source", "translation"} - set(reader.fieldnames or ())
            if missing:
                problems.append(
                    RowProblem(where, 1, f"missing column(s): {', '.join(sorted(missing))}")
                )
                continue
            for line, row in enumerate(reader, start=2):
                source, translation = (row.get("source") or ""), (row.get("translation") or "")
                if not source.strip() or not translation.strip():
                    problems.append(RowProblem(where, line, "source and translation are required"))
                    continue
                entries[normalise(source)] = MemoryEntry(
                    translation.strip(), (row.get("translator") or "").strip(), where
                )
        return cls(entries), problems


def memory_files(store: Storage, category: str) -> list[str]:
    """The memory's CSV files of a category, sorted by name."""
    return [n for n in store.list_files(MEMORY, category) if n.endswith(".csv")]


def memory_fingerprint(store: Storage, category: str) -> str:
    """A hash of the category's memory files (names and bytes): its data version."""
    return store.fingerprint((MEMORY, category), memory_files(store, category))


def load_memory(store: Storage, category: str) -> tuple[TranslationMemory, list[RowProblem]]:
    """Every CSV under ``translation_memory/<category>/``, in name order."""
    names = memory_files(store, category)
    return TranslationMemory.from_csv(
        (f"{MEMORY}/{category}/{n}", store.read_file((MEMORY, category, n))) for n in names
    )
