"""Scoring the sample set: each planted problem gets its reason, clean photos are kept."""

from pathlib import Path

import pytest

from craft_dag.collection.samples import SampleImage
from craft_dag.curation.policy import CurationPolicy, effective
from craft_dag.curation.score import TONE_REASONS, RawScores, ScoreItem, Scorers, score_images
from tests.curation.conftest import Scored, items_of

EXPECTED = {
    "blurred": "blurry",
    "underexposed": "underexposed",
    "overexposed": "overexposed",
    "low_information": "low_information",
    "too_small": "too_small",
    "bad_aspect": "bad_aspect",
}
BROKEN = {"truncated": "decode_error", "empty": "not_an_image", "not_an_image": "not_an_image"}
FINE_MODES = {"none", "cmyk", "16bit", "palette_alpha", "animated", "webp"}


def of(scored: list[Scored], planted: str) -> list[Scored]:
    found = [s for s in scored if s.row.planted == planted]
    assert found, f"the sample set has no {planted!r} image"
    return found


@pytest.mark.parametrize(("planted", "reason"), sorted(EXPECTED.items()))
def test_each_planted_problem_is_rejected_with_its_reason(
    cpu_scored: list[Scored], planted: str, reason: str
) -> None:
    for s in of(cpu_scored, planted):
        assert s.result.decision == "reject", (s.row.path, s.result)
        assert reason in s.result.reasons, (s.row.path, s.result.reasons)


@pytest.mark.parametrize(("planted", "reason"), sorted(BROKEN.items()))
def test_a_broken_file_is_a_row_with_its_reason(
    cpu_scored: list[Scored], planted: str, reason: str
) -> None:
    for s in of(cpu_scored, planted):
        assert s.result.scores.status == "error"
        assert s.result.scores.error.startswith(reason + ":")
        assert s.result.decision == "reject" and s.result.reasons == ()


def test_clean_photos_and_odd_modes_are_kept(cpu_scored: list[Scored]) -> None:
    kept = [s for s in cpu_scored if s.row.planted in FINE_MODES]
    wrong = [(s.row.path, s.row.planted, s.result.reasons) for s in kept if s.result.reasons]
    # Only the originals that a planted duplicate copies may be flagged, and then not removed.
    assert all("duplicate" in reasons for _, _, reasons in wrong), wrong
    assert all(s.result.decision != "reject" for s in kept)


def test_duplicates_keep_the_best_copy_and_flag_copies_of_another_entity(
    cpu_scored: list[Scored],
) -> None:
    copies = of(cpu_scored, "duplicate")
    assert len(copies) == 2
    by_key = {s.row.path: s for s in cpu_scored}
    outcomes = set()
    for copy in copies:
        result = copy.result
        assert "duplicate" in result.reasons and result.dup_of
        original = by_key[result.dup_of]
        assert original.row.planted == "none" and original.result.decision == "keep"
        assert result.dup_group == original.result.dup_group >= 0
        same_entity = original.row.entity_id == copy.row.entity_id
        outcomes.add(same_entity)
        # A copy of the same entity goes; a copy another entity shares goes to a person.
        assert result.decision == ("reject" if same_entity else "review")
        assert result.cross_entity is (not same_entity)
    assert outcomes == {True, False}


def test_a_threshold_turned_off_lets_its_images_through(
    sample_set: tuple[Path, list[SampleImage]],
) -> None:
    root, rows = sample_set
    blurred = [r for r in rows if r.planted == "blurred"]
    thresholds = effective(CurationPolicy(), "x", {"min_blur": None})
    [result] = score_images(items_of(root, blurred), thresholds)
    assert "blurry" not in result.reasons


class CountingDetector:
    """A stand-in OCR detector that records which images reached it."""

    def __init__(self) -> None:
        self.seen = 0

    def detect(self, image):
        from craft_dag.curation.text_detection import NO_TEXT

        self.seen += 1
        return NO_TEXT


def test_costly_scorers_only_see_survivors_and_prior_scores_are_reused(
    sample_set: tuple[Path, list[SampleImage]], cpu_scored: list[Scored]
) -> None:
    root, rows = sample_set
    detector = CountingDetector()
    thresholds = effective(CurationPolicy(), "x")
    first = score_images(items_of(root, rows), thresholds, Scorers(text=detector))
    # Every image the CPU rules pass is scored, near-duplicate copies included: the keeper is
    # chosen once their text and watermark scores are known.
    cpu_clean = [
        s
        for s in cpu_scored
        if s.result.scores.status == "ok" and set(s.result.reasons) <= {"duplicate"}
    ]
    # OCR alone also reads images only their tones removed: a page or a screenshot is dark,
    # bright or flat, and its text is a reason the curator wants to see beside the tone.
    toned = [
        s
        for s in cpu_scored
        if s.result.scores.status == "ok" and s.result.reasons
        and set(s.result.reasons) <= TONE_REASONS
    ]  # fmt: skip
    assert toned  # the sample set plants dark, bright and flat images
    survivors = len(cpu_clean) + len(toned)
    assert detector.seen == survivors < len(rows)
    assert any(s.result.dup_of for s in cpu_clean)  # a copy is among them
    unread = [r for r in first if set(r.reasons) - {"duplicate"} - TONE_REASONS]
    assert unread and all(r.scores.text_words is None for r in unread)

    # A second run with the first run's scores: nothing is decoded or OCR'd again.
    prior = {(r.key, r.entity_id): r.scores for r in first}

    def no_read() -> bytes:
        raise AssertionError("a reused image was read again")

    items = [ScoreItem(r.path, r.entity_id, no_read) for r in rows]
    again = score_images(items, thresholds, Scorers(text=detector), prior=prior)
    assert detector.seen == survivors
    assert [(r.decision, r.reasons) for r in again] == [(r.decision, r.reasons) for r in first]


def test_a_loosened_threshold_scores_newly_surviving_images(
    sample_set: tuple[Path, list[SampleImage]],
) -> None:
    root, rows = sample_set
    blurred = [r for r in rows if r.planted == "blurred"]
    detector = CountingDetector()
    strict = score_images(
        items_of(root, blurred), effective(CurationPolicy(), "x"), Scorers(text=detector)
    )
    assert detector.seen == 0 and strict[0].scores.text_words is None
    prior = {(r.key, r.entity_id): r.scores for r in strict}
    loose = effective(CurationPolicy(), "x", {"min_blur": None})
    [result] = score_images(items_of(root, blurred), loose, Scorers(text=detector), prior=prior)
    assert detector.seen == 1 and result.scores.text_words == 0


def test_an_unreadable_blob_is_one_bad_row() -> None:
    def gone() -> bytes:
        raise OSError("no blob abc at /store")

    ok = RawScores(status="ok")
    assert ok.status == "ok"
    [result] = score_images([ScoreItem("abc", "e", gone)], effective(CurationPolicy(), "x"))
    assert result.scores.status == "error" and "no blob" in result.scores.error
