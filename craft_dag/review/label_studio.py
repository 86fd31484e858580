"""The bridge to Label Studio: the labelling config, task import JSON, export parsing, a client.

The machine scores every image first; people then confirm or overrule it in Label Studio. Tasks
carry the automatic decision as a *prediction*, so a reviewer sees the machine's verdict and
reasons pre-filled and only changes what is wrong. The JSON export comes back through
``parse_export`` as ``ReviewDecision`` rows for ``decisions.resolve``.

Only ``connect`` imports ``label_studio_sdk`` (lazily: it pulls in pandas and more); every other
function works on plain dicts, and the client functions take any object with the SDK's
``LabelStudio`` interface.
"""

from __future__ import annotations

import contextlib
import html
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from xml.sax.saxutils import quoteattr

from craft_dag.review.decisions import (
    REJECT_REASONS,
    ReviewDecision,
    RowProblem,
    parse_reasons,
    parse_time,
)

if TYPE_CHECKING:
    from label_studio_sdk import LabelStudio

# The paper's filtering rules (CRAFT, section 4.2), written for any culture pack; the Russian
# examples stand as examples of what "elements of the cultural code" means.
FILTERING_INSTRUCTIONS = """\
Keep an image only if it shows the entity well and belongs to this pack's cultural code.

Cultural code
- Elements of neighbouring or historically related cultures are acceptable (for the Russian \
pack: elements of other post-Soviet cultures).
- Modern things are acceptable alongside elements of the cultural code.
- Frames from films made abroad are acceptable when they show elements of the cultural code \
(for the Russian pack: Soviet or Russian elements).
- A scene that gives no clue of the cultural code is not acceptable (reason: not_cultural).

Quality
- No blurry, overexposed, underexposed or low-sharpness images, and no home-made snapshots.
- If no good-quality image exists for an entity, keep the best one and tick the quality \
reasons that apply, so the entity is flagged instead of silently losing all its images.
- No watermarks.
- The entity must not be distorted (reason: distorted).
- Skip collages and images with text (reasons: collage, text).

The machine's decision is pre-filled: check it, correct it, and tick every reason that applies.
A caption is optional: write one only if you can describe the image better than its entity name."""

# What each reason means, shown as a hover hint in the labelling interface.
REASON_HINTS: dict[str, str] = {
    "too_small": "the image is too small to train on",
    "bad_aspect": "extreme aspect ratio (a strip or banner)",
    "blurry": "blurry or low sharpness",
    "underexposed": "too dark",
    "overexposed": "too bright, washed out",
    "low_information": "nearly blank or flat",
    "text": "contains text or captions",
    "watermark": "has a watermark or logo",
    "duplicate": "the same picture as another one",
    "not_relevant": "does not show the entity",
    "nsfw": "not safe for work",
    "collage": "a collage of several pictures",
    "distorted": "the entity is distorted",
    "not_cultural": "no clue of the cultural code",
    "other": "another problem",
}

MODEL_VERSION = "craft_dag-auto"
AUTO_DECISIONS: tuple[str, ...] = ("keep", "reject", "review")
# The object tag every control points at, and the control names the export is read by.
IMAGE_TAG = "image"
VERDICT_CONTROL = "verdict"
REASONS_CONTROL = "reasons"
CAPTION_CONTROL = "caption"
TASK_DATA_KEYS: tuple[str, ...] = (
    "image",
    "image_id",
    "entity_id",
    "category",
    "entity_native_name",
    "entity_english_name",
    "auto_decision",
    "auto_reasons",
)
# Tasks go to the server in batches, so one request stays far below its 200 MB limit even with
# image data URIs inside.
IMPORT_BATCH = 200


