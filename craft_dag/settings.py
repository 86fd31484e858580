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
IMAGE_SOURCES = ("folder", "manifest", "commons")


@dataclass(frozen=True)
class Settings:
    pack_path: Path
    storage_uri: str
    profile: str
    image_source: str = "folder"
    images_root: str = ""  # folder source: <root>/<category>/<entity id>/*
    url_manifest: str = ""  # manifest source: CSV or Parquet of (entity_id, url, ...)
    contact: str = "https://github.com/craft-dag/craft_dag"  # in the User-Agent
    sample_images: bool = False  # images_root is the demo's generated sample set
    home: str = ".craft"  # project-local folder: storage, the demo's instance, training runs
    gpus_per_node: int = 1  # full profile: trainer processes on the host (torchrun when > 1)
    alert_webhook: str = ""  # a failed run is posted here (Slack-style JSON) when set
    ui_url: str = ""  # the webserver's address, for links in alerts

    @property
    def builds_sample_images(self) -> bool:
        return self.image_source == "folder" and self.sample_images

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> "Settings":
        env = os.environ if environ is None else environ
        home = Path(env.get("CRAFT_HOME", ".craft")).resolve()
        profile = env.get("CRAFT_PROFILE", "tiny")
        if profile not in PROFILES:
            raise ValueError(f"CRAFT_PROFILE={profile!r}: expected one of {', '.join(PROFILES)}")
        image_source = env.get("CRAFT_IMAGE_SOURCE", "folder")
        if image_source not in IMAGE_SOURCES:
            raise ValueError(
                f"CRAFT_IMAGE_SOURCE={image_source!r}: expected one of {', '.join(IMAGE_SOURCES)}"
            )
        if image_source == "manifest" and not env.get("CRAFT_URL_MANIFEST"):
            raise ValueError(
                "CRAFT_IMAGE_SOURCE=manifest needs CRAFT_URL_MANIFEST (a CSV or Parquet)"
            )
        return cls(
            pack_path=Path(env.get("CRAFT_PACK") or bundled_pack_path("ru")).resolve(),
            storage_uri=env.get("CRAFT_STORAGE_URI") or str(home / "storage"),
            profile=profile,
            image_source=image_source,
            images_root=env.get("CRAFT_IMAGES_ROOT") or str(home / "samples"),
            url_manifest=env.get("CRAFT_URL_MANIFEST", ""),
            contact=env.get("CRAFT_CONTACT") or cls.contact,
            sample_images=not env.get("CRAFT_IMAGES_ROOT"),
            home=str(home),
            gpus_per_node=_positive_int(env, "CRAFT_GPUS_PER_NODE", 1),
            alert_webhook=env.get("CRAFT_ALERT_WEBHOOK", ""),
            ui_url=env.get("CRAFT_UI_URL", ""),
        )


def _positive_int(env: dict[str, str], name: str, default: int) -> int:
    raw = env.get(name, "")
    if not raw:
        return default
    if not raw.isdigit() or int(raw) < 1:
        raise ValueError(f"{name}={raw!r}: expected a whole number >= 1")
    return int(raw)
