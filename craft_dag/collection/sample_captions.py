"""Human-style captions for the demo's sample photos, written to the paper's caption rules.

The sample set's photos are stand-ins (scikit-image's bundled photos, not pictures of the
entities), so each caption says so in its first words and then describes what the photo
really shows, in two to four plain sentences: no "in this photo", no hedging, no guesses
about use, the entity named. They are what the demo's simulated reviewers write into the
review export's caption field; the captioning stage then treats them as human captions.
Russian only, like the bundled pack; another pack's demo falls back to automatic captions.
"""

from collections.abc import Mapping

# What each photo shows (skimage/data/<file>), one description per photo.
_DESCRIPTIONS_RU: Mapping[str, str] = {
    "astronaut.png": (
        "парадный портрет астронавта NASA Эйлин Коллинз. Она в оранжевом лётном костюме с "
        "нашивкой флага США и держит белый шлем. Позади неё макет космического челнока."
    ),
    "chelsea.png": (
        "рыжая полосатая кошка Челси крупным планом. У неё светло-зелёные глаза и длинные "
        "белые усы. Фон размыт, свет мягкий и тёплый."
    ),
    "coffee.png": (
        "чашка капучино с рисунком в виде листа на молочной пене. Белая чашка стоит на "
        "блюдце рядом с ложкой. Чашка снята сверху на тёмном столе."
    ),
    "rocket.jpg": (
        "старт ракеты Falcon 9 компании SpaceX. Ракета поднимается над стартовой площадкой в "
        "облаке пара и дыма. Небо над ней ясное и голубое."
    ),
    "hubble_deep_field.jpg": (
        "фрагмент «Глубокого поля Хаббла». На чёрном небе рассыпаны сотни далёких галактик. "
        "Самые яркие из них светятся оранжевым и голубым."
    ),
    "retina.jpg": (
        "фотография сетчатки человеческого глаза. От светлого диска зрительного нерва "
        "расходятся тёмно-красные сосуды. Края круглого кадра чёрные."
    ),
    "camera.png": (
        "чёрно-белая фотография кинооператора с камерой на штативе. Мужчина в тёмном пальто "
        "смотрит в видоискатель. Позади него поле и здания вдали."
    ),
    "coins.png": (
        "старинные монеты из собрания Бруклинского музея, разложенные рядами на тёмном фоне. "
        "Монеты разного размера, чеканка на многих стёрлась. Снимок чёрно-белый."
    ),
    "brick.png": (
        "кирпичная кладка крупным планом. Кирпичи уложены ровными рядами, швы заполнены "
        "светлым раствором. Поверхность шершавая и неровная."
    ),
    "grass.png": (
        "густая зелёная трава крупным планом. Стебли переплетаются и отбрасывают мелкие тени. "
        "Свет дневной и рассеянный."
    ),
    "gravel.png": (
        "мелкий гравий крупным планом. Камешки серые и бежевые, с острыми гранями. Свет "
        "падает ровно, без резких теней."
    ),
}

# Openings vary, as the rules ask ("captions should be varied and not stick to one template").
_OPENINGS_RU: tuple[str, ...] = (
    "Фото-заглушка для темы «{name}»: {description}",
    "Вместо снимка «{name}» временно стоит другая фотография: {description}",
    "«{name}» пока без своего снимка, а здесь {description}",
)


def sample_caption(source_file: str, name: str, index: int, language: str = "ru") -> str:
    """A caption for the sample photo made from ``source_file``, naming the entity ``name``.

    ``index`` picks the opening (pass the image's position within its entity). Returns "" for
    a generated image, an unknown photo, or a language with no captions.
    """
    if language != "ru":
        return ""
    description = _DESCRIPTIONS_RU.get(source_file.rsplit("/", 1)[-1])
    if not description:
        return ""
    text = _OPENINGS_RU[index % len(_OPENINGS_RU)].format(name=name, description=description)
    return text[0].upper() + text[1:]