def labeling_config(
    reasons: Sequence[str] = REJECT_REASONS, instructions: str = FILTERING_INSTRUCTIONS
) -> str:
    """The Label Studio labelling config (XML) for the review of one image of one entity.

    The reviewer sees the instructions, the image, the entity's native and English names and
    its category, the machine's decision, and answers with a required ``verdict`` (keep or
    reject), any number of ``reasons`` and an optional ``caption``.
    """
    choices = "\n".join(
        f"    <Choice value={quoteattr(r)} hint={quoteattr(REASON_HINTS.get(r, r))}/>"
        for r in reasons
    )
    # quoteattr writes newlines as &#10;, which XML keeps (a literal newline in an attribute
    # would be normalised to a space).
    return f"""<View>
  <Header value="Keep or reject this image" size="4"/>
  <Text name="instructions" value={quoteattr(instructions)}/>
  <Image name="{IMAGE_TAG}" value="$image" maxWidth="100%"/>
  <Header value="Entity" size="5"/>
  <Text name="entity_native_name" value="$entity_native_name"/>
  <Text name="entity_english_name" value="$entity_english_name"/>
  <Text name="category" value="$category"/>
  <Header value="Machine's decision" size="6"/>
  <Text name="auto_decision" value="$auto_decision"/>
  <Choices name="{VERDICT_CONTROL}" toName="{IMAGE_TAG}" choice="single-radio" required="true" showInline="true">
    <Choice value="keep"/>
    <Choice value="reject"/>
  </Choices>
  <Header value="Reasons (tick every one that applies)" size="6"/>
  <Choices name="{REASONS_CONTROL}" toName="{IMAGE_TAG}" choice="multiple" showInline="true">
{choices}
  </Choices>
  <TextArea name="{CAPTION_CONTROL}" toName="{IMAGE_TAG}" rows="2" maxSubmissions="1" editable="true" placeholder="Optional caption"/>
</View>"""


def tasks_for_review(
    rows: Iterable[Mapping[str, Any]], image_url: Callable[[str], str]
) -> list[dict[str, Any]]:
    """Label Studio task-import JSON for scored images, with the machine's call as a prediction.

    Each row needs ``image_id, entity_id, category, entity_native_name, entity_english_name,
    decision`` (keep, reject or review) and ``reasons`` (a list, or a ';'-joined string); an
    optional ``score`` (0-1, the machine's confidence) becomes the prediction's score.
    ``image_url`` maps an image id to a URL the reviewers' browsers can load. The caller picks
    which rows to send (every row, or only those the machine left for review).

    The prediction pre-fills ``reasons`` with the machine's reasons and ``verdict`` with its
    decision when that was keep or reject. A ``review`` decision pre-fills no verdict: the
    machine could not decide, and a pre-filled guess would anchor the reviewer to it. Without a
    given score, keep/reject score 1.0 and review 0.0, so Label Studio's uncertainty sampling
    (lowest prediction score first) shows the undecided images first.

    Raises ``ValueError`` for a row with a missing field, an unknown decision or an unknown
    reason: the result would not be valid against ``labeling_config()``.
    """
    tasks: list[dict[str, Any]] = []
    for number, row in enumerate(rows, start=1):
        missing = [
            key
            for key in (
                "image_id",
                "entity_id",
                "category",
                "entity_native_name",
                "entity_english_name",
                "decision",
            )
            if not str(row.get(key) or "")
        ]
        if missing:
            raise ValueError(f"row {number}: missing {', '.join(missing)}")
        decision = str(row["decision"])
        if decision not in AUTO_DECISIONS:
            raise ValueError(f"row {number}: decision {decision!r} is not one of {AUTO_DECISIONS}")
        # Not `or ()`: the reasons may be an array (from pandas), whose truth value is an error.
        given = row.get("reasons")
        reasons, unknown = parse_reasons(() if given is None else given)
        if unknown:
            raise ValueError(f"row {number}: unknown reason(s) {', '.join(unknown)}")
        image_id = str(row["image_id"])
        result: list[dict[str, Any]] = []
        if decision != "review":
            result.append(_choices(VERDICT_CONTROL, [decision]))
        if reasons:
            result.append(_choices(REASONS_CONTROL, list(reasons)))
        score = row.get("score")
        if score is None:
            score = 0.0 if decision == "review" else 1.0
        tasks.append(
            {
                "data": {
                    "image": image_url(image_id),
                    "image_id": image_id,
                    "entity_id": str(row["entity_id"]),
                    "category": str(row["category"]),
                    "entity_native_name": str(row["entity_native_name"]),
                    "entity_english_name": str(row["entity_english_name"]),
                    "auto_decision": decision,
                    "auto_reasons": list(reasons),
                },
                "predictions": [
                    {"model_version": MODEL_VERSION, "score": float(score), "result": result}
                ],
            }
        )
    return tasks


