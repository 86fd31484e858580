"""Human-style captions for the demo's sample photos, written to the paper's caption rules.

The sample set's photos are stand-ins (scikit-image's bundled photos, not pictures of the
entities), so each caption says so in its first words and then describes what the photo
really shows, in two to four plain sentences: no "in this photo", no hedging, no guesses
about use, the entity named. They are what the demo's simulated reviewers write into the
review export's caption field; the captioning stage then treats them as human captions.
Their English versions, as a human translator would write them, are the demo's translation
memory. Russian and English only, like the bundled pack; another pack's demo falls back to
automatic captions.
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

# The same captions in English, as a human translator would render them: what the demo's
# translation memory holds.
_DESCRIPTIONS_EN: Mapping[str, str] = {
    "astronaut.png": (
        "an official portrait of NASA astronaut Eileen Collins. She wears an orange flight suit "
        "with a US flag patch and holds a white helmet. Behind her stands a model of the space "
        "shuttle."
    ),
    "chelsea.png": (
        "Chelsea, a ginger tabby cat, in close-up. She has pale green eyes and long white "
        "whiskers. The background is blurred and the light is soft and warm."
    ),
    "coffee.png": (
        "a cup of cappuccino with a leaf drawn in the milk foam. The white cup stands on a "
        "saucer next to a spoon. The cup is shot from above on a dark table."
    ),
    "rocket.jpg": (
        "the launch of a SpaceX Falcon 9 rocket. The rocket rises above the launch pad in a "
        "cloud of steam and smoke. The sky above it is clear and blue."
    ),
    "hubble_deep_field.jpg": (
        "a fragment of the Hubble Deep Field. Hundreds of distant galaxies are scattered over "
        "the black sky. The brightest of them glow orange and blue."
    ),
    "retina.jpg": (
        "a photograph of the retina of a human eye. Dark red vessels spread out from the pale "
        "disc of the optic nerve. The edges of the round frame are black."
    ),
    "camera.png": (
        "a black and white photograph of a cameraman with a camera on a tripod. The man in a "
        "dark coat looks into the viewfinder. Behind him lie a field and distant buildings."
    ),
    "coins.png": (
        "old coins from the Brooklyn Museum's collection, laid out in rows on a dark "
        "background. The coins differ in size, and the stamping has worn off many of them. "
        "The photograph is black and white."
    ),
    "brick.png": (
        "brickwork in close-up. The bricks are laid in even rows, with joints of pale mortar. "
        "The surface is rough and uneven."
    ),
    "grass.png": (
        "thick green grass in close-up. The stems interlace and cast small shadows. The light "
        "is diffuse daylight."
    ),
    "gravel.png": (
        "fine gravel in close-up. The pebbles are grey and beige, with sharp edges. The light "
        "falls evenly, without harsh shadows."
    ),
}

# Openings vary, as the rules ask ("captions should be varied and not stick to one template").
_OPENINGS: Mapping[str, tuple[str, ...]] = {
    "ru": (
        "Фото-заглушка для темы «{name}»: {description}",
        "Вместо снимка «{name}» временно стоит другая фотография: {description}",
        "«{name}» пока без своего снимка, а здесь {description}",
    ),
    "en": (
        "A placeholder photo for the topic “{name}”: {description}",
        "Another photograph temporarily stands in for a picture of “{name}”: {description}",
        "“{name}” has no picture of its own yet; here is {description}",
    ),
}
_DESCRIPTIONS: Mapping[str, Mapping[str, str]] = {"ru": _DESCRIPTIONS_RU, "en": _DESCRIPTIONS_EN}


def sample_caption(source_file: str, name: str, index: int, language: str = "ru") -> str:
    """A caption for the sample photo made from ``source_file``, naming the entity ``name``.

    ``index`` picks the opening (pass the image's position within its entity); the same
    ``index`` gives a caption and its translation in another language. Returns "" for a
    generated image, an unknown photo, or a language with no captions (Russian and English).
    """
    description = _DESCRIPTIONS.get(language, {}).get(source_file.rsplit("/", 1)[-1])
    if not description:
        return ""
    openings = _OPENINGS[language]
    text = openings[index % len(openings)].format(name=name, description=description)
    return text[0].upper() + text[1:]
