"""The ``craft`` command line: tools for people who edit packs and curate data.

Running the pipeline itself is Dagster's job (``dagster dev``, ``dagster asset materialize``);
these commands work on plain files, with no Dagster instance.
"""

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from craft_dag.catalog.glossary import merged_glossary
from craft_dag.catalog.pack import bundled_pack_path, load_pack, validate_pack


def _pack_validate(args: argparse.Namespace) -> int:
    root = Path(args.path)
    problems = validate_pack(root)
    if problems:
        for problem in problems:
            print(f"{root}/{problem}", file=sys.stderr)
        print(f"{len(problems)} problem(s) in {root}", file=sys.stderr)
        return 1
    pack = load_pack(root)
    entities = sum(len(rows) for rows in pack.entities.values())
    queries = sum(len(e.queries) for rows in pack.entities.values() for e in rows)
    merged = merged_glossary(pack)
    # Where glossary.yaml and the catalog disagree the glossary wins; a curator still has to
    # see it, since one of the two is likely wrong (docs/pack-format.md, glossary.yaml).
    for conflict in merged.conflicts:
        print(f"{root}/glossary.yaml: warning: {conflict}", file=sys.stderr)
    print(
        f"{root}: pack {pack.id!r} is valid: {len(pack.category_ids)} categories, "
        f"{entities} entities, {queries} queries, {len(pack.glossary)} glossary terms "
        f"(+{merged.catalog_terms} from catalog entities, "
        f"{len(merged.conflicts)} glossary/catalog conflicts), "
        f"{len(pack.prompts)} evaluation prompts"
    )
    if args.strict and merged.conflicts:
        return 1
    if args.verbose:
        for category in pack.categories:
            prompts = sum(1 for p in pack.prompts if p.category == category.id)
            print(
                f"  {category.id:<26} {len(pack.entities[category.id]):>4} entities "
                f"{prompts:>4} prompts  {category.english_name}"
            )
    return 0


def _samples_build(args: argparse.Namespace) -> int:
    from craft_dag.collection.samples import build_sample_set

    pack = load_pack(args.pack)
    rows = build_sample_set(
        Path(args.dest),
        {c: [e.id for e in pack.entities[c]] for c in pack.category_ids},
        per_category=args.per_category,
    )
    planted = sum(1 for r in rows if r.planted != "none")
    print(f"{args.dest}: {len(rows)} sample images ({planted} with planted problems), manifest.csv")
    return 0


def _parse_overrides(pairs: Sequence[str]) -> dict[str, float | int | None]:
    out: dict[str, float | int | None] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep:
            raise SystemExit(f"craft images score: --set expects NAME=VALUE, not {pair!r}")
        if value.lower() in ("off", "none", ""):
            out[name] = None
        else:
            try:
                out[name] = int(value) if value.lstrip("-").isdigit() else float(value)
            except ValueError:
                raise SystemExit(
                    f"craft images score: --set {name}: {value!r} is not a number"
                ) from None
    return out


def _images_score(args: argparse.Namespace) -> int:
    from craft_dag.curation.folder import score_folder, write_scores
    from craft_dag.curation.policy import REASONS, effective
    from craft_dag.curation.scorers import text_detector_for

    pack = load_pack(args.pack)
    if args.category and args.category not in pack.category_ids:
        print(
            f"craft images score: pack {pack.id!r} has no category {args.category!r}",
            file=sys.stderr,
        )
        return 2
    try:
        thresholds = effective(pack.curation, args.category or "", _parse_overrides(args.set))
    except ValueError as exc:
        print(f"craft images score: {exc}", file=sys.stderr)
        return 2
    scorers = text_detector_for(pack.meta.source_language, args.ocr, warn=print_warning)
    log = (lambda m: print(m, file=sys.stderr)) if args.verbose else (lambda _: None)
    try:
        table = score_folder(Path(args.dir), thresholds, scorers, log=log)
    except NotADirectoryError as exc:
        print(f"craft images score: {exc}", file=sys.stderr)
        return 2
    if args.out:
        write_scores(table, Path(args.out))
    rows = table.select(["status", "decision", "reasons"]).to_pylist()
    decisions = {
        d: sum(1 for r in rows if r["decision"] == d) for d in ("keep", "review", "reject")
    }
    errors = sum(1 for r in rows if r["status"] != "ok")
    print(
        f"{args.dir}: {len(rows)} files: {decisions['keep']} keep, {decisions['review']} review, "
        f"{decisions['reject']} reject ({errors} could not be decoded)"
        + (f" -> {args.out}" if args.out else "")
    )
    for reason in REASONS:
        n = sum(1 for r in rows if reason in (r["reasons"] or "").split(";"))
        if n:
            print(f"  {reason:<16} {n}")
    return 0