@dataclass(frozen=True)
class ExportRead:
    """Everything ``read_export`` found in a Label Studio JSON export."""

    decisions: list[ReviewDecision]
    problems: list[RowProblem]
    tasks: int  # tasks in the export
    annotations: int  # annotations seen, cancelled ones included
    cancelled: int  # skipped ("was_cancelled") annotations, ignored
    unannotated: int  # tasks nobody has annotated yet


def read_export(
    data: bytes | str | list[Any], *, where: str, users: Mapping[int, str] | None = None
) -> ExportRead:
    """Read a Label Studio JSON export (a list of tasks with their ``annotations``).

    Each submitted annotation becomes one ``ReviewDecision`` (source ``label_studio``); skipped
    (cancelled) annotations are ignored and counted, drafts and predictions are not read.

    The annotator is an email where one is known, else ``user:<id>``. Exports differ: a
    snapshot export with ``completed_by`` expanded has a dict with the email; the plain export
    endpoint (``export_annotations``; Label Studio 1.23) has the bare user id. ``users`` (user
    id -> email, from ``annotator_emails``) names the bare ids. The time is the annotation's ``updated_at`` (an annotator
    who edits an annotation changes their mind), else its ``created_at``. A task or annotation
    that cannot be read becomes a ``RowProblem`` whose ``line`` is the task's 1-based position
    in the export; the rest is read.
    """
    if isinstance(data, bytes | str):
        try:
            data = json.loads(data)
        except ValueError as exc:
            return ExportRead([], [RowProblem(where, 1, f"not JSON: {exc}")], 0, 0, 0, 0)
    if not isinstance(data, list):
        return ExportRead([], [RowProblem(where, 1, "not a list of tasks")], 0, 0, 0, 0)

    decisions: list[ReviewDecision] = []
    problems: list[RowProblem] = []
    annotations = cancelled = unannotated = 0
    for position, task in enumerate(data, start=1):
        if not isinstance(task, Mapping):
            problems.append(RowProblem(where, position, "task is not an object"))
            continue
        task_id = str(task.get("id", ""))
        task_data = task.get("data") if isinstance(task.get("data"), Mapping) else {}
        missing = [k for k in ("image_id", "entity_id", "category") if not task_data.get(k)]
        items = task.get("annotations") or []
        if missing:
            problems.append(
                RowProblem(where, position, f"task {task_id}: data lacks {', '.join(missing)}")
            )
            continue
        if not items:
            unannotated += 1
        for annotation in items:
            annotations += 1
            if not isinstance(annotation, Mapping):
                problems.append(
                    RowProblem(where, position, f"task {task_id}: annotation is not an object")
                )
                continue
            if annotation.get("was_cancelled"):
                cancelled += 1
                continue
            decision, message = _annotation_decision(task_id, task_data, annotation, users or {})
            if decision is None:
                label = f"task {task_id} annotation {annotation.get('id', '?')}"
                problems.append(RowProblem(where, position, f"{label}: {message}"))
            else:
                decisions.append(decision)
    return ExportRead(decisions, problems, len(data), annotations, cancelled, unannotated)


def parse_export(
    data: bytes | str | list[Any], *, where: str, users: Mapping[int, str] | None = None
) -> tuple[list[ReviewDecision], list[RowProblem]]:
    """The decisions and problems of a Label Studio JSON export; see ``read_export``."""
    read = read_export(data, where=where, users=users)
    return read.decisions, read.problems


def connect(url: str, api_key: str) -> LabelStudio:
    """A ``label_studio_sdk.LabelStudio`` client for ``url``.

    ``api_key`` is a personal access token (a JWT refresh token, which the SDK exchanges for
    short-lived access tokens) or, where the organisation still allows them, a legacy token.
    """
    try:
        from label_studio_sdk import LabelStudio
    except ImportError as exc:
        raise ImportError(
            "talking to a Label Studio server needs the review extra: "
            "pip install 'craft-dag[review]' (reading export files does not)"
        ) from exc

    return LabelStudio(base_url=url, api_key=api_key)


