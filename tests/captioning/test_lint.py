"""The caption guideline linter (craft_dag.captioning.lint) and its rules (caption_rules)."""

import pytest

from craft_dag.captioning.lint import (
    RULE_IDS,
    Violation,
    detect_language,
    lint_caption,
    lint_captions,
)
from craft_dag.catalog.caption_rules import (
    DEFAULT_RULES,
    CaptionRules,
    LanguageRules,
    load_rules_file,
    merge_rules,
)

# The human captions of the paper's Table 2 (the English the paper prints).
ORANGE_COW_EN = (
    'A still from the cartoon "Orange Cow": Bo the calf in an orange dress with a dark border '
    "and Zo the calf in an orange-brown overalls look in surprise at the piglet. The pig is drawn "
    "in a simplified style: it has a large round head with two small black eyes, a small round "
    "nose and a cute smile. The pig is wearing a brown suit. The background is bright green with "
    "light-colored curls, large yellow stars and small pink ones."
)
NEW_MOSCOW_EN = (
    'Painting by Soviet artist Yuri Pimenov "New Moscow", which depicts a girl with short hair, '
    "wearing blue clothes with a white collar with long sleeves, sitting behind the wheel, which "
    "she holds with both hands, in an open-top car, back to her shoulders; a narrow windshield in "
    "a dark frame; a distant view mirror is attached to the right side of the glass. To the left "
    "of the car is a gray road; in the upper left corner you can see a four-story yellow "
    "building, as well as blue cars and people crossing the road. In the upper right corner "
    "there are two four-story yellow buildings, next to which there are blue cars and "
    "red-yellow buses, and people are walking along the sidewalk on the right."
)
# The same captions as a Russian annotator would write them.
ORANGE_COW_RU = (
    "Кадр из мультфильма «Оранжевая корова»: телёнок Бо в оранжевом платье с тёмной каймой и "
    "телёнок Зо в оранжево-коричневом комбинезоне удивлённо смотрят на поросёнка. Поросёнок "
    "нарисован в упрощённом стиле: у него большая круглая голова с маленькими чёрными глазками, "
    "маленький круглый нос и милая улыбка. Поросёнок одет в коричневый костюм. Фон ярко-зелёный "
    "со светлыми завитками, крупными жёлтыми и мелкими розовыми звёздами."
)
NEW_MOSCOW_RU = (
    "Картина советского художника Юрия Пименова «Новая Москва», на которой изображена девушка с "
    "короткой стрижкой в синей одежде с белым воротником, сидящая за рулём открытого автомобиля. "
    "Слева от машины серая дорога, в левом верхнем углу виднеется жёлтое четырёхэтажное здание, "
    "синие машины и люди, переходящие дорогу. В правом верхнем углу два жёлтых дома, рядом с "
    "ними синие машины и красно-жёлтые автобусы."
)
# LLaVA's caption of the Orange Cow frame in Table 2: no title and a hedge.
ORANGE_COW_LLAVA = (
    "Cartoon character that looks like a pig. The pig is drawn in a simplistic, child-friendly "
    "style, with bright outlines and flat colors. The overall style is cheerful and cartoonish, "
    "likely aimed at a younger audience."
)
CHEB = ["Чебурашка", "Cheburashka"]
GAGARIN = ["Юрий Гагарин", "Yuri Gagarin", "Юрий Алексеевич Гагарин", "Гагарин"]


def rules_of(violations: list[Violation]) -> list[str]:
    return [v.rule for v in violations]


@pytest.mark.parametrize(
    ("caption", "names", "language"),
    [
        (ORANGE_COW_EN, ["Оранжевая корова", "Orange Cow"], "en"),
        (NEW_MOSCOW_EN, ["Новая Москва", "New Moscow"], "en"),
        (ORANGE_COW_RU, ["Оранжевая корова", "Orange Cow"], "ru"),
        (NEW_MOSCOW_RU, ["Новая Москва", "New Moscow"], "ru"),
    ],
)
def test_the_papers_human_captions_are_clean(caption: str, names: list[str], language: str) -> None:
    assert lint_caption(caption, names, language) == []


