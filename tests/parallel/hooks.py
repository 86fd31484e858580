"""Scorer factories that misbehave once, for the failure tests (pickled by value to workers).

A shard calls its factory once; the first call (claimed with an atomic ``mkdir``) raises or
hangs, every other returns the ordinary scorers, so exactly one shard goes wrong.
"""

import os
import time
from dataclasses import dataclass
from pathlib import Path

from craft_dag.curation.score import Scorers


@dataclass(frozen=True)
class RaiseOnce:
    marker: str

    def __call__(self) -> Scorers:
        try:
            os.mkdir(self.marker)
        except FileExistsError:
            return Scorers()
        raise ValueError("planted shard failure")


@dataclass(frozen=True)
class HangOnce:
    """The first shard writes its worker's pid and waits to be killed."""

    marker: str

    def __call__(self) -> Scorers:
        try:
            os.mkdir(self.marker)
        except FileExistsError:
            return Scorers()
        (Path(self.marker) / "pid").write_text(str(os.getpid()))
        time.sleep(600)
        return Scorers()
