"""Shared fixtures: culture packs to edit, and storage on a local folder or a real S3 API.

The S3 API is moto in server mode on 127.0.0.1 (an ephemeral port), started once per session
and stopped at the end; s3fs talks to it over HTTP exactly as it would to AWS or MinIO.
"""

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

# The code location reads its deployment from the environment at import: pin the defaults so a
# developer's own CRAFT_* variables cannot change what the tests see.
for _name in ("CRAFT_PACK", "CRAFT_STORAGE_URI", "CRAFT_PROFILE"):
    os.environ.pop(_name, None)

from craft_dag.catalog.pack import bundled_pack_path  # noqa: E402
from craft_dag.storage import Storage  # noqa: E402

DATA = Path(__file__).parent / "data"
MINI_PACK = DATA / "packs" / "mini_el"
BUCKET = "craft-test"


@pytest.fixture
def mini_pack(tmp_path: Path) -> Path:
    """A writable copy of the small Greek test pack."""
    return Path(shutil.copytree(MINI_PACK, tmp_path / "mini_el"))


@pytest.fixture
def ru_pack_copy(tmp_path: Path) -> Path:
    """A writable copy of the bundled Russian pack."""
    return Path(shutil.copytree(bundled_pack_path("ru"), tmp_path / "ru"))


@pytest.fixture(scope="session")
def s3_server() -> Iterator[dict[str, str]]:
    """A moto S3 server on 127.0.0.1 with one bucket; yields the connection settings."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    settings = {
        "endpoint_url": f"http://{host}:{port}",
        "key": "craft-test-key",
        "secret": "craft-test-secret",
        "region": "us-east-1",
    }
    import boto3

    boto3.client(
        "s3",
        endpoint_url=settings["endpoint_url"],
        aws_access_key_id=settings["key"],
        aws_secret_access_key=settings["secret"],
        region_name=settings["region"],
    ).create_bucket(Bucket=BUCKET)
    yield settings
    server.stop()


def s3_options(s3: dict[str, str]) -> dict[str, object]:
    return {
        "endpoint_url": s3["endpoint_url"],
        "key": s3["key"],
        "secret": s3["secret"],
        "client_kwargs": {"region_name": s3["region"]},
        "skip_instance_cache": True,
    }


@pytest.fixture(params=["local", pytest.param("s3", marks=pytest.mark.s3)])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> Storage:
    """The same tests run against a local folder and against the S3 API."""
    if request.param == "local":
        return Storage(str(tmp_path / "store"))
    s3 = request.getfixturevalue("s3_server")
    return Storage(f"s3://{BUCKET}/{uuid.uuid4().hex}", s3_options(s3))
