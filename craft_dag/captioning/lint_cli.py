"""``craft captions lint FILE``: check a CSV of captions against the captioning guideline.

The CSV has ``entity`` and ``caption`` columns and optionally ``language`` (UTF-8, with or
without a byte-order mark). Each row's rule ids are printed; ``--out`` writes the input back
with a ``violations`` column (ids joined by ``;``). Exit status: 0 when every caption is clean,
1 when any breaks a rule, 2 when the file, a column or the pack is unusable.

With ``--pack``, an ``entity`` that is an entity id of the pack is looked for by its native
name, English name and aliases, the pack's optional ``caption_rules.yaml`` adjusts the rules,
and rows without a language get one from the pack's scripts (its source language) or Latin (its
target language). An id the pack lacks is taken as the name itself.
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from craft_dag.captioning.lint import (
    DEFAULT_LANGUAGE,
    RULE_IDS,
    SCRIPT_LANGUAGES,
    Violation,
    lint_captions,
)
from craft_dag.catalog.caption_rules import DEFAULT_RULES, CaptionRules, load_rules_file

PROG = "craft captions lint"
REQUIRED_COLUMNS = ("entity", "caption")
VIOLATIONS_COLUMN = "violations"


class _UsageError(Exception):
    """A problem with the input that makes linting impossible (exit status 2)."""


def _read_rows(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    try:
        # utf-8-sig strips a byte-order mark when there is one and reads plain UTF-8 otherwise.
        with path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.DictReader(handle, restval="")
            columns = list(reader.fieldnames or [])
            rows = [dict(row) for row in reader]
    except FileNotFoundError:
        raise _UsageError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise _UsageError(f"{path}: cannot read it as a UTF-8 CSV file: {exc}") from None
    if not columns:
        raise _UsageError(f"{path}: empty file, expected a header with columns entity, caption")
    for column in REQUIRED_COLUMNS:
        if column not in columns:
            raise _UsageError(
                f"{path}: missing column {column!r} (the header has: {', '.join(columns)})"
            )
    return columns, rows


def _pack_context(
    pack_path: str,
) -> tuple[dict[str, list[str]], CaptionRules, dict[str, str], str]:
    """Names per entity id, rules, script table and default language from a pack."""
    from craft_dag.catalog.pack import load_pack

    try:
        pack = load_pack(pack_path)
        rules = load_rules_file(pack.root)
    except (OSError, ValueError) as exc:  # PackError is a ValueError
        raise _UsageError(f"{pack_path}: {exc}") from None
    names = {
        entity.id: [entity.native_name, entity.english_name, *entity.aliases]
        for rows in pack.entities.values()
        for entity in rows
    }
    meta = pack.meta
    scripts = {script.upper(): meta.source_language for script in meta.scripts}
    scripts.setdefault("LATIN", meta.target_language)
    return names, rules, scripts, meta.source_language


def run(args: argparse.Namespace) -> int:
    """The ``captions lint`` command; returns the exit status."""
    path = Path(args.file)
    try:
        columns, rows = _read_rows(path)
        names: dict[str, list[str]] = {}
        rules, scripts, default = DEFAULT_RULES, dict(SCRIPT_LANGUAGES), DEFAULT_LANGUAGE
        if args.pack:
            names, rules, scripts, default = _pack_context(args.pack)
    except _UsageError as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 2

    inputs = []
    for row in rows:
        item: dict[str, object] = {
            "entity": row.get("entity", ""),
            "caption": row.get("caption", ""),
            "language": row.get("language", ""),
        }
        if row.get("entity", "") in names:
            item["names"] = names[row["entity"]]
        inputs.append(item)
    results = lint_captions(inputs, rules, scripts=scripts, default_language=default)

    _print_report(path, rows, results, verbose=args.verbose)
    if args.out:
        try:
            _write_out(Path(args.out), columns, rows, results)
        except OSError as exc:
            print(f"{PROG}: {args.out}: cannot write it: {exc}", file=sys.stderr)
            return 2
    return 1 if any(results) else 0


def _ids(violations: Sequence[Violation]) -> list[str]:
    return list(dict.fromkeys(v.rule for v in violations))


def _print_report(
    path: Path, rows: list[dict[str, str]], results: list[list[Violation]], *, verbose: bool
) -> None:
    counts: Counter[str] = Counter()
    for number, (row, violations) in enumerate(zip(rows, results, strict=True), start=1):
        ids = _ids(violations)
        counts.update(ids)
        print(f"{path}: row {number} {row.get('entity', '')}: {' '.join(ids) or 'ok'}")
        if verbose:
            for violation in violations:
                print(f"    {violation.rule}: {violation.detail}")
    broken = sum(1 for violations in results if violations)
    print(f"{path}: {len(rows)} caption(s), {broken} break a rule")
    for rule in RULE_IDS:
        if counts[rule]:
            print(f"  {rule:<20} {counts[rule]}")


def _write_out(
    out: Path, columns: list[str], rows: list[dict[str, str]], results: list[list[Violation]]
) -> None:
    fields = [c for c in columns if c != VIOLATIONS_COLUMN] + [VIOLATIONS_COLUMN]
    with out.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields, extrasaction="ignore")
        writer.writeheader()
        for row, violations in zip(rows, results, strict=True):
            writer.writerow({**row, VIOLATIONS_COLUMN: ";".join(_ids(violations))})


def _captions_commands(subparsers: argparse._SubParsersAction) -> argparse._SubParsersAction:
    """The ``captions`` command's own sub-commands, made on first use, shared afterwards.

    Other captioning tools register under ``captions`` too, so a second ``register`` must find
    the group instead of replacing it.
    """
    captions = subparsers.choices.get("captions")
    if captions is None:
        captions = subparsers.add_parser("captions", help="caption tools")
        return captions.add_subparsers(dest="captions_command", required=True)
    for action in captions._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action
    return captions.add_subparsers(dest="captions_command", required=True)


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add ``captions lint FILE [--out OUT.csv] [--pack PACK]`` to the ``craft`` command line.

    The parser's ``func`` default is :func:`run`, called with the parsed arguments.
    """
    lint = _captions_commands(subparsers).add_parser(
        "lint",
        help="check captions against the captioning guideline (2-10 sentences, entity named, "
        "no viewing phrases, guesses or hedging, not templated)",
        description="Check every caption of a CSV file (columns entity, caption, optional "
        "language) against the CRAFT captioning guideline and print the rules each row breaks: "
        + ", ".join(RULE_IDS)
        + ". Exit 1 if any row breaks a rule, 2 if the file or the pack is unusable.",
    )
    lint.add_argument("file", help="CSV file with entity and caption columns (UTF-8)")
    lint.add_argument("--out", help="write the input plus a 'violations' column to this CSV")
    lint.add_argument(
        "--pack",
        help="culture pack: entity ids become its names and aliases; its caption_rules.yaml "
        "adjusts the rules",
    )
    lint.add_argument("-v", "--verbose", action="store_true", help="print what broke each rule")
    lint.set_defaults(func=run)
    return lint


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``captions lint`` as a stand-alone ``craft`` parser (for tests and scripts)."""
    parser = argparse.ArgumentParser(prog="craft")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
