"""Image sources: where candidate images for an entity come from.

Every source answers the same question (an entity and its queries -> candidate images with
provenance) and knows how to fetch its own candidates: web sources through the Downloader,
folder sources straight from the file system or bucket.
"""

import asyncio
import copy
import csv
import html
import io
import json
import re
from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import PurePosixPath
from typing import Any

import fsspec
import pyarrow.parquet as pq

from craft_dag.collection.downloader import Downloader
from craft_dag.collection.records import Candidate, EntityRef, Fetched, FetchFailure

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".gif", ".webp", ".bmp"})
_TAGS = re.compile(r"<[^>]+>")


class ImageSource(ABC):
    """Proposes candidate images for an entity and fetches them."""

    name: str

    @abstractmethod
    async def candidates(
        self, entity: EntityRef, per_query: int, downloader: Downloader
    ) -> list[Candidate]:
        """Candidates for ``entity``: at most ``per_query`` for each query of a search source.

        Sources without queries (a folder, a URL list) return all they have for the entity;
        the collector's per-entity quota bounds them, and it reports what it left out.
        """

    async def fetch(self, candidate: Candidate, downloader: Downloader) -> Fetched:
        return await downloader.fetch(candidate.url)

    def for_workers(self) -> "ImageSource":
        """What a fetch worker needs of this source (it fetches, never searches): all of it,
        unless a source holds search state too big to ship to every shard."""
        return self


class LocalFolderSource(ImageSource):
    """``<root>/<category>/<entity id>/*`` on a local path or any fsspec URI (``s3://...``).

    For teams that already have images, and the demo's embedded sample set. Each file is one
    candidate; the folder stands in for the query.
    """

    name = "folder"

    def __init__(
        self,
        root: str,
        storage_options: dict[str, Any] | None = None,
        licence: str = "",
        author: str = "",
    ) -> None:
        self.root = root.rstrip("/")
        self.fs, self._base = fsspec.core.url_to_fs(self.root, **(storage_options or {}))
        self._base = self._base.rstrip("/")
        if not self.fs.isdir(self._base):
            raise FileNotFoundError(
                f"image folder {root} does not exist: expected <category>/<entity id>/ images "
                f"there (for the demo's sample set run `make demo` or `craft samples build {root}`)"
            )
        self.licence = licence
        self.author = author
        self._provenance = self._read_provenance()

    def _read_provenance(self) -> dict[str, dict[str, str]]:
        """Per-file licence and author from an optional ``<root>/manifest.csv``.

        Columns: ``path`` (relative to the root), ``licence``, ``author``, optional ``page_url``.
        """
        path = f"{self._base}/manifest.csv"
        if not self.fs.exists(path):
            return {}
        with self.fs.open(path, "rb") as fh:
            rows = csv.DictReader(io.StringIO(fh.read().decode("utf-8-sig")))
            return {row["path"]: row for row in rows if row.get("path")}

    def _list(self, entity: EntityRef) -> list[str]:
        folder = f"{self._base}/{entity.category}/{entity.entity_id}"
        if not self.fs.isdir(folder):
            return []
        files = [
            p
            for p in self.fs.ls(folder, detail=False)
            if PurePosixPath(p).suffix.lower() in IMAGE_SUFFIXES
        ]
        return sorted(files)

    async def candidates(
        self, entity: EntityRef, per_query: int, downloader: Downloader
    ) -> list[Candidate]:
        files = await asyncio.to_thread(self._list, entity)
        out = []
        for rank, path in enumerate(files):
            relative = path[len(self._base) + 1 :]
            known = self._provenance.get(relative, {})
            out.append(
                Candidate(
                    entity_id=entity.entity_id,
                    category=entity.category,
                    source=self.name,
                    query=f"{entity.category}/{entity.entity_id}",
                    url=self.fs.unstrip_protocol(path),
                    rank=rank,
                    page_url=known.get("page_url", ""),
                    licence=known.get("licence") or self.licence,
                    author=known.get("author") or self.author,
                    title=PurePosixPath(path).name,
                )
            )
        return out

    async def fetch(self, candidate: Candidate, downloader: Downloader) -> Fetched:
        limit = downloader.config.max_bytes

        def read() -> bytes:
            path = self.fs._strip_protocol(candidate.url)
            try:
                size = self.fs.size(path)
                if size is not None and size > limit:
                    raise FetchFailure("too_large", f"{size} bytes > {limit}")
                with self.fs.open(path, "rb") as fh:
                    return fh.read(limit + 1)
            except FileNotFoundError as exc:
                raise FetchFailure("bad_url", f"no such file: {candidate.url}") from exc
            except OSError as exc:
                raise FetchFailure("connection_error", f"{candidate.url}: {exc}") from exc

        data = await asyncio.to_thread(read)
        if len(data) > limit:
            raise FetchFailure("too_large", f"over {limit} bytes")
        return Fetched(url=candidate.url, final_url=candidate.url, data=data)


