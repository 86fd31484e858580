"""The caption policy and the human caption sources."""

import pytest

from craft_dag.captioning.choose import (
    HumanCaption,
    choose,
    from_review,
    merge_human,
    needs_auto,
    parse_caption_csv,
)

PERSON = HumanCaption(
    "a" * 64, "blini", "Блины со сметаной на тарелке. Рядом стоит самовар.", "ann", "ru", "review"
)


@pytest.mark.parametrize(
    ("policy", "human", "auto", "expected"),
    [
        ("human_only", PERSON, "Pancakes.", ("human", PERSON.text)),
        ("human_only", None, "Pancakes.", ("none", "")),
        ("human_else_auto", PERSON, "Pancakes.", ("human", PERSON.text)),
        ("human_else_auto", None, "Pancakes.", ("auto", "Pancakes.")),
        ("human_else_auto", None, "", ("none", "")),
        ("auto", PERSON, "Pancakes.", ("auto", "Pancakes.")),
    ],
)
def test_policies(policy: str, human: HumanCaption | None, auto: str, expected: tuple) -> None:
    chosen = choose(policy, human, auto, "en")
    assert (chosen.source, chosen.text) == expected
    assert chosen.language == {"human": "ru", "auto": "en", "none": ""}[chosen.source]


def test_the_captioner_runs_only_where_the_policy_needs_it() -> None:
    assert not needs_auto("human_only", False)
    assert needs_auto("human_else_auto", False) and not needs_auto("human_else_auto", True)
    assert needs_auto("auto", True)
    with pytest.raises(ValueError, match="caption policy must be one of"):
        needs_auto("humans", True)


def test_csv_captions_with_bad_rows_and_the_later_source_wins() -> None:
    data = (
        "\ufeffimage_id,entity_id,caption,author\n"
        f"{'a' * 64},blini,Блины стопкой на блюде. Сверху тает масло.,Ольга\n"
        f",blini,no image,Ольга\n"
        f"{'b' * 64},blini,,Ольга\n"
    ).encode()
    captions, problems = parse_caption_csv(data, where="human_captions/x/c.csv", language="ru")
    assert [(c.image_id[:1], c.author, c.language, c.source) for c in captions] == [
        ("a", "Ольга", "ru", "csv")
    ]
    assert [(p.where, p.line) for p in problems] == [
        ("human_captions/x/c.csv", 3),
        ("human_captions/x/c.csv", 4),
    ]
    merged = merge_human([PERSON], captions)
    assert merged[("a" * 64, "blini")].source == "csv"


def test_a_csv_without_the_columns_is_one_problem() -> None:
    captions, problems = parse_caption_csv(b"id,text\n1,x\n", where="c.csv", language="ru")
    assert (
        captions == [] and "missing column(s): caption, entity_id, image_id" in problems[0].message
    )


def test_review_captions_come_from_filtered_images() -> None:
    rows = [
        {
            "image_id": "x",
            "entity_id": "e",
            "human_caption": " Текст. Ещё. ",
            "annotators": ["a@x", "b@x"],
        },
        {"image_id": "y", "entity_id": "e", "human_caption": "", "annotators": []},
    ]
    [caption] = from_review(rows, "ru")
    assert (caption.text, caption.author, caption.source) == ("Текст. Ещё.", "a@x, b@x", "review")
