"""The demo's glue: what only ``jobs/demo.py``, the benchmarks and the tests use.

Layering: ``demo`` is the top layer of craft_dag's subpackages. It may import any stage
(``collection``, ``review``, ``translation``, ...) and nothing in craft_dag imports it. The
simulated review round (``sample_review``) lives here because it writes both a review export
(``review``) and a translation memory (``translation``), and ``translation`` sits above
``review``: in either of those it would close an import cycle.
"""