def create_review_project(
    client: LabelStudio,
    title: str,
    tasks: Sequence[Mapping[str, Any]],
    config: str,
    *,
    instructions: str = FILTERING_INSTRUCTIONS,
    annotators_per_task: int = 1,
) -> int:
    """Create a review project with ``config``, import ``tasks`` (with predictions), return its id.

    ``instructions`` also go to the project's instructions panel, shown before labelling
    starts. ``annotators_per_task`` above 1 makes Label Studio hand each task to that many
    people (the overlap ``resolve`` decides between).
    """
    project = client.projects.create(
        title=title,
        label_config=config,
        expert_instruction=html.escape(instructions).replace("\n", "<br/>"),  # shown as HTML
        show_instruction=True,
        maximum_annotations=annotators_per_task,
        overlap_cohort_percentage=100,
        model_version=MODEL_VERSION,
    )
    project_id = int(project.id)
    for start in range(0, len(tasks), IMPORT_BATCH):
        batch = [dict(task) for task in tasks[start : start + IMPORT_BATCH]]
        client.projects.import_tasks(id=project_id, request=batch, return_task_ids=True)
    return project_id


def export_annotations(client: LabelStudio, project_id: int) -> bytes:
    """The project's JSON export (every task, annotated or not) as bytes for ``parse_export``."""
    chunks = client.projects.exports.download_sync(
        project_id, export_type="JSON", download_all_tasks=True
    )
    return b"".join(chunks)


def annotator_emails(client: LabelStudio) -> dict[int, str]:
    """User id -> email of the server's users, to name the bare ids of a plain export."""
    return {int(user.id): str(user.email) for user in client.users.list() if user.email}


def _choices(control: str, values: list[str]) -> dict[str, Any]:
    return {
        "from_name": control,
        "to_name": IMAGE_TAG,
        "type": "choices",
        "value": {"choices": values},
    }


def _annotator(completed_by: Any, users: Mapping[int, str]) -> str:
    if isinstance(completed_by, Mapping):
        email = str(completed_by.get("email") or "").strip()
        if email:
            return email
        completed_by = completed_by.get("id")
    if completed_by is None or completed_by == "" or isinstance(completed_by, bool):
        return ""
    with contextlib.suppress(TypeError, ValueError):
        email = users.get(int(completed_by), "").strip()
        if email:
            return email
    return f"user:{completed_by}"


def _annotation_decision(
    task_id: str,
    task_data: Mapping[str, Any],
    annotation: Mapping[str, Any],
    users: Mapping[int, str],
) -> tuple[ReviewDecision | None, str]:
    verdicts: list[str] = []
    reasons: list[str] = []
    captions: list[str] = []
    for item in annotation.get("result") or []:
        if not isinstance(item, Mapping):
            continue
        value = item.get("value") if isinstance(item.get("value"), Mapping) else {}
        name = item.get("from_name")
        if name == VERDICT_CONTROL:
            verdicts.extend(str(v) for v in value.get("choices") or [])
        elif name == REASONS_CONTROL:
            reasons.extend(str(v) for v in value.get("choices") or [])
        elif name == CAPTION_CONTROL:
            captions.extend(str(t).strip() for t in value.get("text") or [])
    if len(verdicts) != 1:
        return None, f"expected one verdict, found {verdicts or 'none'}"
    known, unknown = parse_reasons(reasons)
    if unknown:
        return None, f"unknown reason(s): {', '.join(unknown)}"
    annotator = _annotator(annotation.get("completed_by"), users)
    if not annotator:
        return None, "no completed_by"
    stamp = annotation.get("updated_at") or annotation.get("created_at")
    if not stamp:
        return None, "no updated_at or created_at"
    try:
        when = parse_time(str(stamp))
        decision = ReviewDecision(
            image_id=str(task_data["image_id"]).lower(),
            entity_id=str(task_data["entity_id"]),
            category=str(task_data["category"]),
            verdict=verdicts[0],
            reasons=known,
            caption=" ".join(c for c in captions if c),
            annotator=annotator,
            annotated_at=when,
            source="label_studio",
            task_id=task_id,
        )
    except ValueError as exc:
        return None, str(exc).removeprefix("invalid ReviewDecision: ")
    return decision, ""
