"""The Label Studio bridge without a server: config XML, task JSON, export parsing, simulation."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from craft_dag.review.decisions import REJECT_REASONS, resolve
from craft_dag.review.label_studio import (
    FILTERING_INSTRUCTIONS,
    MODEL_VERSION,
    TASK_DATA_KEYS,
    labeling_config,
    parse_export,
    read_export,
    tasks_for_review,
)
from craft_dag.review.simulate import simulated_export

IDS = [f"{i:x}" * 64 for i in range(1, 7)]


def rows(*decisions: tuple[str, list[str]]) -> list[dict]:
    return [
        {
            "image_id": IDS[i],
            "entity_id": f"e{i}",
            "category": "c",
            "entity_native_name": f"сущность {i}",
            "entity_english_name": f"entity {i}",
            "decision": decision,
            "reasons": reasons,
        }
        for i, (decision, reasons) in enumerate(decisions)
    ]


def url(image_id: str) -> str:
    return f"http://127.0.0.1:9/images/{image_id}"


def test_config_is_xml_with_every_control_the_export_is_read_by() -> None:
    root = ET.fromstring(labeling_config())
    assert root.tag == "View"
    by_name = {e.get("name"): e for e in root.iter() if e.get("name")}
    assert by_name["image"].tag == "Image" and by_name["image"].get("value") == "$image"
    for name in ("entity_native_name", "entity_english_name", "category"):
        assert by_name[name].get("value") == f"${name}"
    verdict = by_name["verdict"]
    assert (verdict.tag, verdict.get("toName"), verdict.get("required")) == (
        "Choices",
        "image",
        "true",
    )
    assert [c.get("value") for c in verdict] == ["keep", "reject"]
    reasons = by_name["reasons"]
    assert reasons.get("choice") == "multiple"
    assert tuple(c.get("value") for c in reasons) == REJECT_REASONS
    assert by_name["caption"].tag == "TextArea" and by_name["caption"].get("required") is None
    # Newlines survive the attribute (written as &#10;).
    assert by_name["instructions"].get("value") == FILTERING_INSTRUCTIONS
    # Every $variable of the config is a key of the task data the import carries.
    variables = {e.get("value")[1:] for e in root.iter() if (e.get("value") or "").startswith("$")}
    assert variables <= set(TASK_DATA_KEYS)


def test_config_takes_other_reasons_and_instructions_escaped() -> None:
    root = ET.fromstring(labeling_config(("blurry", "other"), 'Rules & "quotes" <here>'))
    by_name = {e.get("name"): e for e in root.iter() if e.get("name")}
    assert [c.get("value") for c in by_name["reasons"]] == ["blurry", "other"]
    assert by_name["instructions"].get("value") == 'Rules & "quotes" <here>'


def test_instructions_state_the_papers_rules_for_any_pack() -> None:
    text = FILTERING_INSTRUCTIONS.lower()
    for phrase in ("cultural code", "post-soviet", "modern", "films", "no clue", "blurry"):
        assert phrase in text
    for phrase in ("overexposed", "home-made", "watermark", "distorted", "collage", "text"):
        assert phrase in text
    assert "flag" in text  # no good data for an entity: flag, do not reject silently


def test_tasks_carry_the_data_and_the_machines_call_as_a_prediction() -> None:
    tasks = tasks_for_review(
        rows(("keep", []), ("reject", ["blurry", "text"]), ("review", ["watermark"])), url
    )
    assert [set(t["data"]) for t in tasks] == [set(TASK_DATA_KEYS)] * 3
    keep, reject, review = tasks
    assert keep["data"]["image"] == url(IDS[0])
    assert keep["data"]["entity_native_name"] == "сущность 0"
    assert (reject["data"]["auto_decision"], reject["data"]["auto_reasons"]) == (
        "reject",
        ["blurry", "text"],
    )
    [prediction] = reject["predictions"]
    assert (prediction["model_version"], prediction["score"]) == (MODEL_VERSION, 1.0)
    assert prediction["result"] == [
        {
            "from_name": "verdict",
            "to_name": "image",
            "type": "choices",
            "value": {"choices": ["reject"]},
        },
        {
            "from_name": "reasons",
            "to_name": "image",
            "type": "choices",
            "value": {"choices": ["blurry", "text"]},
        },
    ]
    # "review" pre-fills the reasons but no verdict, and scores lowest.
    [prediction] = review["predictions"]
    assert [r["from_name"] for r in prediction["result"]] == ["reasons"]
    assert prediction["score"] == 0.0
    json.dumps(tasks)  # plain JSON


def test_every_prediction_is_valid_against_the_config() -> None:
    root = ET.fromstring(labeling_config())
    controls = {
        e.get("name"): (e.get("toName"), {c.get("value") for c in e}) for e in root.iter("Choices")
    }
    tasks = tasks_for_review(
        rows(("keep", []), ("reject", list(REJECT_REASONS)), ("review", ["duplicate"])), url
    )
    for task in tasks:
        for item in task["predictions"][0]["result"]:
            to_name, allowed = controls[item["from_name"]]
            assert item["to_name"] == to_name and item["type"] == "choices"
            assert set(item["value"]["choices"]) <= allowed


def test_tasks_refuse_rows_the_config_cannot_show() -> None:
    with pytest.raises(ValueError, match="decision"):
        tasks_for_review(rows(("maybe", [])), url)
    with pytest.raises(ValueError, match="unknown reason"):
        tasks_for_review(rows(("reject", ["ugly"])), url)
    bad = rows(("keep", []))
    bad[0]["entity_english_name"] = ""
    with pytest.raises(ValueError, match="row 1: missing entity_english_name"):
        tasks_for_review(bad, url)
    from_pandas = rows(("reject", []))
    from_pandas[0]["reasons"] = np.array(["text", "blurry"], dtype=object)
    [task] = tasks_for_review(from_pandas, url)
    assert task["data"]["auto_reasons"] == ["text", "blurry"]
    scored = rows(("review", []))
    scored[0]["score"] = 0.42
    assert tasks_for_review(scored, url)[0]["predictions"][0]["score"] == 0.42


def annotation(completed_by, result, **extra) -> dict:
    return {
        "id": extra.pop("id", 1),
        "completed_by": completed_by,
        "result": result,
        "was_cancelled": False,
        "created_at": "2025-03-01T12:00:00.123456Z",
        "updated_at": "2025-03-01T12:05:00Z",
        **extra,
    }


def verdict(value: str) -> dict:
    return {
        "from_name": "verdict",
        "to_name": "image",
        "type": "choices",
        "value": {"choices": [value]},
    }


def test_export_completed_by_as_dict_or_id_and_cancelled_ignored() -> None:
    task = tasks_for_review(rows(("review", [])), url)[0]
    reasons = {"from_name": "reasons", "type": "choices", "value": {"choices": ["collage"]}}
    caption = {"from_name": "caption", "type": "textarea", "value": {"text": ["  Рынок  "]}}
    export = [
        {
            "id": 7,
            "data": task["data"],
            "annotations": [
                annotation({"id": 3, "email": "anna@example.org"}, [verdict("reject"), reasons]),
                annotation(4, [verdict("keep"), caption], id=2),
                annotation({"id": 5}, [verdict("keep")], id=3),
                annotation(6, [], id=4, was_cancelled=True),
            ],
        },
        {"id": 8, "data": tasks_for_review(rows(("keep", [])), url)[0]["data"], "annotations": []},
    ]
    read = read_export(json.dumps(export).encode(), where="export.json", users={4: "bob@x.org"})
    assert read.problems == []
    assert (read.tasks, read.annotations, read.cancelled, read.unannotated) == (2, 4, 1, 1)
    anna, bob, five = read.decisions
    assert (anna.annotator, anna.verdict, anna.reasons) == (
        "anna@example.org",
        "reject",
        ("collage",),
    )
    assert (bob.annotator, bob.caption) == ("bob@x.org", "Рынок")
    assert five.annotator == "user:5"
    assert anna.task_id == "7" and anna.source == "label_studio"
    assert anna.annotated_at.isoformat() == "2025-03-01T12:05:00+00:00"  # updated_at wins
    # parse_export is the pair; a list is accepted as well as bytes.
    decisions, problems = parse_export(export, where="export.json")
    assert [d.annotator for d in decisions] == ["anna@example.org", "user:4", "user:5"]
    assert problems == []


def test_export_problems_name_the_task_and_the_rest_imports() -> None:
    data = tasks_for_review(rows(("keep", [])), url)[0]["data"]
    export = [
        {"id": 1, "data": {"image": "x"}, "annotations": [annotation(1, [verdict("keep")])]},
        {
            "id": 2,
            "data": data,
            "annotations": [
                annotation(1, []),  # submitted without a verdict
                annotation(1, [verdict("keep"), verdict("reject")], id=2),
                annotation(
                    1,
                    [verdict("reject"), {"from_name": "reasons", "value": {"choices": ["ugly"]}}],
                    id=3,
                ),
                annotation(None, [verdict("keep")], id=4),
                annotation(1, [verdict("keep")], id=5, updated_at="soon", created_at=None),
                annotation(1, [verdict("keep")], id=6),
            ],
        },
        "not a task",
    ]
    read = read_export(export, where="e.json")
    assert [(p.line, p.message) for p in read.problems] == [
        (1, "task 1: data lacks image_id, entity_id, category"),
        (2, "task 2 annotation 1: expected one verdict, found none"),
        (2, "task 2 annotation 2: expected one verdict, found ['keep', 'reject']"),
        (2, "task 2 annotation 3: unknown reason(s): ugly"),
        (2, "task 2 annotation 4: no completed_by"),
        (2, "task 2 annotation 5: Invalid isoformat string: 'soon'"),
        (3, "task is not an object"),
    ]
    assert len(read.decisions) == 1
    assert parse_export(b"{not json", where="e.json")[1][0].message.startswith("not JSON")
    assert parse_export(b"{}", where="e.json")[1][0].message == "not a list of tasks"


def test_simulated_export_parses_back_and_shows_a_conflict() -> None:
    decisions = [("keep", []), ("reject", ["blurry"]), ("review", []), ("keep", []), ("review", [])]
    tasks = tasks_for_review(rows(*decisions), url)
    truth = {
        IDS[0]: ("keep", ()),
        IDS[1]: ("reject", ("blurry",)),
        IDS[2]: ("reject", ("not_cultural", "collage")),
        IDS[3]: ("keep", ()),
        IDS[4]: ("keep", ()),
    }
    export = simulated_export(tasks, truth)
    assert export == simulated_export(tasks, truth)  # deterministic
    assert json.loads(json.dumps(export)) == export
    read = read_export(json.dumps(export).encode(), where="simulated")
    assert read.problems == []
    assert (read.tasks, read.annotations, read.cancelled) == (5, 10, 0)
    assert {d.annotator for d in read.decisions} == {
        "reviewer_a@example.org",
        "reviewer_b@example.org",
    }
    a = {
        d.image_id: (d.verdict, d.reasons)
        for d in read.decisions
        if d.annotator.startswith("reviewer_a")
    }
    assert a == {k: (v, tuple(r)) for k, (v, r) in truth.items()}

    resolution = resolve(read.decisions)
    assert resolution.n_conflicts == 1  # round(0.2 * 5) tasks where B disagrees
    for r in resolution.decisions:
        if r.conflict:
            assert (r.verdict, r.votes_keep, r.votes_reject) == ("reject", 1, 1)
        else:
            assert (r.verdict, r.reasons) == (
                truth[r.image_id][0],
                tuple(sorted(truth[r.image_id][1], key=REJECT_REASONS.index)),
            )

    other = simulated_export(tasks, truth, seed=3, disagree_share=0.6)
    flips = resolve(parse_export(other, where="s")[0]).n_conflicts
    assert flips == 3
    assert resolve(parse_export(simulated_export(tasks[:1], truth), where="s")[0]).n_conflicts == 0
    single = simulated_export(tasks, truth, annotators=("solo@example.org",))
    assert resolve(parse_export(single, where="s")[0]).n_conflicts == 0


def test_simulated_export_needs_truth_for_every_image() -> None:
    tasks = tasks_for_review(rows(("keep", []), ("keep", [])), url)
    with pytest.raises(ValueError, match="no truth for 1 image"):
        simulated_export(tasks, {IDS[0]: ("keep", ())})
