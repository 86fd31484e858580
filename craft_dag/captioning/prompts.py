"""The captioner's instructions: the three prompts of the CRAFT paper, and the entity hint.

The paper (section 4.3) tried three instructions with LLaVA-NeXT: the short one gave captions
too thin to be useful, the long one described objects that were not there, and the medium one
was kept. They are reproduced verbatim so that a run can be compared with the paper's.

The paper also found (its Table 2) that the model does not know proper names: it describes
"a cartoon character that looks like a pig" where a person writes the cartoon's title and the
character's name. craft_dag knows which entity each image was collected for, so the instruction
can carry it: ``instruction_text`` appends one sentence naming the entity and its category.
"""

from __future__ import annotations

INSTRUCTIONS: dict[str, str] = {
    "short": "Describe this image shortly in 1-2 short sentences",
    "medium": (
        "Please provide a caption for this image. Speak confidently and describe everything "
        "clearly. Do not lie and describe only what you can see"
    ),
    "long": "Describe this image and its style in a very detailed manner",
}
"""The paper's instructional prompts, by name, verbatim (no final full stop, as published)."""

DEFAULT_INSTRUCTION = "medium"
"""The paper's choice."""

ENTITY_HINT = 'The image shows "{entity}" (category: {category}). Use this name.'
"""The sentence that gives the model the entity's proper name and its category.

Worded as a statement of fact ("The image shows ...") rather than a question, so the model
takes the name as given instead of judging whether it is right, and ending in a short order to
use it, since LLaVA otherwise paraphrases a name into a generic description. The entity is in
quotes so that a multi-word title reads as one name. Without a category the parenthesis is left
out; without an entity nothing is added.
"""


def instruction_text(name: str, *, entity: str = "", category: str = "") -> str:
    """The full instruction for the prompt ``name``, with the entity hint when ``entity`` is set.

    The paper's instruction has no final full stop; one is added before the hint so the two
    read as separate sentences. Raises ``KeyError`` naming the known prompts for an unknown
    ``name``.
    """
    try:
        base = INSTRUCTIONS[name]
    except KeyError:
        known = ", ".join(sorted(INSTRUCTIONS))
        raise KeyError(f"unknown instruction {name!r}: known are {known}") from None
    entity = " ".join(entity.split())
    category = " ".join(category.split())
    if not entity:
        return base
    if category:
        hint = ENTITY_HINT.format(entity=entity, category=category)
    else:
        hint = f'The image shows "{entity}". Use this name.'
    return f"{base}. {hint}"
