"""Tidying a vision-language model's English caption, as the paper did with regular expressions.

LLaVA opens most captions with a phrase about the picture rather than its content ("The image
shows", "In this picture,"), which the paper's caption guidelines forbid people to write and
which a text-to-image model would learn as noise; it also tends to repeat its opening sentence
near the end, and a caption cut by the token limit ends mid-sentence. ``clean_caption`` removes
all three (section 4.3: "cleaned using regular expressions from service phrases and repeated
initial sentences") and nothing else: the description itself is left as the model wrote it.

The rules, in order:

1. Whitespace (newlines included) collapses to single spaces; quotes wrapping the whole
   caption and a leading "Caption:" label go.
2. Leading service phrases are removed, repeatedly ("Sure! In this image, we can see ..."),
   then the first letter is capitalised. A phrase that names the medium keeps the medium:
   "This is a painting of a street" becomes "A painting of a street" (the guidelines allow
   "black and white photo", "still from a Soviet cartoon"), while the neutral "This is a photo
   of a cat" becomes "A cat".
3. A sentence that repeats the opening one (the same words, or nearly: a word-level similarity
   of ``NEAR_DUPLICATE`` or more, case-insensitive, after the same service-phrase removal and
   ignoring articles and forms of "to be"; or a shorter sentence of ``MIN_RETOLD`` words or
   more whose words, in order, nearly all come from the opening) is dropped, and so is any
   exact repeat of an earlier sentence (a decoding loop).
4. A last sentence without terminal punctuation (cut by ``max_new_tokens``) is dropped, unless
   it is the only one: a one-sentence caption without a full stop is kept as it is.

Only when the whole caption was service phrases is the answer empty.
"""

from __future__ import annotations

import difflib
import re

NEAR_DUPLICATE = 0.85
"""Word-level similarity (``difflib`` ratio) above which a sentence repeats the opening one."""

MIN_RETOLD = 4
"""Words (articles and "to be" aside) a sentence needs to count as a shorter retelling."""

# Words for the picture itself: a phrase built on them says nothing about the content.
_MEDIUM = r"(?:image|picture|photo|photograph|photography|pic|shot|snapshot|frame|scene|screenshot|visual|artwork)"
# Words that say what kind of picture it is: worth keeping in the caption.
_ARTFORM = (
    r"(?:painting|drawing|illustration|sketch|cartoon|still|poster|engraving|etching|"
    r"watercolou?r|lithograph|print|mosaic|icon|fresco|render(?:ing)?|close-?up|"
    r"(?:black[- ]and[- ]white|colou?r|vintage|old|historical|archival|aerial) "
    r"(?:photo(?:graph)?|image|picture|shot))"
)
_VERB = (
    r"(?:shows|depicts|features|displays|presents|captures|portrays|illustrates|showcases|"
    r"contains|highlights|represents|is of|shows us)"
)
_SHARED = r"(?: (?:you(?:'ve| have)? )?(?:provided|shared|uploaded|given))?"

_SERVICE_PHRASES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern, re.IGNORECASE), replacement)
    for pattern, replacement in (
        (r"^(?:sure|certainly|of course|okay|ok)\s*[,!.:]\s*", ""),
        (
            r"^here(?: is|'s) (?:a |the |my )?(?:(?:short|brief|detailed) )?"
            r"(?:caption|description)(?: (?:for|of) (?:the|this|your) " + _MEDIUM + r")?\s*:\s*",
            "",
        ),
        (r"^(?:caption|description)\s*:\s*", ""),
        # "This is a painting of ..." -> "A painting of ..." (the medium is information).
        (
            r"^(?:this|it|the " + _MEDIUM + _SHARED + r") (?:is|appears to be|seems to be) "
            r"(an? " + _ARTFORM + r"\b)",
            r"\1",
        ),
        (
            r"^(?:this|it|the " + _MEDIUM + _SHARED + r") (?:is|appears to be|seems to be) "
            r"(?:an? )?" + _MEDIUM + r" (?:of|showing|depicting|featuring|that shows|"
            r"which shows|capturing)\s+",
            "",
        ),
        (
            r"^(?:the|this) "
            + _MEDIUM
            + _SHARED
            + r" (?:clearly |vividly |beautifully )?"
            + _VERB
            + r"(?:\s*:?\s+|\s*[.:]?$)",
            "",
        ),
        (
            # Not "In the image of a tree ..." or "In the photo is ...": there the words are
            # part of the sentence.
            r"^(?:in|on|within) (?:the|this) " + _MEDIUM + r"\b(?!\s+(?:of|from|by|is|was)\b)"
            r"\s*,?\s*"
            r"(?:(?:we|you|one) (?:can )?(?:see|observe|notice)\s+)?",
            "",
        ),
        (r"^(?:we|you) (?:can )?(?:see|observe)\s+", ""),
    )
)
_FILLER = frozenset({"a", "an", "the", "is", "are", "was", "were", "be", "being"})
_WRAPPING_QUOTES = (('"', '"'), ("“", "”"), ("«", "»"), ("'", "'"))
_TERMINAL = re.compile(r"[.!?…][\"'”’»)\]]*$")
_SENTENCE_END = re.compile(r"(?<=[.!?…])[\"'”’»)\]]*\s+")
# A full stop after these does not end a sentence: titles, "St.", initials ("A. S. Pushkin").
_NO_BREAK = re.compile(
    r"(?:\b(?:mr|mrs|ms|dr|st|prof|mt|no|vs|e\.g|i\.e)\.|\b\w\.)$", re.IGNORECASE
)


