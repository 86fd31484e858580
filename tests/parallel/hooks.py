"""Scorer factories and image sources that misbehave once, for the failure tests (pickled by
value to the Ray workers).

A shard calls its factory once; the first call (claimed with an atomic ``mkdir``) raises or
hangs, every other returns the ordinary scorers, so exactly one shard goes wrong.
"""

import os
import time
from dataclasses import dataclass
from pathlib import Path

from craft_dag.collection.downloader import Downloader
from craft_dag.collection.records import Candidate, Fetched
from craft_dag.collection.sources import UrlManifestSource
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


class RaisingManifest(UrlManifestSource):
    """A manifest whose first fetch (or, with ``every``, each fetch) raises: one broken shard."""

    def __init__(self, path: str, marker: str, every: bool = False) -> None:
        super().__init__(path)
        self.marker = marker
        self.every = every

    async def fetch(self, candidate: Candidate, downloader: Downloader) -> Fetched:
        if self.every:
            raise RuntimeError("planted fetch failure")
        try:
            os.mkdir(self.marker)
        except FileExistsError:
            return await super().fetch(candidate, downloader)
        raise RuntimeError("planted fetch failure")


class HangingManifest(UrlManifestSource):
    """A manifest whose first fetch writes its worker's pid and waits to be killed."""

    def __init__(self, path: str, marker: str) -> None:
        super().__init__(path)
        self.marker = marker

    async def fetch(self, candidate: Candidate, downloader: Downloader) -> Fetched:
        try:
            os.mkdir(self.marker)
        except FileExistsError:
            return await super().fetch(candidate, downloader)
        (Path(self.marker) / "pid").write_text(str(os.getpid()))
        time.sleep(600)  # blocks the shard's event loop, as a wedged decoder would
        raise AssertionError("not killed")