def test_the_papers_model_caption_breaks_rules() -> None:
    violations = lint_caption(ORANGE_COW_LLAVA, ["Оранжевая корова", "Orange Cow"], "en")
    assert rules_of(violations) == ["missing_entity", "hedging"]
    assert violations[1].detail == '"likely"'


def test_sentence_bounds() -> None:
    one = "Юрий Гагарин в оранжевом скафандре улыбается."
    assert rules_of(lint_caption(one, GAGARIN, "ru")) == ["too_few_sentences"]
    eleven = " ".join(["Yuri Gagarin smiles."] + ["He waves his hand."] * 10)
    assert rules_of(lint_caption(eleven, GAGARIN, "en")) == ["too_many_sentences"]
    ten = " ".join(["Yuri Gagarin smiles."] + ["He waves his hand."] * 9)
    assert lint_caption(ten, GAGARIN, "en") == []
    assert rules_of(lint_caption("", GAGARIN, "ru")) == ["too_few_sentences", "missing_entity"]


@pytest.mark.parametrize(
    "caption",
    [
        "Портрет Юрия Гагарина в шлеме с надписью «СССР». Космонавт улыбается.",
        "Гагарину аплодирует толпа. На космонавте парадная форма майора.",
        "Yuri Gagarin's smile before the flight. The cosmonaut waves.",
        # An English name in a Russian caption: found by its plain words.
        "Плакат «Yuri Gagarin» на стене. Рядом стоят люди.",
    ],
)
def test_inflected_entity_names_are_found(caption: str) -> None:
    language = detect_language(caption)
    assert "missing_entity" not in rules_of(lint_caption(caption, GAGARIN, language))


def test_missing_entity() -> None:
    caption = "Мужчина в шлеме с надписью «СССР» улыбается. За ним толпа людей."
    violations = lint_caption(caption, GAGARIN, "ru")
    assert rules_of(violations) == ["missing_entity"]
    assert "Юрий Гагарин" in violations[0].detail
    # Without names there is nothing to look for.
    assert lint_caption(caption, [], "ru") == []


@pytest.mark.parametrize(
    ("caption", "found"),
    [
        ("На этом фото мы видим Юрия Гагарина. Он улыбается.", '"На этом фото", "мы видим"'),
        ("Изображён Юрий Гагарин в скафандре. Он улыбается.", '"Изображён"'),
        ("На снимке Юрий Гагарин в скафандре. Он улыбается.", '"На снимке"'),
        (
            "Юрий Гагарин в скафандре. На фотографии его можно увидеть крупным планом.",
            '"На фотографии", "можно увидеть"',
        ),
    ],
)
def test_viewing_phrase_russian(caption: str, found: str) -> None:
    violations = lint_caption(caption, GAGARIN, "ru")
    assert violations == [Violation("viewing_phrase", found)]


@pytest.mark.parametrize(
    "caption",
    [
        "This image shows Yuri Gagarin in a spacesuit. He smiles.",
        "In this photo Yuri Gagarin smiles. He wears a helmet.",
        "Yuri Gagarin in a spacesuit. We can see a helmet with the letters USSR.",
        "Yuri Gagarin in a spacesuit is depicted. He smiles.",
    ],
)
def test_viewing_phrase_english(caption: str) -> None:
    assert rules_of(lint_caption(caption, GAGARIN, "en")) == ["viewing_phrase"]


@pytest.mark.parametrize(
    ("caption", "language"),
    [
        ("Чёрно-белая фотография Юрия Гагарина 1961 года. Он в парадной форме.", "ru"),
        ("Кадр из советского мультфильма про Юрия Гагарина. Он машет рукой.", "ru"),
        ("Изображение Юрия Гагарина на почтовой марке. Гагарин в шлеме.", "ru"),
        ("Художник изобразил Юрия Гагарина в скафандре. Фон синий.", "ru"),
        ("Марка, на которой изображён Юрий Гагарин. Фон синий.", "ru"),
        ("A black and white photo of Yuri Gagarin in 1961. He wears a dress uniform.", "en"),
        ("A still from a Soviet cartoon about Yuri Gagarin. He waves.", "en"),
        ("A poster that depicts Yuri Gagarin. The background is blue.", "en"),
        ("A statue of Yuri Gagarin made in the image of an ancient hero. It stands tall.", "en"),
    ],
)
def test_allowed_image_phrases_are_not_flagged(caption: str, language: str) -> None:
    assert lint_caption(caption, GAGARIN, language) == []