def print_warning(message: str) -> None:
    print(f"craft: warning: {message}", file=sys.stderr)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="craft", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)

    pack = commands.add_parser("pack", help="culture pack tools")
    pack_commands = pack.add_subparsers(dest="pack_command", required=True)
    validate = pack_commands.add_parser(
        "validate",
        help="check a culture pack and list every problem with file, line and field",
        description="Check a culture pack and list every problem with file, line and field; "
        "exit 1 if there is any.",
    )
    validate.add_argument("path", help="the pack folder (the one holding pack.yaml)")
    validate.add_argument("-v", "--verbose", action="store_true", help="print per-category counts")
    validate.add_argument(
        "--strict",
        action="store_true",
        help="exit 1 also when glossary.yaml and the catalog conflict (reported as warnings)",
    )
    validate.set_defaults(func=_pack_validate)

    samples = commands.add_parser("samples", help="the demo's sample image set")
    samples_commands = samples.add_subparsers(dest="samples_command", required=True)
    build = samples_commands.add_parser(
        "build",
        help="write sample photos (with planted problems) as <category>/<entity id>/ folders",
        description="Write the demo's sample image set: real photos that installed packages ship, "
        "with planted problems (blur, exposure, duplicates, watermarks, broken files) for the "
        "curation stage to catch, and a manifest.csv with each file's licence and author.",
    )
    build.add_argument("dest", help="folder to write (CRAFT_IMAGES_ROOT points the pipeline at it)")
    build.add_argument(
        "--pack", default=str(bundled_pack_path("ru")), help="culture pack (default: bundled ru)"
    )
    build.add_argument("--per-category", type=int, default=2, help="entities per category")
    build.set_defaults(func=_samples_build)

    images = commands.add_parser("images", help="image curation tools")
    images_commands = images.add_subparsers(dest="images_command", required=True)
    score = images_commands.add_parser(
        "score",
        help="score every file of a folder and decide keep / review / reject, with reasons",
        description="Score every file under DIR with the pipeline's curation rules (size, "
        "aspect, blur, exposure, information, text and watermarks, near-duplicates) and print "
        "what each rule removed. Files in sub-folders count as one entity per sub-folder. A "
        "broken file gives a row with status 'error', never a crash.",
    )
    score.add_argument("dir", help="folder of images")
    score.add_argument("--out", help="write one row per file to this .csv or .parquet file")
    score.add_argument(
        "--pack",
        default=str(bundled_pack_path("ru")),
        help="culture pack whose curation.yaml sets the thresholds (default: bundled ru)",
    )
    score.add_argument("--category", help="apply this category's threshold overrides")
    score.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="override one threshold for this run (e.g. --set min_blur=40; 'off' disables)",
    )
    score.add_argument(
        "--ocr",
        choices=("auto", "on", "off"),
        default="auto",
        help="text and watermark detection with Tesseract: auto uses it when installed",
    )
    score.add_argument("-v", "--verbose", action="store_true", help="progress on stderr")
    score.set_defaults(func=_images_score)

    from craft_dag.captioning.lint_cli import register as register_captions
    from craft_dag.evaluation.sbs_cli import register as register_sbs
    from craft_dag.translation.cli import register as register_glossary

    register_captions(commands)
    register_glossary(commands)
    register_sbs(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
