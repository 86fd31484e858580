"""One storage for every asset: a local folder or an S3-compatible bucket, through fsspec.

Layout under the base URI::

    <asset>/<partition>/part-00000.parquet   one table per asset partition
    <asset>/part-00000.parquet               an unpartitioned (fan-in) asset
    blobs/sha256/<ab>/<sha256>               image bytes, stored once by content

Writes are atomic: no reader ever sees a half-written table or blob. On a local disk the bytes
go to a hidden temporary file in the same folder, are fsynced, and are renamed into place
(``os.replace`` is atomic within a file system). On S3 a PUT (or a completed multipart upload)
is already atomic, so the object is written at its final key directly: a copy-then-delete
"move" would add a second full transfer and a window where both keys exist.
"""

import hashlib
import io
import os
import re
import uuid
from dataclasses import dataclass
from typing import Any

import fsspec
import pyarrow as pa
import pyarrow.parquet as pq
from fsspec.implementations.local import LocalFileSystem

PART_NAME = "part-00000.parquet"
BLOB_PREFIX = "blobs/sha256"
_SEGMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.=-]*$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class StorageError(RuntimeError):
    """A storage operation failed; the message names the URI."""


@dataclass(frozen=True)
class TableRef:
    """What an asset returns about a table it wrote: small, printable, JSON-friendly."""

    uri: str
    num_rows: int
    num_bytes: int


def _check_segment(kind: str, value: str) -> str:
    if not _SEGMENT.match(value):
        raise StorageError(
            f"invalid {kind} {value!r} for a storage path: use letters, digits, _ . = -"
        )
    return value