@pytest.mark.parametrize(
    ("caption", "language", "found"),
    [
        ("Юрий Гагарин в скафандре. Вероятно, он волнуется перед полётом.", "ru", '"Вероятно"'),
        ("Юрий Гагарин в скафандре. Люди вокруг, скорее всего, инженеры.", "ru", '"скорее всего"'),
        ("Юрий Гагарин машет рукой. Ему, по-видимому, весело.", "ru", '"по-видимому"'),
        (
            "Yuri Gagarin in a spacesuit. The people around him are probably young.",
            "en",
            '"probably"',
        ),
        ("Yuri Gagarin waves. He appears to be nervous.", "en", '"appears to"'),
    ],
)
def test_hedging(caption: str, language: str, found: str) -> None:
    assert lint_caption(caption, GAGARIN, language) == [Violation("hedging", found)]


@pytest.mark.parametrize(
    ("caption", "language"),
    [
        ("Юрий Гагарин держит шлем. Шлем можно использовать для защиты головы.", "ru"),
        ("Юрий Гагарин у ракеты. Ракета предназначена для полётов в космос.", "ru"),
        ("Юрий Гагарин у стола. Стол служит для работы.", "ru"),
        ("Yuri Gagarin holds a helmet. The helmet can be used for protection.", "en"),
        ("Yuri Gagarin holds a tool. The tool is used for repairs.", "en"),
    ],
)
def test_usage_guess(caption: str, language: str) -> None:
    assert rules_of(lint_caption(caption, GAGARIN, language)) == ["usage_guess"]


def test_clean_captions_do_not_trip_phrase_rules() -> None:
    ru = "Возможные варианты росписи хохломы разные. Юрий Гагарин держит хохломскую ложку."
    assert lint_caption(ru, GAGARIN, "ru") == []
    en = "Yuri Gagarin holds a wooden spoon. The spoon is painted with golden leaves."
    assert lint_caption(en, GAGARIN, "en") == []


def test_violations_come_in_rule_order() -> None:
    caption = "На фото, вероятно, Гагарин, шлем служит для защиты."
    assert rules_of(lint_caption(caption, GAGARIN, "ru")) == [
        "too_few_sentences",
        "viewing_phrase",
        "hedging",
        "usage_guess",
    ]
    assert RULE_IDS[-1] == "templated"


def test_unknown_language_checks_sentences_and_names_only() -> None:
    caption = "Juri Gagarin im Raumanzug. Er lächelt wahrscheinlich."
    assert lint_caption(caption, ["Juri Gagarin"], "de") == []


def test_detect_language() -> None:
    assert detect_language("Юрий Гагарин (Yuri Gagarin) в скафандре") == "ru"
    assert detect_language("Yuri Gagarin, Гагарин, in a spacesuit") == "en"
    assert detect_language("1961") == "en"
    assert detect_language("Γιούρι Γκαγκάριν", {"GREEK": "el"}) == "el"


def test_templated_across_an_entity() -> None:
    rows = [
        {
            "entity": "cheburashka",
            "caption": "Кадр из мультфильма. Чебурашка сидит на ящике.",
            "names": CHEB,
        },
        {
            "entity": "cheburashka",
            "caption": "Кадры из мультфильмов. Чебурашка держит апельсин.",
            "names": CHEB,
        },
        {
            "entity": "cheburashka",
            "caption": "Кадр из мультфильма. Чебурашка и Гена поют.",
            "names": CHEB,
        },
        {
            "entity": "cheburashka",
            "caption": "Чебурашка машет ушами. Рядом крокодил Гена.",
            "names": CHEB,
        },
        # Another entity with the same opening is counted on its own.
        {
            "entity": "gena",
            "caption": "Кадр из мультфильма. Крокодил Гена играет на гармошке.",
            "names": ["Крокодил Гена", "Гена"],
        },
    ]
    results = lint_captions(rows)
    assert [rules_of(r) for r in results] == [["templated"], ["templated"], ["templated"], [], []]
    assert (
        results[0][0].detail == '3 of 4 captions of "cheburashka" start with "Кадр из мультфильма"'
    )


