"""The character-level tokenizers of the tiny models: one token per character, no training.

An explicit vocabulary (special tokens, then Latin and Cyrillic letters, digits and punctuation)
so every build is the same in every process: the text tokenizer (SigLIP, Kandinsky 3's T5), the
chat tokenizer (LLaVA-NeXT) and the case-keeping translation tokenizer (Marian).
"""

from __future__ import annotations

# The tokenizer's vocabulary: special tokens, then single characters. Characters rather than
# words or trained merges, so every Latin or Cyrillic string tokenizes without unknown tokens
# and the vocabulary is the same in every process (a trained Unigram/BPE need not be).
SPECIAL_TOKENS: tuple[str, ...] = ("<pad>", "<unk>", "<s>", "</s>")
_CHARACTERS: str = (
    "abcdefghijklmnopqrstuvwxyz"
    "абвгдеёжзийклмнопрстуфхцчшщъыьэюя"
    "іїєґўқңғүұһөә"  # Ukrainian, Belarusian and Kazakh letters, for other Cyrillic packs
    "0123456789"
    " .,;:!?'\"-()/&«»—№©"
)
TEXT_MAX_LENGTH = 32
"""Tokens per text of the tiny text models (SigLIP pads every text to this length)."""


def char_vocabulary() -> dict[str, int]:
    """The tiny tokenizer's vocabulary: token -> id, special tokens first."""
    tokens = [*SPECIAL_TOKENS, *dict.fromkeys(_CHARACTERS)]
    return {token: index for index, token in enumerate(tokens)}


def tiny_tokenizer(max_length: int = TEXT_MAX_LENGTH):  # -> PreTrainedTokenizerFast
    """A character-level fast tokenizer for Latin and Cyrillic text, lower-casing first.

    Built with ``tokenizers`` from an explicit vocabulary: NFKC and lower-case normalisation,
    one token per character (spaces included), ``</s>`` appended (SigLIP pools the last token).
    """
    from tokenizers import Tokenizer, normalizers, pre_tokenizers, processors
    from tokenizers.models import WordLevel
    from transformers import PreTrainedTokenizerFast

    vocabulary = char_vocabulary()
    tokenizer = Tokenizer(WordLevel(vocab=vocabulary, unk_token="<unk>"))
    tokenizer.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase()])
    # Split into single characters: the regex matches each one, kept as its own token.
    tokenizer.pre_tokenizer = pre_tokenizers.Split(pattern="", behavior="isolated")
    tokenizer.post_processor = processors.TemplateProcessing(
        single="$A </s>", special_tokens=[("</s>", vocabulary["</s>"])]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        pad_token="<pad>",
        unk_token="<unk>",
        bos_token="<s>",
        eos_token="</s>",
        model_max_length=max_length,
    )


# "</s>" is in the character vocabulary already; marked special so decoding skips it too.
_CHAT_SPECIALS = ("<|im_start|>", "<|im_end|>", "<image>", "</s>")


def tiny_chat_tokenizer():  # -> PreTrainedTokenizerFast
    """The character tokenizer of a tiny chat model: ChatML markers, ``<image>``, left padding.

    Like ``tiny_tokenizer`` (one token per lower-cased character) plus a newline token, with no
    ``</s>`` appended (a chat prompt must end with the assistant's turn marker), a decoder that
    joins characters without spaces, ``<|im_end|>`` as end of sequence and left padding, which
    batched generation needs (new tokens are appended on the right of every row).
    """
    from tokenizers import Tokenizer, decoders, normalizers, pre_tokenizers
    from tokenizers.models import WordLevel
    from transformers import PreTrainedTokenizerFast

    vocabulary = char_vocabulary()
    vocabulary["\n"] = len(vocabulary)
    tokenizer = Tokenizer(WordLevel(vocab=vocabulary, unk_token="<unk>"))
    tokenizer.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase()])
    tokenizer.pre_tokenizer = pre_tokenizers.Split(pattern="", behavior="isolated")
    tokenizer.decoder = decoders.Fuse()
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        pad_token="<pad>",
        unk_token="<unk>",
        bos_token="<s>",
        eos_token="<|im_end|>",
        extra_special_tokens={"image_token": "<image>"},
        model_max_length=4096,
        padding_side="left",
    )
    fast.add_special_tokens({"additional_special_tokens": list(_CHAT_SPECIALS)})
    return fast


MARIAN_MAX_LENGTH = 64
"""Input and output positions of the tiny Marian: short, so tests reach the limit cheaply."""


def tiny_translation_tokenizer(max_length: int = MARIAN_MAX_LENGTH):  # -> PreTrainedTokenizerFast
    """A case-keeping character tokenizer for a tiny seq2seq translator.

    Unlike ``tiny_tokenizer`` it keeps upper case (translations are decoded back to text, and
    the glossary post-edit looks at case), has the same vocabulary on the source and target
    side (as a Marian model's joint vocabulary), appends ``</s>`` and decodes by joining the
    characters. ``<pad>`` is also the decoder's start token, as in Marian.
    """
    from tokenizers import Tokenizer, decoders, normalizers, pre_tokenizers, processors
    from tokenizers.models import WordLevel
    from transformers import PreTrainedTokenizerFast

    letters = "".join(c for c in _CHARACTERS if c.isalpha())
    tokens = [*SPECIAL_TOKENS, *dict.fromkeys(_CHARACTERS + letters.upper())]
    vocabulary = {token: index for index, token in enumerate(tokens)}
    tokenizer = Tokenizer(WordLevel(vocab=vocabulary, unk_token="<unk>"))
    tokenizer.normalizer = normalizers.NFKC()
    tokenizer.pre_tokenizer = pre_tokenizers.Split(pattern="", behavior="isolated")
    tokenizer.post_processor = processors.TemplateProcessing(
        single="$A </s>", special_tokens=[("</s>", vocabulary["</s>"])]
    )
    tokenizer.decoder = decoders.Fuse()
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        pad_token="<pad>",
        unk_token="<unk>",
        eos_token="</s>",
        model_max_length=max_length,
    )
