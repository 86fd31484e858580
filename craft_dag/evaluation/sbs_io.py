"""The side-by-side round in storage: kits out to assessors, votes back, the report.

Layout under the storage base URI::

    evaluation/kits/kit_<assessor>.html   one self-contained page per assessor
    evaluation/kits/pairs.json            what the kits show (no images), for the report
    evaluation/votes/<any>.json           the votes each assessor exported from their page
    evaluation/report/report.md|json|*.png

A new votes file is a new version of the ``sbs_votes`` source asset, which marks the report
stale.
"""

import json
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from craft_dag.evaluation.generate import GENERATIONS, sbs_pairs
from craft_dag.evaluation.sbs_kit import write_kits
from craft_dag.evaluation.sbs_report import Report, load_votes, report, write_report
from craft_dag.storage import Storage

FOLDER = "evaluation"
KITS, VOTES, REPORT = "kits", "votes", "report"
PAIRS_FILE = "pairs.json"


def kit_pairs(store: Storage) -> list[dict[str, Any]]:
    """The kit's pairs from ``evaluation_generations``: base on one side, the tuned model on the
    other, the images read from storage."""
    pairs = sbs_pairs(store.read_table(GENERATIONS).to_pylist())
    return [
        {
            "pair_id": p["pair_id"],
            "prompt_id": p["prompt_id"],
            "category": p["category"],
            "language": p["language"],
            "text": p["text"],
            "seed": p["seed"],
            "model_a": p["base_model"],
            "model_b": p["tuned_model"],
            "image_a": store.get_blob(p["base_sha256"]),
            "image_b": store.get_blob(p["tuned_sha256"]),
        }
        for p in pairs
    ]


def write_sbs_kits(
    store: Storage, assessors: Sequence[str], *, seed: int = 0, title: str = "Side by side"
) -> tuple[list[dict[str, Any]], list[str]]:
    """Write one kit per assessor and the pairs they show; return the pairs and the kit URIs."""
    pairs = kit_pairs(store)
    uris = []
    with tempfile.TemporaryDirectory() as tmp:
        for path in write_kits(pairs, assessors, Path(tmp), seed=seed, title=title):
            uris.append(store.write_file((FOLDER, KITS, path.name), path.read_bytes()))
    described = [{k: v for k, v in p.items() if not k.startswith("image_")} for p in pairs]
    store.write_file(
        (FOLDER, KITS, PAIRS_FILE), json.dumps(described, ensure_ascii=False, indent=1).encode()
    )
    return pairs, uris


def vote_files(store: Storage) -> list[str]:
    return [n for n in store.list_files(FOLDER, VOTES) if n.endswith(".json")]


def votes_fingerprint(store: Storage) -> str:
    """A hash of the votes files (names and bytes): the ``sbs_votes`` data version."""
    return store.fingerprint((FOLDER, VOTES), vote_files(store))


def write_votes(store: Storage, exports: Sequence[Mapping[str, Any]]) -> list[str]:
    """Store assessors' exports as ``votes/<assessor>.json`` (what a person would upload)."""
    return [
        store.write_file(
            (FOLDER, VOTES, f"{export['assessor']}.json"),
            json.dumps(export, ensure_ascii=False, indent=1).encode(),
        )
        for export in exports
    ]


def sbs_report(
    store: Storage, *, bootstrap: int = 1000, seed: int = 0
) -> tuple[Report, dict[str, bytes]]:
    """The report over every stored votes file, written under ``evaluation/report/``.

    Returns the report and its files by name (report.md, report.json, the PNG plots).
    """
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for name in vote_files(store):
            path = Path(tmp) / "votes" / name
            path.parent.mkdir(exist_ok=True)
            path.write_bytes(store.read_file((FOLDER, VOTES, name)))
            paths.append(path)
        result = report(load_votes(paths), bootstrap=bootstrap, seed=seed)
        out = Path(tmp) / "out"
        write_report(result, out)
        files = {p.name: p.read_bytes() for p in sorted(out.iterdir()) if p.is_file()}
    for name, data in files.items():
        store.write_file((FOLDER, REPORT, name), data)
    return result, files
