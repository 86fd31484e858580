"""The paper's instructions and the entity hint appended to them."""

import pytest

from craft_dag.captioning.prompts import DEFAULT_INSTRUCTION, INSTRUCTIONS, instruction_text


def test_the_papers_three_prompts_verbatim() -> None:
    assert INSTRUCTIONS == {
        "short": "Describe this image shortly in 1-2 short sentences",
        "medium": "Please provide a caption for this image. Speak confidently and describe "
        "everything clearly. Do not lie and describe only what you can see",
        "long": "Describe this image and its style in a very detailed manner",
    }
    assert DEFAULT_INSTRUCTION == "medium"


def test_without_an_entity_the_instruction_is_the_papers() -> None:
    assert instruction_text("long") == INSTRUCTIONS["long"]
    assert instruction_text("medium", category="crafts") == INSTRUCTIONS["medium"]


def test_the_entity_hint_names_the_entity_and_its_category() -> None:
    text = instruction_text("medium", entity="Матрёшка", category="Folk crafts")
    assert text == (
        INSTRUCTIONS["medium"] + '. The image shows "Матрёшка" (category: Folk crafts). '
        "Use this name."
    )


def test_the_hint_without_a_category_and_with_stray_whitespace() -> None:
    text = instruction_text("short", entity="  Orange\n Cow ")
    assert text == INSTRUCTIONS["short"] + '. The image shows "Orange Cow". Use this name.'


def test_an_unknown_prompt_names_the_known_ones() -> None:
    with pytest.raises(KeyError, match="long, medium, short"):
        instruction_text("verbose")
