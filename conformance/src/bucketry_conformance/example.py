"""The smallest backend a third party could write: the five required primitives, nothing more.

It keeps its files on a named shelf shared by every instance (as a bucket is shared by clients),
reached through a handle opened in ``_connect`` and dropped in ``_disconnect``, as an SDK client
is: a core path that forgot to connect would find no handle. No capability is declared, so the
core's defaults do the rest, exactly as they would for an outside author: ``exists`` through
``_stat``, ``copy`` by streaming, ``move`` as copy and delete, ``delete_prefix`` one file at a
time, and ``save`` without a conditional create (a check for a free name, then the write). It is
run through the whole contract suite and installed by hand as a third-party distribution
(``tests/test_third_party_and_teeth.py``); it imports only the public API.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from bucketry import (
    AlreadyExistsError,
    FileInfo,
    NotFoundError,
    ReadVersion,
    Storage,
    WriteOptions,
)

_SHELVES: dict[str, dict[str, bytes]] = {}


class MinimalStorage(Storage):
    backend_name = "minimal"

    def __init__(self, *, shelf: str = "main") -> None:
        self.shelf = shelf
        self._handle: dict[str, bytes] | None = None

    async def _connect(self) -> None:
        self._handle = _SHELVES.setdefault(self.shelf, {})

    async def _disconnect(self) -> None:
        self._handle = None

    @property
    def _files(self) -> dict[str, bytes]:
        if self._handle is None:
            raise RuntimeError("MinimalStorage used before it connected (or after it closed).")
        return self._handle

    async def _write(self, name: str, chunks: AsyncIterator[bytes], options: WriteOptions) -> str:
        data = b"".join([chunk async for chunk in chunks])  # nothing is kept if this fails
        if not options.overwrite and name in self._files:
            raise AlreadyExistsError(name)
        self._files[name] = data
        return name

    async def _stream(
        self, name: str, start: int, end: int | None, chunk_size: int, version: ReadVersion
    ) -> AsyncIterator[bytes]:
        if name not in self._files:
            raise NotFoundError(name)
        data = self._files[name][start:end]
        for offset in range(0, len(data), chunk_size):
            yield data[offset : offset + chunk_size]

    async def _stat(self, name: str) -> FileInfo:
        if name not in self._files:
            raise NotFoundError(name)
        return FileInfo(name=name, size=len(self._files[name]))

    async def _delete(self, name: str) -> None:
        self._files.pop(name, None)

    async def _scan(self, prefix: str, recursive: bool) -> AsyncIterator[FileInfo | str]:
        directories: set[str] = set()
        for name in sorted(self._files):
            if not name.startswith(prefix):
                continue
            rest = name[len(prefix) :]
            if not recursive and "/" in rest:
                directory = prefix + rest.split("/")[0] + "/"
                if directory not in directories:
                    directories.add(directory)
                    yield directory
            else:
                yield FileInfo(name=name, size=len(self._files[name]))
