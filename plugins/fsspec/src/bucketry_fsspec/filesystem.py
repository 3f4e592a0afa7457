"""``BucketryFileSystem``: bucketry storages behind fsspec's ``AsyncFileSystem``.

A path is ``ALIAS/NAME``: the first segment names a storage, the rest is a bucketry name in it,
as an S3 path starts with its bucket. ``bucketry://media/reports/q3.csv`` is ``reports/q3.csv`` in
the storage configured under ``media`` (``configure_storage(..., alias="media")``, or the
``BUCKETRY_STORAGE_URL_MEDIA`` environment variable). A storage can also be given with the
filesystem, as fsspec ``storage_options`` — ``url="s3://bucket/prefix?region=..."`` or
``backend="s3"`` with ``options={...}`` — and then serves every alias of that filesystem: that is
how a Dask worker process, which shares no configuration with the client, builds the same
storage from the same options.

Directories are derived from names, as on an object store: one exists while a file is stored
under it, ``mkdir`` makes nothing, and it goes with its last file.

A storage whose client is bound to an event loop (the cloud backends) is always called on that
loop (the one its :class:`~bucketry.sync.SyncStorage` runs), never on fsspec's own, so the same
storage serves fsspec, the sync API and nothing else at once without two loops touching one
client. Files and memory run right on fsspec's loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import queue
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, ClassVar, TypeVar

from fsspec.asyn import AsyncFileSystem
from fsspec.spec import AbstractBufferedFile

from bucketry import (
    FileInfo,
    NotFoundError,
    Storage,
    UnsafeNameError,
    create_storage,
    get_storage,
)
from bucketry.sync import SyncStorage, get_sync_storage
from bucketry_fsspec.caching import OneBlockCache

__all__ = ["BucketryFile", "BucketryFileSystem"]

T = TypeVar("T")

WRITE_BLOCK = 8 * 1024 * 1024
"""Bytes a file opened for writing hands to the storage at a time (two in flight at most)."""


class BucketryFileSystem(AsyncFileSystem):  # type: ignore[misc]
    """fsspec's filesystem API over bucketry storages; see the module's documentation."""

    protocol: ClassVar[str | tuple[str, ...]] = "bucketry"
    root_marker = ""
    async_impl = True

    def __init__(
        self,
        *args: Any,
        url: str | None = None,
        backend: str | None = None,
        options: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        if url and backend:
            raise ValueError("Give a storage as url= or as backend= with options=, not both.")
        self._url, self._backend, self._options = url, backend, dict(options or {})
        self._own: SyncStorage | None = None
        self._own_lock = threading.Lock()

    # -- paths and storages ------------------------------------------------------------------------

    @classmethod
    def _strip_protocol(cls, path: Any) -> Any:
        if isinstance(path, list):
            return [cls._strip_protocol(p) for p in path]
        path = str(os.fspath(path))
        if path.startswith("bucketry://"):
            path = path[len("bucketry://") :]
        return path.strip("/")

    def _split(self, path: str) -> tuple[str, str]:
        alias, _, name = self._strip_protocol(path).partition("/")
        if not alias:
            raise ValueError(
                f"A bucketry path starts with a storage alias: bucketry://ALIAS/name, not {path!r}."
            )
        return alias, name

    def _sync_storage(self, alias: str) -> SyncStorage:
        if self._url or self._backend:
            with self._own_lock:
                if self._own is None:
                    storage = (
                        create_storage(self._url)
                        if self._url
                        else create_storage(str(self._backend), **self._options)
                    )
                    self._own = SyncStorage(storage)
                return self._own
        get_storage(alias)  # a clear ConfigurationError for an alias nothing configures
        return get_sync_storage(alias)

    async def _call(self, path: str, work: Callable[[Storage, str], Awaitable[T]]) -> T:
        """``work(storage, name)`` for ``path``, on the storage's own loop."""
        alias, name = self._split(path)
        return await self._sync_storage(alias).arun(lambda storage: work(storage, name))

    def _path(self, alias: str, name: str) -> str:
        return f"{alias}/{name}" if name else alias

    def _file_entry(self, alias: str, info: FileInfo) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "name": self._path(alias, info.name),
            "size": info.size,
            "type": "file",
        }
        if info.etag is not None:
            entry["ETag"] = info.etag
        if info.last_modified is not None:
            entry["mtime"] = info.last_modified.timestamp()
            entry["LastModified"] = info.last_modified
        if info.content_type is not None:
            entry["ContentType"] = info.content_type
        return entry

    def _directory_entry(self, alias: str, name: str) -> dict[str, Any]:
        return {"name": self._path(alias, name), "size": 0, "type": "directory"}

    # -- reading the tree ------------------------------------------------------------------------

    async def _info(self, path: str, **kwargs: Any) -> dict[str, Any]:
        alias, name = self._split(path)
        if not name:
            return self._directory_entry(alias, "")

        async def look(storage: Storage, name: str) -> FileInfo | bool:
            try:
                return await storage.stat(name)
            except NotFoundError:
                directories, files = await storage.listdir(name)
                return bool(directories or files)

        found = await self._call(path, look)
        if isinstance(found, FileInfo):
            return self._file_entry(alias, found)
        if found:
            return self._directory_entry(alias, name)
        raise FileNotFoundError(self._path(alias, name))

    async def _ls(self, path: str, detail: bool = True, **kwargs: Any) -> list[Any]:
        alias, name = self._split(path)

        async def listing(storage: Storage, name: str) -> tuple[list[str], list[FileInfo]]:
            directories, _ = await storage.listdir(name)
            files = [info async for info in storage.list(name, recursive=False)]
            return directories, files

        try:
            directories, files = await self._call(path, listing)
        except UnsafeNameError:
            directories, files = [], []  # a file's name is not a directory prefix
        prefix = f"{name}/" if name else ""
        entries = [self._directory_entry(alias, prefix + d) for d in directories]
        entries += [self._file_entry(alias, info) for info in sorted(files, key=_by_name)]
        if not entries and name:
            entries = [await self._info(path)]  # a file lists as itself; else FileNotFoundError
            if entries[0]["type"] == "directory":
                entries = []
        return entries if detail else [entry["name"] for entry in entries]

    async def _find(
        self,
        path: str,
        maxdepth: int | None = None,
        withdirs: bool = False,
        detail: bool = False,
        **kwargs: Any,
    ) -> Any:
        if maxdepth is not None:
            return await super()._find(
                path, maxdepth=maxdepth, withdirs=withdirs, detail=detail, **kwargs
            )
        alias, name = self._split(path)

        async def everything(storage: Storage, name: str) -> list[FileInfo]:
            return [info async for info in storage.list(name)]

        try:
            files = await self._call(path, everything)
        except UnsafeNameError:
            files = []
        found: dict[str, dict[str, Any]] = {}
        base = f"{name}/" if name else ""
        for info in files:
            entry = self._file_entry(alias, info)
            found[entry["name"]] = entry
            if withdirs:
                parts = info.name[len(base) :].split("/")[:-1]
                for depth in range(1, len(parts) + 1):
                    directory = base + "/".join(parts[:depth])
                    found.setdefault(
                        self._path(alias, directory), self._directory_entry(alias, directory)
                    )
        if withdirs and found and name:
            found.setdefault(self._path(alias, name), self._directory_entry(alias, name))
        if not found and name:
            try:
                itself: dict[str, Any] | None = await self._info(path)
            except FileNotFoundError:
                itself = None
            if itself is not None and itself["type"] == "file":
                found[itself["name"]] = itself
        ordered = dict(sorted(found.items()))
        return ordered if detail else list(ordered)

    async def _exists(self, path: str, **kwargs: Any) -> bool:
        try:
            await self._info(path)
        except FileNotFoundError:
            return False
        return True

    async def _isdir(self, path: str) -> bool:
        try:
            return bool((await self._info(path))["type"] == "directory")
        except FileNotFoundError:
            return False

    async def _size(self, path: str) -> int:
        return int((await self._info(path))["size"])

    async def _modified(self, path: str) -> datetime:
        info = await self._info(path)
        if "LastModified" not in info:
            raise NotImplementedError(f"{path!r}: this storage keeps no modification time.")
        moment: datetime = info["LastModified"]
        return moment.astimezone(UTC)

    # -- reading bytes ---------------------------------------------------------------------------

    async def _cat_file(
        self, path: str, start: int | None = None, end: int | None = None, **kwargs: Any
    ) -> bytes:
        async def read(storage: Storage, name: str) -> bytes:
            first, last = start, end
            if (first is not None and first < 0) or (last is not None and last < 0):
                size = (await storage.stat(name)).size  # offsets from the end, as fsspec allows
                first = None if first is None else max(0, size + first if first < 0 else first)
                last = None if last is None else max(0, size + last if last < 0 else last)
            if first is None and last is None:
                return await storage.open(name)  # whole, checked whole where the backend checks
            # The range in one chunk where the backend can: no second copy to join it into.
            whole = None if last is None else max(1, last - (first or 0))
            chunks = storage.stream(name, start=first, end=last, chunk_size=whole)
            return b"".join([chunk async for chunk in chunks])

        return await self._call(path, read)

    async def _get_file(self, rpath: str, lpath: str, **kwargs: Any) -> None:
        if os.path.isdir(lpath) or await self._isdir(rpath):
            os.makedirs(lpath, exist_ok=True)
            return

        async def download(storage: Storage, name: str) -> None:
            with open(lpath, "wb") as local:
                async for chunk in storage.stream(name):
                    await asyncio.to_thread(local.write, chunk)

        try:
            await self._call(rpath, download)
        except BaseException:
            with contextlib.suppress(OSError):
                os.remove(lpath)
            raise

    # -- writing ---------------------------------------------------------------------------------

    async def _pipe_file(
        self, path: str, value: bytes, mode: str = "overwrite", **kwargs: Any
    ) -> None:
        overwrite = mode != "create"
        await self._call(
            path,
            lambda storage, name: storage.save(
                name,
                value,
                overwrite=overwrite,
                rename=False,
                content_type=kwargs.get("ContentType"),
            ),
        )

    async def _put_file(
        self, lpath: str, rpath: str, mode: str = "overwrite", **kwargs: Any
    ) -> None:
        if os.path.isdir(lpath):
            return  # no empty directories: one appears with the first file put under it
        overwrite = mode != "create"

        async def upload(storage: Storage, name: str) -> None:
            with open(lpath, "rb") as local:
                await storage.save(name, local, overwrite=overwrite, rename=False)

        await self._call(rpath, upload)

    async def _cp_file(self, path1: str, path2: str, **kwargs: Any) -> None:
        (alias1, name1), (alias2, _) = self._split(path1), self._split(path2)
        if alias1 == alias2 and self._sync_storage(alias1) is self._sync_storage(alias2):
            await self._call(path2, lambda storage, name: storage.copy(name1, name, overwrite=True))
            return
        await self._pipe_file(path2, await self._cat_file(path1))  # across storages

    async def _rm_file(self, path: str, **kwargs: Any) -> None:
        await self._call(path, lambda storage, name: storage.delete(name))

    async def _rm(
        self,
        path: str | list[str],
        recursive: bool = False,
        batch_size: int | None = None,
        maxdepth: int | None = None,
        **kwargs: Any,
    ) -> None:
        paths = await self._expand_path(path, recursive=recursive, maxdepth=maxdepth)
        for each in sorted(paths, reverse=True):
            _, name = self._split(each)
            if not name:
                continue  # an alias's root is not a file, and emptying it is not one typo away
            try:
                info = await self._info(each)
            except FileNotFoundError:
                continue  # already gone: removing is idempotent
            if info["type"] == "file":
                await self._rm_file(each)

    async def _mkdir(self, path: str, create_parents: bool = True, **kwargs: Any) -> None:
        """Nothing to make: a directory exists while a file is stored under it."""

    async def _makedirs(self, path: str, exist_ok: bool = False) -> None:
        """Nothing to make: a directory exists while a file is stored under it."""

    # -- files -----------------------------------------------------------------------------------

    def _open(
        self,
        path: str,
        mode: str = "rb",
        block_size: int | None = None,
        autocommit: bool = True,
        cache_options: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> BucketryFile:
        if mode not in ("rb", "wb", "xb"):
            raise ValueError(
                f"bucketry files open as 'rb', 'wb' or 'xb', not {mode!r}: object stores cannot "
                "append to or update a file in place."
            )
        if mode == "xb" and self.exists(path):
            # Told at once, as open(name, "x") does; the save's own exclusive create still
            # decides at the end, should another writer take the name meanwhile.
            raise FileExistsError(f"{path!r} already exists.")
        return BucketryFile(
            self,
            path,
            mode,
            block_size=block_size or (WRITE_BLOCK if mode != "rb" else "default"),
            autocommit=autocommit,
            cache_type=kwargs.pop("cache_type", OneBlockCache.name),
            cache_options=cache_options,
            **kwargs,
        )

    def sign(self, path: str, expiration: int = 100, **kwargs: Any) -> str:
        """A signed URL for ``path`` (``method="PUT"`` for an upload) where the backend has them."""
        method = str(kwargs.get("method", "GET"))
        alias, name = self._split(path)
        return self._sync_storage(alias).run(
            lambda storage: storage.signed_url(name, expires=expiration, method=method)
        )


class BucketryFile(AbstractBufferedFile):  # type: ignore[misc]
    """Reads in ranges through fsspec's block cache; writes stream into one ``save`` as they
    are made, two blocks in flight at most, and the file appears, whole, on ``close()``."""

    fs: BucketryFileSystem

    def _fetch_range(self, start: int, end: int) -> bytes:
        data: bytes = self.fs.cat_file(self.path, start=start, end=end)
        return data

    def _initiate_upload(self) -> None:
        self._blocks: queue.Queue[bytes | None] = queue.Queue(maxsize=2)
        exclusive = self.mode == "xb"

        async def chunks() -> AsyncIterator[bytes]:
            while True:
                try:  # a bounded wait, so a cancelled save never leaves a thread blocked
                    block = await asyncio.to_thread(self._blocks.get, True, 1.0)
                except queue.Empty:
                    continue
                if block is None:
                    return
                yield block

        self._saving = _start_on(
            self.fs.loop,
            self.fs._call(
                self.path,
                lambda storage, name: storage.save(
                    name, chunks(), overwrite=not exclusive, rename=False
                ),
            ),
        )

    def _upload_chunk(self, final: bool = False) -> bool:
        if not hasattr(self, "_saving"):
            self._initiate_upload()
        block = self.buffer.getvalue()
        if block:
            self._hand_over(block)
        if final:
            self._hand_over(None)
            self._saving.result()
        return True

    def _hand_over(self, block: bytes | None) -> None:
        """Queue a block for the save, giving up if the save has already failed."""
        while True:
            if self._saving.done():
                self._saving.result()  # raises the save's error
                raise RuntimeError(f"{self.path!r}: the save ended before all of its content")
            try:
                self._blocks.put(block, timeout=0.1)
                return
            except queue.Full:
                continue

    def discard(self) -> None:
        """Abandon a write: the save is cancelled and, as every failed save, leaves nothing."""
        if hasattr(self, "_saving") and not self._saving.done():
            self._saving.cancel()
        self.closed = True

    def __exit__(self, kind: Any, exc: Any, traceback: Any) -> None:
        # fsspec's files commit what was written even when the block raised; a half-written
        # file is not what the writer meant to store.
        if kind is not None and self.mode != "rb":
            self.discard()
            return
        self.close()


def _start_on(loop: asyncio.AbstractEventLoop, coroutine: Awaitable[T]) -> Any:
    async def run() -> T:
        return await coroutine

    return asyncio.run_coroutine_threadsafe(run(), loop)


def _by_name(info: FileInfo) -> str:
    return info.name