class UrlManifestSource(ImageSource):
    """A CSV or Parquet list of (entity_id, url[, licence, author, caption, page_url]).

    The img2dataset-style hand-off for URL lists another search tool produced.
    """

    name = "manifest"
    REQUIRED = ("entity_id", "url")

    def __init__(self, path: str, storage_options: dict[str, Any] | None = None) -> None:
        self.path = path
        with fsspec.open(path, "rb", **(storage_options or {})) as fh:
            raw = fh.read()
        if path.lower().endswith(".parquet"):
            rows = pq.read_table(io.BytesIO(raw)).to_pylist()
        else:
            rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
        missing = [c for c in self.REQUIRED if rows and c not in rows[0]]
        if missing:
            raise ValueError(f"URL manifest {path} lacks column(s) {', '.join(missing)}")
        self._by_entity: dict[str, list[dict[str, Any]]] = {}
        for row in rows:
            if row.get("entity_id") and row.get("url"):
                self._by_entity.setdefault(str(row["entity_id"]), []).append(row)

    def for_workers(self) -> "UrlManifestSource":
        """This source without the manifest's rows: a worker only fetches URLs it is given."""
        light = copy.copy(self)
        light._by_entity = {}
        return light

    async def candidates(
        self, entity: EntityRef, per_query: int, downloader: Downloader
    ) -> list[Candidate]:
        rows = self._by_entity.get(entity.entity_id, [])
        return [
            Candidate(
                entity_id=entity.entity_id,
                category=entity.category,
                source=self.name,
                query="manifest",
                url=str(row["url"]).strip(),
                rank=rank,
                page_url=str(row.get("page_url") or ""),
                licence=str(row.get("licence") or ""),
                author=str(row.get("author") or ""),
                title=str(row.get("caption") or ""),
            )
            for rank, row in enumerate(rows)
        ]


class WikimediaCommonsSource(ImageSource):
    """Search Wikimedia Commons' File namespace with the entity's source-language queries.

    Uses the MediaWiki Action API (generator=search + prop=imageinfo), asks for a thumbnail of
    bounded width rather than the original (often tens of megapixels), follows continuation,
    sends ``maxlag`` and waits when the servers are lagged, as Wikimedia's API etiquette asks.
    Licence and author come from ``extmetadata`` for every image.
    """

    name = "commons"
    ACCEPTED_MIME = frozenset({"image/jpeg", "image/png", "image/webp", "image/gif"})

    def __init__(
        self,
        api_url: str = "https://commons.wikimedia.org/w/api.php",
        thumb_width: int = 1280,
        maxlag: int = 5,
        max_lag_retries: int = 3,
        page_size: int = 20,
    ) -> None:
        self.api_url = api_url
        self.thumb_width = thumb_width
        self.maxlag = maxlag
        self.max_lag_retries = max_lag_retries
        self.page_size = page_size

    async def _api(self, downloader: Downloader, params: dict[str, Any]) -> dict[str, Any]:
        for _ in range(self.max_lag_retries + 1):
            fetched = await downloader.fetch(self.api_url, params=params, max_bytes=8 * 2**20)
            try:
                answer = json.loads(fetched.data)
            except ValueError as exc:
                raise FetchFailure("http_error", f"Commons API answered non-JSON: {exc}") from exc
            error = answer.get("error")
            if error and error.get("code") == "maxlag":
                wait = float(fetched.headers.get("retry-after", "5") or 5)
                await asyncio.sleep(min(wait, 30.0))
                continue
            if error:
                raise FetchFailure(
                    "http_error", f"Commons API error {error.get('code')}: {error.get('info')}"
                )
            return answer
        raise FetchFailure("rate_limited", "Commons API stayed lagged (maxlag)")

    @staticmethod
    def _meta(info: dict[str, Any], key: str) -> str:
        value = (info.get("extmetadata") or {}).get(key, {}).get("value", "")
        return html.unescape(_TAGS.sub("", str(value))).strip()

    async def search(self, query: str, limit: int, downloader: Downloader) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        offset: Any = None
        while len(found) < limit:
            params: dict[str, Any] = {
                "action": "query",
                "format": "json",
                "formatversion": "2",
                "generator": "search",
                "gsrsearch": query,
                "gsrnamespace": "6",
                "gsrlimit": str(min(self.page_size, limit - len(found))),
                "prop": "imageinfo",
                "iiprop": "url|size|mime|extmetadata",
                "iiurlwidth": str(self.thumb_width),
                "maxlag": str(self.maxlag),
            }
            if offset is not None:
                params["gsroffset"] = str(offset)
            answer = await self._api(downloader, params)
            pages = sorted(
                (answer.get("query") or {}).get("pages", []), key=lambda p: p.get("index", 0)
            )
            for page in pages:
                info = (page.get("imageinfo") or [{}])[0]
                if info.get("mime") in self.ACCEPTED_MIME:
                    found.append({"title": page.get("title", ""), **info})
            offset = (answer.get("continue") or {}).get("gsroffset")
            if offset is None or not pages:
                break
        return found[:limit]

    async def candidates(
        self, entity: EntityRef, per_query: int, downloader: Downloader
    ) -> list[Candidate]:
        out: list[Candidate] = []
        seen: set[str] = set()
        for query in entity.queries:
            for info in await self.search(query, per_query, downloader):
                url = info.get("thumburl") or info.get("url")
                if not url or url in seen:
                    continue
                seen.add(url)
                out.append(
                    Candidate(
                        entity_id=entity.entity_id,
                        category=entity.category,
                        source=self.name,
                        query=query,
                        url=url,
                        rank=len(out),
                        page_url=info.get("descriptionurl", ""),
                        licence=self._meta(info, "LicenseShortName"),
                        author=self._meta(info, "Artist"),
                        title=info.get("title", ""),
                    )
                )
        return out


def entity_refs(rows: Sequence[dict[str, Any]]) -> list[EntityRef]:
    """EntityRefs from rows of the ``entities`` table."""
    return [
        EntityRef(
            entity_id=r["entity_id"],
            category=r["category"],
            native_name=r["native_name"],
            english_name=r["english_name"],
            queries=tuple(r["queries"]),
            english_queries=tuple(r.get("english_queries") or ()),
        )
        for r in rows
    ]
