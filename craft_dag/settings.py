"""Deployment settings read from the environment in one place.

The code location is configured by a few variables so that the same code runs on a laptop and a
cluster: which culture pack is active (it defines the category partitions), where data lives,
and which model profile to use.
"""

import os
from dataclasses import dataclass
from pathlib import Path

from craft_dag.catalog.pack import bundled_pack_path

PROFILES = ("tiny", "full")


@dataclass(frozen=True)
class Settings:
    pack_path: Path
    storage_uri: str
    profile: str

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> "Settings":
        env = os.environ if environ is None else environ
        home = Path(env.get("CRAFT_HOME", ".craft")).resolve()
        profile = env.get("CRAFT_PROFILE", "tiny")
        if profile not in PROFILES:
            raise ValueError(f"CRAFT_PROFILE={profile!r}: expected one of {', '.join(PROFILES)}")
        return cls(
            pack_path=Path(env.get("CRAFT_PACK") or bundled_pack_path("ru")).resolve(),
            storage_uri=env.get("CRAFT_STORAGE_URI") or str(home / "storage"),
            profile=profile,
        )
