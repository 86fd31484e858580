"""The review loop against a real Label Studio server: config, import, annotate, export, resolve.

Two reviewers annotate through the API as themselves (each with their own personal access
token), so the export carries real ``completed_by`` users, times and results, and the conflict
rule is checked on what the server actually returns.
"""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import pytest

from craft_dag.collection.samples import build_sample_set
from craft_dag.review.decisions import decisions_table, resolve
from craft_dag.review.label_studio import (
    MODEL_VERSION,
    annotator_emails,
    connect,
    create_review_project,
    export_annotations,
    labeling_config,
    read_export,
    tasks_for_review,
)

from .conftest import USERS, LabelStudioServer

pytestmark = [pytest.mark.label_studio, pytest.mark.slow]

A, B = USERS


def _choices(name: str, values: list[str]) -> dict:
    return {"from_name": name, "to_name": "image", "type": "choices", "value": {"choices": values}}


def _caption(text: str) -> dict:
    return {
        "from_name": "caption",
        "to_name": "image",
        "type": "textarea",
        "value": {"text": [text]},
    }


def test_round_trip_through_label_studio(label_studio: LabelStudioServer, tmp_path: Path) -> None:
    samples = build_sample_set(tmp_path / "samples", {"c": ["e1", "e2"]})
    picked = {s.planted + "/" + s.entity_id: s for s in samples}
    chosen = [picked["none/e1"], picked["blurred/e1"], picked["watermark/e2"], picked["none/e2"]]
    blobs = {}
    for sample in chosen:
        data = (tmp_path / "samples" / sample.path).read_bytes()
        blobs[hashlib.sha256(data).hexdigest()] = data
    ids = list(blobs)
    auto = [("keep", []), ("reject", ["blurry"]), ("review", ["watermark"]), ("keep", [])]
    rows = [
        {
            "image_id": image_id,
            "entity_id": sample.entity_id,
            "category": "c",
            "entity_native_name": f"имя {sample.entity_id}",
            "entity_english_name": f"name {sample.entity_id}",
            "decision": decision,
            "reasons": reasons,
        }
        for image_id, sample, (decision, reasons) in zip(ids, chosen, auto, strict=True)
    ]

    def data_uri(image_id: str) -> str:
        return "data:image/jpeg;base64," + base64.b64encode(blobs[image_id]).decode()

    tasks = tasks_for_review(rows, data_uri)
    a = connect(label_studio.url, label_studio.tokens[A])
    b = connect(label_studio.url, label_studio.tokens[B])
    assert a.users.whoami().email == A
    assert b.users.whoami().email == B

    # The server validates the config on creation and every task's data against it on import.
    project_id = create_review_project(
        a, "craft review test", tasks, labeling_config(), annotators_per_task=2
    )
    project = a.projects.get(id=project_id)
    assert project.label_config == labeling_config()
    assert project.maximum_annotations == 2
    assert "cultural code" in project.expert_instruction

    task_ids = {}
    for task in a.tasks.list(project=project_id):
        task_ids[task.data["image_id"]] = task.id
    assert sorted(task_ids) == sorted(ids)

    # The machine's calls arrived as predictions, exactly as sent.
    predictions = {p.task: p for p in a.predictions.list(project=project_id)}
    assert len(predictions) == 4
    keep, reject, review, untouched = (predictions[task_ids[i]] for i in ids)
    assert keep.model_version == MODEL_VERSION
    assert (keep.score, review.score, untouched.score) == (1.0, 0.0, 1.0)
    assert [r["value"]["choices"] for r in keep.result] == [["keep"]]
    assert [(r["from_name"], r["value"]["choices"]) for r in reject.result] == [
        ("verdict", ["reject"]),
        ("reasons", ["blurry"]),
    ]
    # "review" pre-fills no verdict, only the machine's reasons.
    assert [(r["from_name"], r["value"]["choices"]) for r in review.result] == [
        ("reasons", ["watermark"])
    ]

    # Image 0: both keep, A writes a caption.
    a.annotations.create(
        id=task_ids[ids[0]], result=[_choices("verdict", ["keep"]), _caption("Храм на холме")]
    )
    b.annotations.create(id=task_ids[ids[0]], result=[_choices("verdict", ["keep"])])
    # Image 1: A rejects, B keeps: a tie, so reject with A's reasons only.
    a.annotations.create(
        id=task_ids[ids[1]],
        result=[_choices("verdict", ["reject"]), _choices("reasons", ["blurry", "not_cultural"])],
    )
    b.annotations.create(
        id=task_ids[ids[1]], result=[_choices("verdict", ["keep"]), _caption("B's caption")]
    )
    # Image 2: A rejects, then changes their mind (edits the annotation) and keeps it with a
    # caption; B skips the task.
    first = a.annotations.create(
        id=task_ids[ids[2]],
        result=[_choices("verdict", ["reject"]), _choices("reasons", ["watermark"])],
    )
    a.annotations.update(
        id=first.id,
        result=[
            _choices("verdict", ["keep"]),
            _choices("reasons", ["watermark"]),
            _caption("A small watermark, but the only good view"),
        ],
    )
    b.annotations.create(id=task_ids[ids[2]], result=[], was_cancelled=True)
    # Image 3: nobody annotates it.

    export = export_annotations(a, project_id)
    read = read_export(export, where="label-studio-export.json", users=annotator_emails(a))
    assert read.problems == []
    assert (read.tasks, read.annotations, read.cancelled, read.unannotated) == (4, 6, 1, 1)
    assert {d.annotator for d in read.decisions} == {A, B}
    # The plain export names annotators by id only; without the id -> email map they stay ids.
    bare = read_export(export, where="label-studio-export.json")
    assert {d.annotator for d in bare.decisions} == {"user:1", "user:2"}
    assert all(d.source == "label_studio" and d.task_id for d in read.decisions)

    resolution = resolve(read.decisions)
    got = {r.image_id: r for r in resolution.decisions}
    assert sorted(got) == sorted(ids[:3])

    r0, r1, r2 = (got[i] for i in ids[:3])
    assert (r0.verdict, r0.reasons, r0.caption, r0.annotators) == (
        "keep",
        (),
        "Храм на холме",
        (A, B),
    )
    assert (r0.votes_keep, r0.votes_reject, r0.conflict) == (2, 0, False)
    assert (r1.verdict, r1.reasons, r1.caption) == ("reject", ("blurry", "not_cultural"), "")
    assert (r1.votes_keep, r1.votes_reject, r1.conflict, r1.annotators) == (1, 1, True, (A, B))
    assert (r2.verdict, r2.reasons, r2.annotators) == ("keep", ("watermark",), (A,))
    assert r2.caption == "A small watermark, but the only good view"
    assert (r2.entity_id, r2.category) == ("e2", "c")
    assert resolution.counts() == {
        "decisions": 5,
        "superseded": 0,
        "resolved": 3,
        "keep": 2,
        "reject": 1,
        "conflicts": 1,
        "ties": 1,
    }
    table = decisions_table(resolution)
    assert table.num_rows == 3
    assert set(table.column("verdict").to_pylist()) == {"keep", "reject"}
