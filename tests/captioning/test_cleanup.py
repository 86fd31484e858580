"""Clean-up of LLaVA captions: service phrases, repeated openings, cut-off endings.

The first fixtures are the LLaVA-NeXT 34B captions of the CRAFT paper's Table 2, verbatim.
"""

import pytest

from craft_dag.captioning.cleanup import clean_caption

# Table 2 of the paper, LLaVA-NeXT 34B's column.
PIG = (
    "Cartoon character that looks like a pig. The pig is drawn in a simplistic, child-friendly "
    "style, with bright outlines and flat colors. She has a large round head with two small "
    "black eyes and a small triangular nose. The pig's mouth is open in a smile, showing one "
    "tooth, he has two small ears and a tuft of hair on the top of his head, the pig is wearing "
    "a brown collared shirt, the background is a solid color, bright green, the overall style "
    "is cheerful and cartoonish, likely aimed at a younger audience."
)
STREET = (
    "The scene is teeming with life, with numerous figures and vehicles populating the street. "
    "In the foreground, a woman is seated in a car, her back to the viewer, adding a sense of "
    "depth and perspective to the composition. The car is a prominent feature, its details "
    "rendered with a certain level of precision, contrasting with the more abstract background. "
    "The background is a flurry of activity, with buildings, cars, and people filling the "
    "canvas. The buildings, painted in warm hues, tower over the scene, their details softened "
    "by the artist's brushstrokes. The cars, rendered in cooler tones, add a dynamic element to "
    "the composition, their movement suggested through the artist's use of color and line. The "
    "color palette is dominated by warm tones, with the buildings and vehicles bathed in a "
    "soft, diffused light. The artist has used a variety of brushstrokes, from loose and fluid "
    "to more defined and structured, creating a sense of movement and energy. Overall, the "
    "painting is a beautiful representation of an urban landscape, capturing the essence of "
    "city life through the lens of impressionism. The artist's use of color, light, and "
    "brushwork brings the scene to life, creating a sense of movement and energy that is both "
    "captivating and engaging."
)
KOKOSHNIK_TAIL = (
    "person seated in a room with a large window in the background, through which a blurred "
    "view of trees can be seen. The individual is wearing a costume that appears to be inspired "
    "by historical or fantasy attire. The costume includes a headpiece with intricate patterns "
    "and what seems to be a beaded or embroidered veil that covers the head and neck. The "
    "person's face is visible, and they are looking directly at the camera with a neutral "
    "expression. The costume consists of a green, long-sleeved garment with a high collar and "
    "a patterned chest area that includes what looks like a heart or a floral motif. The person "
    "is holding a small, round object in their right hand, which could be a fruit or a "
    "decorative item. The room has a rustic feel, with a wooden floor and a zebra print sofa or "
    "bench on which the person is seated. The table in front of the person holds a bowl with a "
    "floral pattern, suggesting a setting for a meal or a tea. The overall style of the image "
    "is a blend of historical fashion photography with a touch of fantasy or costume drama. The "
    "lighting is soft and natural, enhancing the textures of the costume and the room's "
    "ambiance."
)
KOKOSHNIK = "The image depicts a " + KOKOSHNIK_TAIL


def test_table_2_captions_without_service_phrases_are_left_alone() -> None:
    assert clean_caption(PIG) == PIG
    # "The scene is ..." describes the scene; it is not a phrase about the picture.
    assert clean_caption(STREET) == STREET


def test_table_2_opening_service_phrase_is_removed_and_recapitalised() -> None:
    assert clean_caption(KOKOSHNIK) == "A " + KOKOSHNIK_TAIL