def clean_caption(text: str) -> str:
    """``text`` without service phrases, a repeated opening sentence or a cut-off ending.

    See the module docstring for the rules. Empty for empty input, or when the whole caption
    was service phrases; otherwise never empty.
    """
    text = _strip_service_phrases(" ".join(text.split()))
    if not text:
        return ""
    sentences = _sentences(text)
    kept: list[str] = [sentences[0]]
    opening = _words(sentences[0])
    seen = {" ".join(opening)}
    for sentence in sentences[1:]:
        words = _words(sentence)
        key = " ".join(words)
        if key in seen or _similar(words, opening):
            continue
        seen.add(key)
        kept.append(sentence)
    if len(kept) > 1 and not _TERMINAL.search(kept[-1]):
        kept.pop()
    return _capitalised(" ".join(kept))


def _unwrap(text: str) -> str:
    text = re.sub(r"^(?:\*\*)?caption(?:\*\*)?\s*:\s*(?:\*\*)?", "", text, flags=re.IGNORECASE)
    for opening, closing in _WRAPPING_QUOTES:
        inner = text[1:-1]
        if len(text) > 2 and text[0] == opening and text[-1] == closing and opening not in inner:
            return inner.strip()
    return text.strip()


def _strip_service_phrases(text: str) -> str:
    while True:
        before = text
        # Quotes and a "Caption:" label may wrap the caption after a preamble ("Sure! ...").
        text = _unwrap(text)
        for pattern, replacement in _SERVICE_PHRASES:
            text = pattern.sub(replacement, text, count=1)
        text = text.lstrip(" ,;:-–—")
        if text == before:
            return _capitalised(text)


def _sentences(text: str) -> list[str]:
    """``text`` split after terminal punctuation, not after abbreviations or initials."""
    pieces: list[str] = []
    start = 0
    for match in _SENTENCE_END.finditer(text):
        candidate = text[start : match.start()]
        if _NO_BREAK.search(candidate):
            continue
        pieces.append(text[start : match.end()].strip())
        start = match.end()
    if start < len(text):
        pieces.append(text[start:].strip())
    return [piece for piece in pieces if piece]


def _words(sentence: str) -> list[str]:
    """The sentence's words for comparing: lower-cased, after the service-phrase removal,
    without articles and forms of "to be" (so "A man in a hat." repeats "The man is in a hat.").
    """
    words = re.findall(r"\w+", _strip_service_phrases(sentence).lower())
    return [word for word in words if word not in _FILLER]


def _similar(words: list[str], opening: list[str]) -> bool:
    """Whether ``words`` restate the opening: nearly the same, or a shorter retelling of it."""
    if not words or not opening:
        return False
    matcher = difflib.SequenceMatcher(None, words, opening, autojunk=False)
    if matcher.ratio() >= NEAR_DUPLICATE:
        return True
    # "A person seated in a room with a large window." after an opening that said that and
    # more: nearly all of its words, in order, are the opening's. Not for a longer sentence,
    # which adds to the opening, nor for a very short one, which may match by chance.
    matched = sum(block.size for block in matcher.get_matching_blocks())
    return MIN_RETOLD <= len(words) <= len(opening) and matched >= NEAR_DUPLICATE * len(words)


def _capitalised(text: str) -> str:
    return text[:1].upper() + text[1:] if text[:1].islower() else text
