"""One set of storage tests, run against a local folder and against a real S3 API (moto)."""

import hashlib
import os

import pyarrow as pa
import pytest

from craft_dag.storage import Storage, StorageError


def table(n: int, tag: str = "a") -> pa.Table:
    return pa.table({"id": [f"{tag}{i}" for i in range(n)], "n": list(range(n))})


def test_table_round_trip(storage: Storage) -> None:
    ref = storage.write_table("entities", "cuisine", table(3))
    assert ref.num_rows == 3 and ref.num_bytes > 0
    assert ref.uri.endswith("entities/cuisine/part-00000.parquet")
    assert storage.read_table("entities", "cuisine").equals(table(3))
    assert storage.has_table("entities", "cuisine")
    assert not storage.has_table("entities", "fauna")


def test_rewrite_replaces_exactly_its_partition(storage: Storage) -> None:
    storage.write_table("entities", "cuisine", table(3, "c"))
    storage.write_table("entities", "fauna", table(2, "f"))
    storage.write_table("entities", "cuisine", table(5, "x"))
    assert storage.read_table("entities", "cuisine").equals(table(5, "x"))
    assert storage.read_table("entities", "fauna").equals(table(2, "f"))
    assert storage.partitions("entities") == ["cuisine", "fauna"]


def test_unpartitioned_table(storage: Storage) -> None:
    storage.write_table("training_dataset", None, table(2))
    assert storage.read_table("training_dataset").num_rows == 2


def test_missing_table_error_names_asset_partition_and_uri(storage: Storage) -> None:
    with pytest.raises(StorageError, match=r"no table for entities\[fauna\] at .*entities/fauna"):
        storage.read_table("entities", "fauna")


@pytest.mark.parametrize("bad", ["../etc", "a/b", "", ".hidden", "sp ace"])
def test_path_segments_are_checked(storage: Storage, bad: str) -> None:
    with pytest.raises(StorageError, match="invalid partition key"):
        storage.write_table("entities", bad, table(1))


def test_blobs_are_content_addressed_and_stored_once(storage: Storage) -> None:
    data = b"\x89PNG fake bytes"
    digest = storage.put_blob(data)
    assert digest == hashlib.sha256(data).hexdigest()
    assert storage.put_blob(data) == digest
    assert storage.get_blob(digest) == data
    assert storage.has_blob(digest)
    assert storage.blob_uri(digest).endswith(f"blobs/sha256/{digest[:2]}/{digest}")
    stored = storage.fs.find(storage.blob_path(digest).rsplit("/", 2)[0])
    assert len(stored) == 1


def test_missing_blob_and_bad_digest(storage: Storage) -> None:
    with pytest.raises(StorageError, match="no blob"):
        storage.get_blob("0" * 64)
    with pytest.raises(StorageError, match="not a sha256"):
        storage.get_blob("abc")


def test_failed_write_leaves_the_previous_table_whole(
    storage: Storage, monkeypatch: pytest.MonkeyPatch
) -> None:
    storage.write_table("entities", "cuisine", table(3))

    # Die between writing the bytes and putting them in place (local), or mid-upload (S3).
    def crash(*args: object, **kwargs: object) -> None:
        raise OSError("simulated crash")

    if storage._local:
        monkeypatch.setattr(os, "replace", crash)
    else:
        monkeypatch.setattr(storage.fs, "pipe_file", crash)
    with pytest.raises(StorageError, match="simulated crash"):
        storage.write_table("entities", "cuisine", table(7, "new"))
    monkeypatch.undo()

    assert storage.read_table("entities", "cuisine").equals(table(3))
    # No temporary file is left behind for a reader (or a glob) to trip on.
    leftovers = storage.fs.find(storage.table_path("entities", "cuisine").rsplit("/", 1)[0])
    assert [p.rsplit("/", 1)[-1] for p in leftovers] == ["part-00000.parquet"]


def test_s3_storage_uses_the_standard_aws_environment(
    s3_server: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.conftest import BUCKET

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", s3_server["key"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", s3_server["secret"])
    monkeypatch.setenv("AWS_DEFAULT_REGION", s3_server["region"])
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", s3_server["endpoint_url"])
    store = Storage(f"s3://{BUCKET}/from-env", {"skip_instance_cache": True})
    store.write_table("entities", "fauna", table(2))
    assert store.read_table("entities", "fauna").num_rows == 2
    assert store.uri_of(store.table_path("entities", "fauna")).startswith("s3://")


def test_storage_resource_options() -> None:
    from craft_dag.resources import StorageResource

    assert StorageResource(base_uri="/data/craft").storage_options() == {}
    options = StorageResource(
        base_uri="s3://bucket/craft",
        endpoint_url="http://127.0.0.1:9000",
        access_key_id="k",
        secret_access_key="s",
        region_name="eu-north-1",
    ).storage_options()
    assert options == {
        "skip_instance_cache": True,
        "endpoint_url": "http://127.0.0.1:9000",
        "key": "k",
        "secret": "s",
        "client_kwargs": {"region_name": "eu-north-1"},
    }
