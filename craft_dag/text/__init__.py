"""Language helpers shared by the captioning and translation stages: tokens, lemmas, sentences.

Everything language-specific is looked up by language code (``ru``, ``en``, ...), so a pack for
another culture plugs in; a language without its own analyser falls back to casefolding.
"""
