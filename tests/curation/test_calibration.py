"""The calibration corpus builder: deterministic, labels that describe the files, quick to build."""

import hashlib
import time
from pathlib import Path

import pytest
from PIL import Image

from craft_dag.curation.calibration import (
    COPY_KINDS,
    LABELS_FILE,
    MIN_SHORT_SIDE,
    ROLES,
    build_corpus,
    evaluate,
    read_labels,
)
from craft_dag.curation.policy import REASONS


def _digests(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("calibration_small")
    started = time.perf_counter()
    corpus = build_corpus(root, seed=0, size="small")
    return corpus, time.perf_counter() - started


def test_the_small_corpus_builds_in_seconds(small) -> None:
    corpus, seconds = small
    assert 50 <= len(corpus) <= 100
    # Generous for a shared 2-core machine; it takes about 3 s alone.
    assert seconds < 20


@pytest.mark.slow  # two more builds of the small corpus, ~5 s
def test_the_same_seed_gives_byte_identical_files(small, tmp_path: Path) -> None:
    corpus, _ = small
    again = build_corpus(tmp_path / "again", seed=0, size="small")
    assert _digests(again.root) == _digests(corpus.root)
    other = build_corpus(tmp_path / "other", seed=1, size="small")
    assert _digests(other.root) != _digests(corpus.root)


def test_labels_name_every_file_once_and_read_back_equal(small) -> None:
    corpus, _ = small
    on_disk = {p for p in _digests(corpus.root) if p != LABELS_FILE}
    assert {f.path for f in corpus} == on_disk
    assert len({f.path for f in corpus}) == len(corpus)
    assert read_labels(corpus.root).files == corpus.files


def test_labels_are_consistent_with_the_files(small) -> None:
    corpus, _ = small
    for f in corpus:
        assert f.role in ROLES
        assert set(f.expected) <= set(REASONS)
        path = corpus.root / f.path
        if f.role == "broken":
            assert f.expected == () and not f.group
            continue
        with Image.open(path) as image:
            image.load()
            assert (image.width, image.height) == (f.params["width"], f.params["height"])
            assert ("too_small" in f.expected) == (min(image.size) < MIN_SHORT_SIDE), f.path
        if f.role == "copy":
            assert "duplicate" in f.expected and f.group
        if f.role == "original":
            assert f.expected == ()
    for group, members in corpus.groups().items():
        assert [m.role for m in members].count("original") == 1, group
        # One sub-folder per group: craft images score only removes duplicates within one.
        assert {Path(m.path).parts[0] for m in members} == {group}


def test_every_copy_kind_and_single_kind_is_present(small) -> None:
    corpus, _ = small
    kinds = {f.kind for f in corpus}
    assert {k.kind for k in COPY_KINDS if k.small} <= kinds
    assert {"flat", "document", "screenshot", "strip", "truncated", "empty", "not_image"} <= kinds
    watermarks = [f for f in corpus if f.kind == "watermark_tiled"]
    assert all(0.15 <= f.params["opacity"] <= 0.5 for f in watermarks)
    assert all(0 <= f.params["angle"] <= 45 for f in watermarks)
    assert len({f.params["font"] for f in watermarks}) >= 2


def test_an_unknown_size_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="size"):
        build_corpus(tmp_path, size="huge")


def test_the_evaluation_counts_what_the_rows_say(small) -> None:
    """evaluate() itself, on hand-made rows: the figures the other tests rely on."""
    corpus, _ = small
    truth = {
        f.path: {
            "reasons": ";".join(f.expected),
            "decision": "reject" if f.expected else "keep",
            "status": "error" if f.role == "broken" else "ok",
            "error": "truncated: x" if f.role == "broken" else "",
        }
        for f in corpus
    }
    perfect = evaluate(corpus, truth)
    assert all(r.recall == 1.0 and r.precision == 1.0 for r in perfect.reasons.values())
    assert perfect.original_kept == perfect.groups > 0
    assert perfect.broken_with_reason == perfect.broken
    assert perfect.clean_flagged == {"text": 0, "watermark": 0}
    # Mark every original a duplicate and flag one clean photo as text.
    originals = [f for f in corpus if f.role == "original"]
    worse = dict(truth)
    for f in originals:
        worse[f.path] = {**truth[f.path], "reasons": "duplicate", "decision": "reject"}
    worse[originals[0].path]["reasons"] = "text;duplicate"
    bad = evaluate(corpus, worse)
    assert bad.original_kept == 0
    assert bad.clean_flagged["text"] == 1
    dup = bad.reasons["duplicate"]
    assert dup.fp == len(originals) and dup.recall == 1.0
    assert bad.reasons["text"].precision == pytest.approx(
        perfect.reasons["text"].tp / (perfect.reasons["text"].tp + 1)
    )