class Storage:
    """Tables and blobs under one base URI (``/some/folder``, ``file://...``, ``s3://bucket/prefix``).

    ``storage_options`` go to fsspec as they are (for s3fs: ``endpoint_url``, ``key``, ``secret``,
    ``client_kwargs``...); without credentials s3fs uses the standard AWS chain (environment,
    profile, instance role).
    """

    def __init__(self, base_uri: str, storage_options: dict[str, Any] | None = None) -> None:
        self.base_uri = base_uri.rstrip("/")
        self.fs, self._root = fsspec.core.url_to_fs(self.base_uri, **(storage_options or {}))
        self._root = self._root.rstrip("/")
        self._local = isinstance(self.fs, LocalFileSystem)
        if self._local:
            os.makedirs(self._root, exist_ok=True)

    # -- paths ---------------------------------------------------------------------------------

    def _path(self, *parts: str) -> str:
        return "/".join([self._root, *parts])

    def uri_of(self, path: str) -> str:
        """The URI a person (or another tool) can open for an internal path."""
        return path if self._local else self.fs.unstrip_protocol(path)

    def table_path(self, asset: str, partition: str | None = None) -> str:
        parts = [_check_segment("asset name", asset)]
        if partition is not None:
            parts.append(_check_segment("partition key", partition))
        return self._path(*parts, PART_NAME)

    # -- atomic bytes --------------------------------------------------------------------------

    def _put_atomic(self, path: str, data: bytes) -> None:
        try:
            if self._local:
                folder, name = os.path.split(path)
                os.makedirs(folder, exist_ok=True)
                tmp = os.path.join(folder, f".{name}.{uuid.uuid4().hex}.tmp")
                try:
                    with open(tmp, "wb") as fh:
                        fh.write(data)
                        fh.flush()
                        os.fsync(fh.fileno())
                    os.replace(tmp, path)
                finally:
                    if os.path.exists(tmp):
                        os.unlink(tmp)
            else:
                self.fs.pipe_file(path, data)
        except OSError as exc:
            raise StorageError(f"could not write {self.uri_of(path)}: {exc}") from exc

    # -- tables --------------------------------------------------------------------------------

    def write_table(self, asset: str, partition: str | None, table: pa.Table) -> TableRef:
        """Replace the table of ``asset`` (and ``partition``) with ``table``, atomically.

        A re-run of a partition replaces exactly that partition's table and nothing else.
        """
        buffer = io.BytesIO()
        pq.write_table(table, buffer, compression="zstd")
        data = buffer.getvalue()
        path = self.table_path(asset, partition)
        self._put_atomic(path, data)
        return TableRef(uri=self.uri_of(path), num_rows=table.num_rows, num_bytes=len(data))

    def read_table(self, asset: str, partition: str | None = None) -> pa.Table:
        path = self.table_path(asset, partition)
        try:
            with self.fs.open(path, "rb") as fh:
                return pq.read_table(fh)
        except FileNotFoundError as exc:
            where = f"{asset}[{partition}]" if partition is not None else asset
            raise StorageError(
                f"no table for {where} at {self.uri_of(path)}: materialise it first"
            ) from exc

    def has_table(self, asset: str, partition: str | None = None) -> bool:
        return self.fs.exists(self.table_path(asset, partition))

    def partitions(self, asset: str) -> list[str]:
        """The partitions of ``asset`` that have a table."""
        folder = self._path(_check_segment("asset name", asset))
        if not self.fs.exists(folder):
            return []
        found = self.fs.glob(f"{folder}/*/{PART_NAME}")
        return sorted(p.rstrip("/").split("/")[-2] for p in found)

    def delete_table(self, asset: str, partition: str | None = None) -> None:
        path = self.table_path(asset, partition)
        if self.fs.exists(path):
            self.fs.rm(path)

    # -- plain files (review tasks and exports, reports) ---------------------------------------

    def file_path(self, *parts: str) -> str:
        """The path of a plain file under the base URI; each part is one checked segment."""
        if not parts:
            raise StorageError("a file path needs at least one segment")
        return self._path(*(_check_segment("path segment", p) for p in parts))

    def write_file(self, parts: tuple[str, ...], data: bytes) -> str:
        """Write ``data`` atomically at ``parts`` and return its URI."""
        path = self.file_path(*parts)
        self._put_atomic(path, data)
        return self.uri_of(path)

    def read_file(self, parts: tuple[str, ...]) -> bytes:
        path = self.file_path(*parts)
        try:
            return self.fs.cat_file(path)
        except FileNotFoundError as exc:
            raise StorageError(f"no file at {self.uri_of(path)}") from exc

    def list_files(self, *folder: str) -> list[str]:
        """Names of the plain files directly in ``folder`` (sorted; hidden temporaries left out)."""
        path = self.file_path(*folder)
        if not self.fs.isdir(path):
            return []
        names = [p.rstrip("/").split("/")[-1] for p in self.fs.ls(path, detail=False)]
        return sorted(n for n in names if not n.startswith(".") and self.fs.isfile(f"{path}/{n}"))

    def fingerprint(self, folder: tuple[str, ...], names: list[str]) -> str:
        """A short hash of the named files in ``folder`` (names and bytes, in the given order).

        The data version of an observable source asset over a folder of files: a new, changed
        or removed file changes it, a re-upload of the same bytes does not.
        """
        digest = hashlib.sha256()
        for name in names:
            digest.update(name.encode() + b"\0")
            digest.update(hashlib.sha256(self.read_file((*folder, name))).digest())
        return digest.hexdigest()[:16]

    def file_uri(self, *parts: str) -> str:
        return self.uri_of(self.file_path(*parts))

    # -- blobs ---------------------------------------------------------------------------------

    def blob_path(self, sha256: str) -> str:
        if not _SHA256.match(sha256):
            raise StorageError(f"not a sha256 hex digest: {sha256!r}")
        return self._path(BLOB_PREFIX, sha256[:2], sha256)

    def put_blob(self, data: bytes) -> str:
        """Store ``data`` once under its sha256 and return the digest (a no-op if present)."""
        digest = hashlib.sha256(data).hexdigest()
        path = self.blob_path(digest)
        if not self.fs.exists(path):
            self._put_atomic(path, data)
        return digest

    def get_blob(self, sha256: str) -> bytes:
        path = self.blob_path(sha256)
        try:
            return self.fs.cat_file(path)
        except FileNotFoundError as exc:
            raise StorageError(f"no blob {sha256} at {self.uri_of(path)}") from exc

    def has_blob(self, sha256: str) -> bool:
        return self.fs.exists(self.blob_path(sha256))

    def blob_key(self, sha256: str) -> str:
        """The blob's path relative to the base URI (what tables record)."""
        self.blob_path(sha256)
        return f"{BLOB_PREFIX}/{sha256[:2]}/{sha256}"

    def blob_uri(self, sha256: str) -> str:
        return self.uri_of(self.blob_path(sha256))

    def blob_url(self, sha256: str, expires_s: int = 7 * 24 * 3600) -> str:
        """A URL another program can fetch the blob from: presigned on S3, file:// locally.

        Label Studio loads review images from these; a presigned URL needs no credentials in
        the review tool, and expires (a week by default, S3's longest).
        """
        path = self.blob_path(sha256)
        if self._local:
            return "file://" + os.path.abspath(path)
        return self.fs.sign(path, expiration=expires_s)
