"""The smallest backend a third party could write: the five required primitives, nothing more.

No capability is declared, so the core's defaults do the rest, exactly as they would for an
outside author: ``exists`` through ``_stat``, ``copy`` by streaming, ``move`` as copy and delete,
``delete_prefix`` one file at a time, and ``save`` without a conditional create (a check for a
free name, then the write). It is run through the whole contract suite and installed by hand as
a third-party distribution (``tests/test_third_party_and_teeth.py``); it imports only the public
API.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from bucketry import AlreadyExistsError, FileInfo, NotFoundError, Storage, WriteOptions


class MinimalStorage(Storage):
    backend_name = "minimal"

    def __init__(self, *, shelf: str = "main") -> None:
        self.shelf = shelf
        self._files: dict[str, bytes] = {}

    async def _write(self, name: str, chunks: AsyncIterator[bytes], options: WriteOptions) -> str:
        data = b"".join([chunk async for chunk in chunks])  # nothing is kept if this fails
        if not options.overwrite and name in self._files:
            raise AlreadyExistsError(name)
        self._files[name] = data
        return name

    async def _stream(
        self, name: str, start: int, end: int | None, chunk_size: int
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
