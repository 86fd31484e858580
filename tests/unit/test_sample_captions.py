"""The sample human captions follow the paper's rules and name the entity."""

import pytest

from craft_dag.collection.sample_captions import _DESCRIPTIONS_RU, sample_caption


@pytest.mark.parametrize("photo", sorted(_DESCRIPTIONS_RU))
def test_each_photo_has_a_caption_naming_the_entity(photo: str) -> None:
    texts = {sample_caption(f"skimage/data/{photo}", "Пирожки", i) for i in range(3)}
    assert len(texts) == 3  # three different openings
    for text in texts:
        first_letter = next(c for c in text if c.isalpha())
        assert "«Пирожки»" in text and first_letter.isupper() and text.endswith(".")
        assert 2 <= text.count(". ") + 1 <= 10


def test_no_caption_for_generated_images_or_other_languages() -> None:
    assert sample_caption("(generated)", "Пирожки", 0) == ""
    assert sample_caption("skimage/data/coffee.png", "Moussaka", 0, language="el") == ""
