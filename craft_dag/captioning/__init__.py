"""Captions: automatic captions from a vision-language model, their clean-up, and the choice.

``captioner`` defines the interface (``Captioner``, ``GenerationSettings``, ``CaptionRequest``,
``CaptionResult``) that three backends implement: ``transformers_backend`` (in-process, and the
tiny random LLaVA-NeXT of the ``tiny`` profile), ``vllm_backend`` (vLLM's offline engine on a
GPU host, the optional ``vllm`` extra) and ``openai_backend`` (any OpenAI-compatible endpoint).
``prompts`` holds the paper's instructions and ``cleanup`` removes service phrases, repeated
openings and cut-off endings. Backends are imported from their modules, not from here, so
importing the package never loads torch or vLLM.
"""