def test_templated_needs_more_than_the_share_and_enough_captions() -> None:
    half = [
        {"entity": "Чебурашка", "caption": "Кадр из мультфильма. Чебурашка сидит."},
        {"entity": "Чебурашка", "caption": "Кадр из мультфильма. Чебурашка стоит."},
        {"entity": "Чебурашка", "caption": "Чебурашка машет ушами. Он рад."},
        {"entity": "Чебурашка", "caption": "Чебурашка и Гена. Они поют."},
    ]
    assert lint_captions(half) == [[], [], [], []]
    two = half[:2]
    assert lint_captions(two) == [[], []]


def test_lint_captions_rows() -> None:
    rows = [
        {"entity": "Юрий Гагарин", "caption": "Юрия Гагарина встречают. Толпа ликует."},
        {
            "entity": "yuri_gagarin",
            "caption": "Yuri Gagarin waves. We see a crowd.",
            "names": GAGARIN,
        },
        {
            "entity": "yuri_gagarin",
            "caption": "Yuri Gagarin waves. A crowd cheers.",
            "language": "en",
            "names": "Yuri Gagarin",
        },
    ]
    assert [rules_of(r) for r in lint_captions(rows)] == [[], ["viewing_phrase"], []]


def test_merge_rules_extends_and_replaces() -> None:
    merged = merge_rules(
        DEFAULT_RULES,
        {
            "min_sentences": 3,
            "languages": {
                "ru": {
                    "hedging": ["пожалуй"],
                    "usage_guess": {"extend": False, "items": ["служит для"]},
                },
                "en": {"extend": False, "viewing_phrases": ["we see"]},
                "kk": {"viewing_phrases": ["суретте"]},
            },
        },
    )
    ru = merged.languages["ru"]
    assert ru.hedging == [*DEFAULT_RULES.languages["ru"].hedging, "пожалуй"]
    assert ru.usage_guess == ["служит для"]
    assert ru.viewing_phrases == DEFAULT_RULES.languages["ru"].viewing_phrases
    assert merged.languages["en"].viewing_phrases == ["we see"]
    assert merged.languages["en"].hedging == DEFAULT_RULES.languages["en"].hedging
    assert merged.languages["kk"] == LanguageRules(viewing_phrases=["суретте"])
    assert merged.min_sentences == 3 and merged.max_sentences == 10
    assert DEFAULT_RULES.min_sentences == 2  # the base is untouched
    caption = "Юрий Гагарин улыбается. Пожалуй, он рад. Толпа ликует."
    assert rules_of(lint_caption(caption, GAGARIN, "ru", merged)) == ["hedging"]
    assert merge_rules(DEFAULT_RULES, None) is DEFAULT_RULES


@pytest.mark.parametrize(
    "override",
    [
        {"min_sentence": 3},
        {"min_sentences": 11},
        {"languages": {"ru": {"hedges": ["пожалуй"]}}},
        {"languages": {"ru": {"hedging": "пожалуй"}}},
        {"languages": {"ru": {"usage_patterns": ["(unclosed"]}}},
    ],
)
def test_merge_rules_rejects_bad_overrides(override: dict) -> None:
    with pytest.raises(ValueError):
        merge_rules(DEFAULT_RULES, override)


def test_load_rules_file(tmp_path) -> None:
    assert load_rules_file(tmp_path) is DEFAULT_RULES
    (tmp_path / "caption_rules.yaml").write_text("max_sentences: 5\n", encoding="utf-8")
    assert load_rules_file(tmp_path).max_sentences == 5
    (tmp_path / "caption_rules.yaml").write_text("max_sentences: [\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"caption_rules\.yaml"):
        load_rules_file(tmp_path)


def test_rules_lookup_by_language_code() -> None:
    assert DEFAULT_RULES.for_language("ru-RU") is DEFAULT_RULES.languages["ru"]
    assert DEFAULT_RULES.for_language("fi") == LanguageRules()
    assert CaptionRules().languages == {}
