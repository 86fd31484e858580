"""``craft glossary check FILE``: check existing translations against a pack glossary.

FILE is a CSV with a ``source`` and a ``translation`` column (other columns are kept). The
glossary is the pack's merged one (``craft_dag.catalog.glossary``): glossary.yaml's terms and
one term per catalog entity; each reported miss says which (``[glossary]`` or
``[catalog: ENTITY]``). Every glossary term found in a source (by lemma) whose required rendering is not in its translation,
or whose known wrong rendering is, is reported. ``--out`` writes the input rows plus a
``misses`` column: the missed terms in their dictionary form, joined by ``;`` (empty when the
row is fine). Exit status: 0 when nothing is missed, 1 when anything is, 2 when the file cannot
be read or lacks a column.

``register(subparsers)`` adds the command to a parser (the ``craft`` command line); ``main``
runs it on its own.
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from craft_dag.catalog.glossary import merged_glossary
from craft_dag.catalog.pack import PackError, bundled_pack_path, load_pack
from craft_dag.translation.glossary import GlossaryMatcher, Miss

REQUIRED_COLUMNS = ("source", "translation")
MISSES_COLUMN = "misses"
# Rows printed to stderr before the count alone is given; the CSV always has every row.
_SHOWN_ROWS = 50


class _InputError(ValueError):
    """A CSV that cannot be checked: the message names the file and what is wrong."""


def _read_rows(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            header = list(reader.fieldnames or [])
            missing = [column for column in REQUIRED_COLUMNS if column not in header]
            if missing:
                found = ", ".join(header) if header else "no header"
                raise _InputError(
                    f"{path}: no column {' or '.join(repr(c) for c in missing)} "
                    f"(found: {found}); the CSV needs columns 'source' and 'translation'"
                )
            rows = list(reader)
    except OSError as error:
        raise _InputError(f"{path}: cannot read: {error.strerror or error}") from None
    except (UnicodeDecodeError, csv.Error) as error:
        raise _InputError(f"{path}: not a UTF-8 CSV file: {error}") from None
    for number, row in enumerate(rows, start=2):
        if None in row:  # csv puts the cells beyond the header under the key None
            raise _InputError(f"{path}: line {number}: more cells than header columns")
        for column in REQUIRED_COLUMNS:
            if row.get(column) is None:
                raise _InputError(f"{path}: line {number}: no value in column {column!r}")
    return header, rows


def _origin(miss: Miss) -> str:
    """Where the term came from, for a curator: glossary.yaml or a catalog entity."""
    return f"catalog: {miss.entity}" if miss.origin == "catalog" else "glossary"


def _describe(miss: Miss) -> str:
    found = f"found {miss.found_wrong!r}" if miss.found_wrong is not None else "not found"
    return f"{miss.source} -> {miss.target!r} required, {found} [{_origin(miss)}]"


def check_file(
    path: Path, matcher: GlossaryMatcher
) -> tuple[list[str], list[tuple[dict[str, str], list[Miss]]]]:
    """The header of the CSV at ``path`` and each row with its misses, in file order.

    Raises ``ValueError`` naming the file for an unreadable file or a missing column.
    """
    header, rows = _read_rows(path)
    return header, [(row, matcher.check(row["source"], row["translation"])) for row in rows]


def _glossary_check(args: argparse.Namespace) -> int:
    path = Path(args.file)
    try:
        pack = load_pack(args.pack)
    except PackError as error:
        print(f"craft glossary check: {error}", file=sys.stderr)
        return 2
    merged = merged_glossary(pack)
    matcher = GlossaryMatcher(merged.terms, pack.meta.source_language, pack.meta.target_language)
    try:
        header, checked = check_file(path, matcher)
    except _InputError as error:
        print(f"craft glossary check: {error}", file=sys.stderr)
        return 2
    missed_rows = 0
    # Rows are numbered from 1 after the header (not file lines: a quoted cell may span lines).
    for number, (_, misses) in enumerate(checked, start=1):
        if not misses:
            continue
        missed_rows += 1
        if missed_rows <= _SHOWN_ROWS:
            details = "; ".join(_describe(m) for m in misses)
            print(f"{path}: row {number}: {details}", file=sys.stderr)
    if missed_rows > _SHOWN_ROWS:
        print(f"... and {missed_rows - _SHOWN_ROWS} more rows with misses", file=sys.stderr)
    rows = [
        {**row, MISSES_COLUMN: ";".join(dict.fromkeys(m.source for m in misses))}
        for row, misses in checked
    ]
    if args.out:
        out = Path(args.out)
        columns = [*header, *([MISSES_COLUMN] if MISSES_COLUMN not in header else [])]
        out.parent.mkdir(parents=True, exist_ok=True)
        with out.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore")
            writer.writeheader()
            writer.writerows(rows)
    print(
        f"{path}: {len(rows)} rows, {missed_rows} with glossary misses "
        f"({len(merged.terms)} terms of pack {pack.id!r}: {merged.glossary_terms} from "
        f"glossary.yaml, {merged.catalog_terms} from catalog entities)"
        + (f" -> {args.out}" if args.out else "")
    )
    return 1 if missed_rows else 0


def register(subparsers: Any) -> None:
    """Add ``glossary check`` to the sub-commands of a parser (``add_subparsers()``'s result)."""
    glossary = subparsers.add_parser("glossary", help="translation glossary tools")
    commands = glossary.add_subparsers(dest="glossary_command", required=True)
    check = commands.add_parser(
        "check",
        help="report glossary terms of the sources not rendered as required in the translations",
        description="Read a CSV with columns 'source' and 'translation' and report every pack "
        "glossary term found in a source (in any inflection) whose required rendering is not in "
        "the translation, or whose known wrong rendering is. Exit 1 if anything is missed, 2 if "
        "the file cannot be read or lacks a column.",
    )
    check.add_argument("file", help="CSV file with columns source and translation")
    check.add_argument(
        "--pack",
        default=str(bundled_pack_path("ru")),
        help="culture pack whose glossary.yaml and catalog entities are checked "
        "(default: bundled ru)",
    )
    check.add_argument(
        "--out", help="write the input rows plus a 'misses' column (terms joined by ';') here"
    )
    check.set_defaults(func=_glossary_check)


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``glossary check`` as its own program (``python -m craft_dag.translation.cli``)."""
    parser = argparse.ArgumentParser(prog="craft", description=__doc__.splitlines()[0])
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
