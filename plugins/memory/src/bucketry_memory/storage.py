"""``MemoryStorage``: every capability but signed URLs, safe across tasks and threads.

It is the reference implementation of the contract and carries the core's own tests, so it is
kept complete and simple rather than clever. Files vanish with the process.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Self
from urllib.parse import quote, urlsplit

from bucketry import (
    AlreadyExistsError,
    Capability,
    FileInfo,
    NotFoundError,
    ReadVersion,
    Storage,
    WriteOptions,
)
from bucketry.urls import url_shape

__all__ = ["MemoryStorage"]


@dataclass(frozen=True, slots=True)
class _Blob:
    data: bytes
    etag: str
    content_type: str | None
    metadata: Mapping[str, str]
    last_modified: datetime = field(default_factory=lambda: datetime.now(UTC))

    def info(self, name: str) -> FileInfo:
        return FileInfo(
            name=name,
            size=len(self.data),
            etag=self.etag,
            content_type=self.content_type,
            last_modified=self.last_modified,
            metadata=self.metadata,
        )


class MemoryStorage(Storage):
    """Files in a dict. ``url()`` joins ``base_url`` and the percent-encoded name.

    URL form: ``memory://`` (options in the query, e.g. ``memory://?base_url=/media/``).
    """

    backend_name = "memory"
    loop_bound = False  # a dict and a thread lock: usable from any loop
    capabilities = frozenset(Capability) - {Capability.SIGNED_URL}

    def __init__(self, *, base_url: str = "/media/") -> None:
        # As Django's FileSystemStorage: a base URL always ends in "/", so names join to it.
        self.base_url = base_url if not base_url or base_url.endswith("/") else base_url + "/"
        self._blobs: dict[str, _Blob] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_url(cls, url: str) -> Self:
        parts = urlsplit(url)
        if parts.netloc or parts.path.strip("/"):
            from bucketry import ConfigurationError

            raise ConfigurationError(
                f"A memory storage URL has no location: use 'memory://', not {url_shape(url)!r}."
            )
        return super().from_url(url)

    async def _write(self, name: str, chunks: AsyncIterator[bytes], options: WriteOptions) -> str:
        digest = hashlib.md5(usedforsecurity=False)
        parts: list[bytes] = []
        async for chunk in chunks:
            digest.update(chunk)
            parts.append(chunk)
        blob = _Blob(
            data=b"".join(parts),
            etag=digest.hexdigest(),
            content_type=options.content_type,
            metadata=MappingProxyType(dict(options.metadata)),
        )
        with self._lock:
            while not options.overwrite and name in self._blobs:
                if options.retarget is None:
                    raise AlreadyExistsError(f"{name!r} already exists.")
                name = options.retarget(name)
            self._blobs[name] = blob
        return name

    def _get(self, name: str) -> _Blob:
        with self._lock:
            blob = self._blobs.get(name)
        if blob is None:
            raise NotFoundError(f"{name!r} does not exist in this memory storage.")
        return blob

    async def _stream(
        self,
        name: str,
        start: int,
        end: int | None,
        chunk_size: int,
        version: ReadVersion,
    ) -> AsyncIterator[bytes]:
        blob = self._get(name)
        version.pin(blob.etag)
        data = memoryview(blob.data)[start:end]
        for offset in range(0, len(data), chunk_size):
            yield bytes(data[offset : offset + chunk_size])

    async def _stat(self, name: str) -> FileInfo:
        return self._get(name).info(name)

    async def _exists(self, name: str) -> bool:
        with self._lock:
            return name in self._blobs

    async def _delete(self, name: str) -> None:
        with self._lock:
            self._blobs.pop(name, None)

    async def _scan(self, prefix: str, recursive: bool) -> AsyncIterator[FileInfo | str]:
        with self._lock:
            matches = sorted(
                (name, blob) for name, blob in self._blobs.items() if name.startswith(prefix)
            )
        seen_dirs: set[str] = set()
        for name, blob in matches:
            rest = name[len(prefix) :]
            if not recursive and "/" in rest:
                directory = prefix + rest.split("/", 1)[0] + "/"
                if directory not in seen_dirs:
                    seen_dirs.add(directory)
                    yield directory
                continue
            yield blob.info(name)

    async def _copy(self, src: str, dst: str, *, overwrite: bool) -> None:
        with self._lock:
            blob = self._blobs.get(src)
            if blob is None:
                raise NotFoundError(f"{src!r} does not exist in this memory storage.")
            if not overwrite and dst in self._blobs:
                raise AlreadyExistsError(f"Cannot copy to {dst!r}: it already exists.")
            self._blobs[dst] = replace(blob, last_modified=datetime.now(UTC))

    async def _move(self, src: str, dst: str, *, overwrite: bool) -> None:
        with self._lock:
            blob = self._blobs.get(src)
            if blob is None:
                raise NotFoundError(f"{src!r} does not exist in this memory storage.")
            if not overwrite and dst in self._blobs:
                raise AlreadyExistsError(f"Cannot move to {dst!r}: it already exists.")
            self._blobs[dst] = self._blobs.pop(src)

    def _url(self, name: str) -> str:
        return self.base_url + quote(name)
