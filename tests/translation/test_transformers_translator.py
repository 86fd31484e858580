"""The transformers backend on the tiny random Marian: batching, order, splitting, glossary."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from craft_dag.catalog.models import GlossaryTerm
from craft_dag.catalog.pack import bundled_pack_path, load_pack
from craft_dag.models.tiny import MARIAN_MAX_LENGTH, tiny_marian
from craft_dag.text.sentences import split_sentences
from craft_dag.translation.glossary import GlossaryMatcher
from craft_dag.translation.transformers_backend import TransformersTranslator, tiny_translator
from craft_dag.translation.translator import TranslationSettings, translate_with_glossary

GREEDY = TranslationSettings(num_beams=1, max_new_tokens=24, batch_size=3)


@pytest.fixture(scope="module")
def translator() -> TransformersTranslator:
    return tiny_translator()


@pytest.fixture(scope="module")
def captions() -> list[str]:
    """Real-looking captions: the bundled pack's evaluation prompts."""
    return [prompt.source for prompt in load_pack(bundled_pack_path("ru")).prompts[:7]]


def test_tiny_marian_is_a_real_marian_folder() -> None:
    from transformers import AutoConfig

    folder = tiny_marian()
    assert folder == tiny_marian()  # cached
    assert AutoConfig.from_pretrained(folder).model_type == "marian"
    assert sum(f.stat().st_size for f in folder.iterdir()) < 1_000_000


def test_batched_equals_one_by_one_in_input_order(
    translator: TransformersTranslator, captions: list[str]
) -> None:
    texts = [*captions, "", "Космонавт"]
    batched = translator.translate(texts, GREEDY)
    alone = [translator.translate([text], GREEDY)[0] for text in texts]
    assert batched == alone
    assert len(batched) == len(texts)
    assert batched[-2] == ""  # a blank text gives "" without a request
    # Outputs follow their inputs, so equality above also shows the order was restored.
    assert len(set(batched[:-2])) > 1
    reversed_run = translator.translate(texts[::-1], GREEDY)
    assert reversed_run == batched[::-1]


def test_deterministic_across_loads(captions: list[str]) -> None:
    first = tiny_translator().translate(captions, GREEDY)
    assert tiny_translator().translate(captions, GREEDY) == first


def test_beam_search_runs_batched(translator: TransformersTranslator, captions: list[str]) -> None:
    beams = TranslationSettings(num_beams=2, max_new_tokens=8, batch_size=4)
    out = translator.translate(captions, beams)
    assert len(out) == len(captions) and all(isinstance(t, str) for t in out)


def test_long_text_is_split_by_sentence_not_truncated(translator: TransformersTranslator) -> None:
    sentences = [
        "Юрий Гагарин в оранжевом скафандре улыбается.",
        "Космонавт машет рукой у ракеты на Байконуре.",
        "Рядом стоят инженеры и врачи.",
    ]
    long = " ".join(sentences)
    assert translator._length(long) > MARIAN_MAX_LENGTH
    assert split_sentences(long, "ru") == sentences
    pieces = translator._pieces(long)
    assert len(pieces) > 1 and all(translator._length(p) <= MARIAN_MAX_LENGTH for p in pieces)
    assert " ".join(pieces) == long  # every word is translated
    expected = " ".join(translator.translate(pieces, GREEDY))
    assert translator.translate([long], GREEDY) == [expected]


def test_a_sentence_over_the_limit_is_cut_at_words(translator: TransformersTranslator) -> None:
    sentence = " ".join(["самовар"] * 20)  # one sentence of about 160 characters
    pieces = translator._pieces(sentence)
    assert len(pieces) > 1 and all(translator._length(p) <= MARIAN_MAX_LENGTH for p in pieces)
    assert " ".join(pieces) == sentence


def test_glossary_forbids_the_wrong_rendering_during_generation(
    translator: TransformersTranslator,
) -> None:
    source = "Космонавт в скафандре"
    plain = translator.translate([source], GREEDY)[0]
    assert len(plain) >= 2
    # Whatever the random model writes first is, for this test, the known wrong rendering.
    wrong = plain[:2]
    terms = [GlossaryTerm(source="космонавт", target="cosmonaut", wrong=[wrong])]
    matcher = GlossaryMatcher(terms, "ru", "en")
    steered = translator.translate([source, "Закат"], GREEDY, glossary=matcher)
    assert wrong not in steered[0]
    # Only the row whose source has the term is steered.
    assert steered[1] == translator.translate(["Закат"], GREEDY)[0]

    [result] = translate_with_glossary(translator, [source], GREEDY, matcher)
    assert result.raw == steered[0]
    assert [h.source for h in result.hits] == ["космонавт"]
    # The random model never writes "cosmonaut", and nothing wrong is left to replace: a miss.
    assert [(m.source, m.found_wrong) for m in result.misses] == [("космонавт", None)]


def test_nllb_warns_about_its_licence(tmp_path: Path) -> None:
    folder = tmp_path / "nllb-200-tiny"  # the warning goes by the model id
    shutil.copytree(tiny_marian(), folder)
    with pytest.warns(UserWarning, match="CC-BY-NC"):
        TransformersTranslator(str(folder), local_files_only=True)
