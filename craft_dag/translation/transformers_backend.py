"""Machine translation with a transformers seq2seq model in-process (Marian opus-mt, NLLB).

The model loads through ``AutoTokenizer`` and ``AutoModelForSeq2SeqLM.from_pretrained``, by hub
id or local folder, so the ``tiny`` profile's random model (``tiny_translator``) and the
``full`` profile's ``Helsinki-NLP/opus-mt-ru-en`` run the same code.

Batching: texts are sorted by token length before they are cut into batches, so each batch
pads to a similar length (less wasted compute), and the results are put back in input order.

Nothing is silently truncated: a text longer than the model's input limit is split into
sentences (``craft_dag.text.sentences.split_sentences`` in the source language), packed back
into pieces that fit, translated piece by piece and joined; a single sentence longer than the
limit is cut at word boundaries. A translation that ends because it hit ``max_new_tokens``
rather than the end-of-sequence token is logged as a warning (and ``quality_signals`` flags
it as truncated).

Glossary during generation: transformers 5 removed constrained beam search from the library
(``force_words_ids`` / ``constraints`` now select a ``custom_generate`` repository on the Hub
that needs ``trust_remote_code`` and a download), so required terms cannot be forced here.
What it still has is forbidding token sequences (``bad_words_ids``), but only one list for the
whole batch, and forbidding "bath" in every caption of a batch because one mentions a баня
would damage the others. So this backend adds a logits processor that forbids, per row, the
known wrong renderings of the glossary terms found in that row's own source
(``GlossaryMatcher.forbidden``: as written, lower-case, capitalised and plural). That only
steers the model away from the listed errors; the required term is then put in by the checked
post-edit (``GlossaryMatcher.enforce``, run by ``translate_with_glossary``). Measured on the
tiny random model in the tests: a rendering it produces without the glossary never appears
with it; on real models the post-edit remains the mechanism that guarantees the result.

Licences of the models this is meant for (say which one a dataset was made with):

* Marian ``Helsinki-NLP/opus-mt-*`` (OPUS-MT): CC-BY-4.0, commercial use allowed with
  attribution. The default.
* NLLB-200 (``facebook/nllb-200-*``): CC-BY-NC-4.0, **non-commercial use only**. Loading one
  warns; it needs ``src_lang`` / ``tgt_lang`` (e.g. ``"rus_Cyrl"``, ``"eng_Latn"``).
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence
from typing import Any

from craft_dag.text.sentences import split_sentences
from craft_dag.translation.glossary import GlossaryMatcher
from craft_dag.translation.translator import TranslationSettings

DEFAULT_TRANSLATION_MODEL = "Helsinki-NLP/opus-mt-ru-en"
"""Marian OPUS-MT Russian -> English, CC-BY-4.0."""

NLLB_MODEL = "facebook/nllb-200-distilled-600M"
"""NLLB-200 distilled 600M: many languages, but CC-BY-NC-4.0 (non-commercial use only)."""

NLLB_LICENCE_WARNING = (
    "NLLB-200 weights are licensed CC-BY-NC-4.0: non-commercial use only. A dataset translated "
    "with it inherits that restriction; Marian opus-mt models (CC-BY-4.0) do not."
)

# Languages whose text is written without spaces between sentences, so translated pieces of
# one caption join without one. Any other target language joins pieces with a space.
_UNSPACED_LANGUAGES = frozenset({"zh", "ja", "th", "lo", "km", "my"})
# transformers' "no limit" sentinel for model_max_length is about 1e30; anything above this is
# not a real limit.
_NO_LIMIT = 1_000_000

logger = logging.getLogger(__name__)


class _RowBadWords:
    """A logits processor forbidding, per batch row, its own token sequences.

    ``banned[i]`` are the sequences of input ``i`` of the batch; with beam search the model's
    rows are ``i * num_beams ... (i + 1) * num_beams - 1``. A sequence's last token is
    forbidden when the row's newest tokens equal the rest of it (a one-token sequence is
    forbidden everywhere in that row).
    """

    def __init__(self, banned: Sequence[Sequence[tuple[int, ...]]], num_beams: int) -> None:
        self.banned = [list(rows) for rows in banned]
        self.num_beams = num_beams

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        history = input_ids.tolist()
        for row, tokens in enumerate(history):
            for sequence in self.banned[row // self.num_beams]:
                prefix = sequence[:-1]
                if not prefix or tuple(tokens[-len(prefix) :]) == prefix:
                    scores[row, sequence[-1]] = float("-inf")
        return scores


class TransformersTranslator:
    """Translates with ``AutoModelForSeq2SeqLM``; see the module docstring.

    ``source_language`` / ``target_language`` are the pack's codes: the source one picks the
    sentence splitter for long texts, the target one how pieces are joined. ``src_lang`` /
    ``tgt_lang`` are the tokenizer's own codes for multilingual models (NLLB: ``"rus_Cyrl"``,
    ``"eng_Latn"``); Marian models are one pair each and need neither. ``dtype`` goes to
    ``from_pretrained`` (``None`` keeps transformers' default, float32 on a CPU).
    """

    name = "transformers"
    accepts_glossary = True

    def __init__(
        self,
        model: str = DEFAULT_TRANSLATION_MODEL,
        device: str = "cpu",
        local_files_only: bool = False,
        *,
        source_language: str = "ru",
        target_language: str = "en",
        src_lang: str | None = None,
        tgt_lang: str | None = None,
        dtype: object = None,
        revision: str | None = None,
    ) -> None:
        import torch
        from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

        if "nllb" in model.lower():
            warnings.warn(NLLB_LICENCE_WARNING, UserWarning, stacklevel=2)
        self.model = model
        self.device = device
        self.source_language = source_language
        self.target_language = target_language
        options: dict[str, Any] = {"local_files_only": local_files_only, "revision": revision}
        tokenizer_options = dict(options)
        if src_lang is not None:
            tokenizer_options["src_lang"] = src_lang
        self.tokenizer = AutoTokenizer.from_pretrained(model, **tokenizer_options)
        if dtype is not None:
            options["dtype"] = dtype
        self._model = AutoModelForSeq2SeqLM.from_pretrained(model, **options).to(device).eval()
        self._torch = torch
        self._forced_bos: int | None = None
        if tgt_lang is not None:
            self._forced_bos = self.tokenizer.convert_tokens_to_ids(tgt_lang)
        config = self._model.config
        positions = getattr(config, "max_position_embeddings", None) or _NO_LIMIT
        tokenizer_limit = self.tokenizer.model_max_length
        if not tokenizer_limit or tokenizer_limit > _NO_LIMIT:
            tokenizer_limit = positions
        self.max_input_tokens = int(min(tokenizer_limit, positions))
        # The decoder's positions bound the output too (the start token takes one).
        self.max_output_tokens = int(positions) - 1
        self._eos = config.eos_token_id

    def _length(self, text: str) -> int:
        """Tokens of ``text`` as model input, special tokens included."""
        # verbose=False: measuring a text over the limit is the point, not a mistake to warn of.
        return len(self.tokenizer(text, add_special_tokens=True, verbose=False)["input_ids"])

    def _pieces(self, text: str) -> list[str]:
        """``text`` cut into pieces that each fit the model's input (usually one piece)."""
        if self._length(text) <= self.max_input_tokens:
            return [text]
        units: list[str] = []
        for sentence in split_sentences(text, self.source_language):
            if self._length(sentence) <= self.max_input_tokens:
                units.append(sentence)
            else:
                units.extend(self._word_pieces(sentence))
        pieces: list[str] = []
        for unit in units:
            joined = f"{pieces[-1]} {unit}" if pieces else unit
            if pieces and self._length(joined) <= self.max_input_tokens:
                pieces[-1] = joined
            else:
                pieces.append(unit)
        return pieces

    def _word_pieces(self, sentence: str) -> list[str]:
        """A sentence too long for the model, cut at spaces (a word too long, by characters)."""
        pieces: list[str] = []
        current = ""
        for word in sentence.split():
            candidate = f"{current} {word}" if current else word
            if self._length(candidate) <= self.max_input_tokens:
                current = candidate
                continue
            if current:
                pieces.append(current)
            current = ""
            while self._length(word) > self.max_input_tokens:
                cut = len(word)
                while cut > 1 and self._length(word[:cut]) > self.max_input_tokens:
                    cut //= 2
                pieces.append(word[:cut])
                word = word[cut:]
            current = word
        if current:
            pieces.append(current)
        return pieces

    def _banned(
        self, sources: Sequence[str], glossary: GlossaryMatcher
    ) -> list[list[tuple[int, ...]]]:
        """Per source, the token sequences of its forbidden renderings (target vocabulary)."""
        out: list[list[tuple[int, ...]]] = []
        for source in sources:
            forms = glossary.forbidden(source)
            if not forms:
                out.append([])
                continue
            encoded = self.tokenizer(text_target=forms, add_special_tokens=False)["input_ids"]
            out.append(sorted({tuple(ids) for ids in encoded if ids}))
        return out

    def _generate(
        self,
        batch: Sequence[str],
        settings: TranslationSettings,
        banned: Sequence[Sequence[tuple[int, ...]]] | None,
    ) -> list[str]:
        from transformers import LogitsProcessorList

        encoded = self.tokenizer(list(batch), return_tensors="pt", padding=True)
        encoded = {key: value.to(self.device) for key, value in encoded.items()}
        options: dict[str, Any] = {
            "num_beams": settings.num_beams,
            "max_new_tokens": min(settings.max_new_tokens, self.max_output_tokens),
            "do_sample": False,
        }
        if self._forced_bos is not None:
            options["forced_bos_token_id"] = self._forced_bos
        if banned is not None and any(banned):
            options["logits_processor"] = LogitsProcessorList(
                [_RowBadWords(banned, settings.num_beams)]
            )
        with self._torch.inference_mode():
            output = self._model.generate(**encoded, **options)
        rows = output.tolist()
        unfinished = sum(1 for row in rows if self._eos is not None and self._eos not in row[1:])
        if unfinished:
            logger.warning(
                "%d of %d translations hit max_new_tokens=%d before their end; they are cut short",
                unfinished,
                len(rows),
                options["max_new_tokens"],
            )
        return [
            text.strip() for text in self.tokenizer.batch_decode(output, skip_special_tokens=True)
        ]

    def translate(
        self,
        texts: Sequence[str],
        settings: TranslationSettings,
        *,
        glossary: GlossaryMatcher | None = None,
        sources: Sequence[str] | None = None,
    ) -> list[str]:
        """One translation per text, in input order; an empty or blank text gives "".

        With ``glossary``, each text's generation is forbidden the known wrong renderings of
        the terms found in its source (``sources[i]``, by default ``texts[i]``); the required
        terms are not forced (see the module docstring), so run ``GlossaryMatcher.enforce``
        on the results, as ``translate_with_glossary`` does.
        """
        texts = list(texts)
        if sources is not None and len(sources) != len(texts):
            raise ValueError(f"{len(sources)} sources for {len(texts)} texts")
        per_text_banned = (
            self._banned(sources if sources is not None else texts, glossary)
            if glossary is not None
            else None
        )
        # Every piece of every non-blank text, with the text it belongs to.
        pieces: list[tuple[int, str]] = [
            (index, piece)
            for index, text in enumerate(texts)
            if text.strip()
            for piece in self._pieces(text.strip())
        ]
        order = sorted(range(len(pieces)), key=lambda i: -self._length(pieces[i][1]))
        translated: list[str] = [""] * len(pieces)
        for start in range(0, len(order), settings.batch_size):
            chunk = order[start : start + settings.batch_size]
            banned = (
                [per_text_banned[pieces[i][0]] for i in chunk]
                if per_text_banned is not None
                else None
            )
            outputs = self._generate([pieces[i][1] for i in chunk], settings, banned)
            for i, output in zip(chunk, outputs, strict=True):
                translated[i] = output
        joiner = "" if self.target_language.split("-")[0].lower() in _UNSPACED_LANGUAGES else " "
        results: list[list[str]] = [[] for _ in texts]
        for (index, _), output in zip(pieces, translated, strict=True):
            if output:
                results[index].append(output)
        return [joiner.join(parts) for parts in results]


def tiny_translator(seed: int = 0) -> TransformersTranslator:
    """The ``tiny`` profile's translator: ``tiny_marian(seed)`` loaded like a real model.

    Its output is noise, but it goes through the same tokenizer, batching, splitting and
    ``generate`` as ``Helsinki-NLP/opus-mt-ru-en``, from a folder, without any download.
    """
    from craft_dag.models.tiny import tiny_marian

    return TransformersTranslator(str(tiny_marian(seed)), local_files_only=True)