def test_table_2_caption_with_a_repeated_opening_and_a_cut_off_end() -> None:
    # As LLaVA does at the 512-token limit: the opening again, then a sentence cut mid-way.
    raw = KOKOSHNIK + " The image depicts a person seated in a room with a large window. The"
    raw += " person's kokoshnik is decorated with"
    assert clean_caption(raw) == "A " + KOKOSHNIK_TAIL


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        (
            "The image shows a red matryoshka doll on a wooden table.",
            "A red matryoshka doll on a wooden table.",
        ),
        (
            "This image depicts the St. Basil's Cathedral in Moscow under snow.",
            "The St. Basil's Cathedral in Moscow under snow.",
        ),
        (
            "In this picture, a girl in a sarafan dances in a field.",
            "A girl in a sarafan dances in a field.",
        ),
        ("The picture features a samovar with a teapot on top.", "A samovar with a teapot on top."),
        ("This is a photo of a wooden church on an island.", "A wooden church on an island."),
        ("In the image, we can see a birch forest in autumn.", "A birch forest in autumn."),
        (
            "The photograph captures a troika of horses in the snow.",
            "A troika of horses in the snow.",
        ),
        ("The image you provided shows a bowl of borscht.", "A bowl of borscht."),
        # The medium is information: the phrase goes, the kind of picture stays.
        (
            "This is a painting of a busy Moscow street in the 1930s.",
            "A painting of a busy Moscow street in the 1930s.",
        ),
        (
            "The image is a black and white photo of Yuri Gagarin smiling.",
            "A black and white photo of Yuri Gagarin smiling.",
        ),
        # Preambles chat models add, then the phrase, then quotes around the caption.
        (
            'Sure! Here is a caption for the image: "The image shows a balalaika on a bench."',
            "A balalaika on a bench.",
        ),
        (
            "Caption: In this image, there are three painted wooden spoons.",
            "There are three painted wooden spoons.",
        ),
    ],
)
def test_leading_service_phrases(raw: str, clean: str) -> None:
    assert clean_caption(raw) == clean


def test_a_near_repeat_of_the_opening_sentence_is_dropped_anywhere() -> None:
    raw = (
        "The image shows a man in a fur hat standing by a frozen river. Ice covers the water. "
        "A man in a fur hat is standing by the frozen river. Smoke rises behind him."
    )
    assert clean_caption(raw) == (
        "A man in a fur hat standing by a frozen river. Ice covers the water. "
        "Smoke rises behind him."
    )


def test_similar_but_different_sentences_stay() -> None:
    raw = "A red car on a street. A blue car on a street. The cars are red. The cars are blue."
    assert clean_caption(raw) == raw


def test_a_decoding_loop_of_exact_repeats_collapses() -> None:
    raw = "A cat on a mat. It sleeps. It sleeps. It sleeps. It sleeps"
    assert clean_caption(raw) == "A cat on a mat. It sleeps."


def test_abbreviations_and_initials_do_not_split_sentences() -> None:
    raw = "A portrait of A. S. Pushkin by O. Kiprensky. Mr. Pushkin sits with arms crossed. He"
    assert clean_caption(raw) == (
        "A portrait of A. S. Pushkin by O. Kiprensky. Mr. Pushkin sits with arms crossed."
    )


def test_whitespace_collapses_and_closing_quotes_count_as_an_end() -> None:
    raw = '  The image shows\n\na sign that reads "Moscow."\n  It is  old.  '
    assert clean_caption(raw) == 'A sign that reads "Moscow." It is old.'


def test_a_single_unterminated_sentence_is_kept() -> None:
    assert clean_caption("A red matryoshka doll") == "A red matryoshka doll"
    assert clean_caption("The image shows a red matryoshka doll") == "A red matryoshka doll"


@pytest.mark.parametrize("raw", ["", "   \n ", "The image shows", "This image depicts.", "Sure! "])
def test_empty_only_for_empty_input_or_nothing_but_service_phrases(raw: str) -> None:
    assert clean_caption(raw) == ""


def test_never_empty_for_real_content() -> None:
    for raw in ["x", "The scene", "In the image of a tree", "Tree.", "a tree"]:
        assert clean_caption(raw)
