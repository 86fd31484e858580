from pathlib import Path

import pytest

from craft_dag.catalog.pack import bundled_pack_path
from craft_dag.settings import Settings


def test_defaults_are_the_embedded_laptop_setup(tmp_path: Path) -> None:
    s = Settings.from_env({"CRAFT_HOME": str(tmp_path)})
    assert s.pack_path == bundled_pack_path("ru").resolve()
    assert s.storage_uri == str(tmp_path.resolve() / "storage")
    assert s.profile == "tiny"


def test_environment_overrides() -> None:
    s = Settings.from_env(
        {
            "CRAFT_PACK": "/packs/kk",
            "CRAFT_STORAGE_URI": "s3://bucket/craft",
            "CRAFT_PROFILE": "full",
        }
    )
    assert s.pack_path == Path("/packs/kk")
    assert s.storage_uri == "s3://bucket/craft"
    assert s.profile == "full"


def test_unknown_profile_is_rejected() -> None:
    with pytest.raises(ValueError, match="CRAFT_PROFILE='huge'"):
        Settings.from_env({"CRAFT_PROFILE": "huge"})


def test_image_source_settings(tmp_path: Path) -> None:
    default = Settings.from_env({"CRAFT_HOME": str(tmp_path)})
    assert default.image_source == "folder"
    assert default.images_root == str(tmp_path.resolve() / "samples")
    assert default.builds_sample_images
    own = Settings.from_env({"CRAFT_IMAGES_ROOT": "s3://bucket/images"})
    assert own.images_root == "s3://bucket/images" and not own.builds_sample_images
    listed = Settings.from_env({"CRAFT_IMAGE_SOURCE": "manifest", "CRAFT_URL_MANIFEST": "urls.csv"})
    assert listed.url_manifest == "urls.csv" and not listed.builds_sample_images
    with pytest.raises(ValueError, match="needs CRAFT_URL_MANIFEST"):
        Settings.from_env({"CRAFT_IMAGE_SOURCE": "manifest"})
    with pytest.raises(ValueError, match="CRAFT_IMAGE_SOURCE='google'"):
        Settings.from_env({"CRAFT_IMAGE_SOURCE": "google"})


def test_operations_settings() -> None:
    s = Settings.from_env(
        {
            "CRAFT_GPUS_PER_NODE": "8",
            "CRAFT_ALERT_WEBHOOK": "https://hooks.example.org/craft",
            "CRAFT_UI_URL": "http://dagster.internal:3000",
        }
    )
    assert (s.gpus_per_node, s.alert_webhook, s.ui_url) == (
        8,
        "https://hooks.example.org/craft",
        "http://dagster.internal:3000",
    )
    assert Settings.from_env({}).gpus_per_node == 1
    with pytest.raises(ValueError, match="CRAFT_GPUS_PER_NODE='0'"):
        Settings.from_env({"CRAFT_GPUS_PER_NODE": "0"})
