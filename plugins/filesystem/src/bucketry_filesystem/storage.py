"""``FileSystemStorage``: files under one directory, written atomically, never outside it.

Every write goes to a temp file beside its target, is fsynced, and only then appears under its
final name, by ``os.replace`` (overwrite) or ``os.link`` (create-if-absent: the link fails when the
name exists, which is what makes concurrent saves race-free). A crash therefore leaves either the
old file, the new file, or a recognisable temp file that :meth:`remove_temp_files` clears, never a
partial file under a real name. Blocking calls run in worker threads, off the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import mimetypes
import os
import shutil
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Self, TypeVar
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from bucketry import (
    AlreadyExistsError,
    Capability,
    ConfigurationError,
    FileInfo,
    NotFoundError,
    PermissionDeniedError,
    Storage,
    UnavailableError,
    UnsafeNameError,
    WriteOptions,
)
from bucketry.content import read_ahead
from bucketry.names import clean_name

__all__ = ["TEMP_PREFIX", "FileSystemStorage"]

SMALL_FILE = 256 * 1024
"""Content up to this size is written in one trip to a worker thread instead of one per step."""

TEMP_PREFIX = ".bucketry-tmp-"
"""Temp files start with this; names with such a segment are refused, and listing hides them."""

_T = TypeVar("_T")


def _translate(exc: OSError, name: str) -> Exception:
    """The one place where operating-system errors become bucketry errors."""
    if isinstance(exc, FileNotFoundError):
        return NotFoundError(f"{name!r} does not exist.")
    if isinstance(exc, (FileExistsError, IsADirectoryError, NotADirectoryError)):
        return AlreadyExistsError(
            f"{name!r} clashes with an existing file or directory of the same name."
        )
    if isinstance(exc, PermissionError):
        return PermissionDeniedError(
            f"The operating system refused access to {name!r}; check the permissions of the "
            "storage directory."
        )
    if exc.errno == errno.ENAMETOOLONG:
        return UnsafeNameError(f"{name!r} is too long for this file system.")
    return UnavailableError(f"File system error on {name!r}: {exc.strerror or exc}.")


def _fsync_directory(directory: str) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class FileSystemStorage(Storage):
    """Files under ``location``.

    ``url()`` gives ``base_url`` + the percent-encoded name, or a ``file://`` URI when no
    ``base_url`` is set. Content type is guessed from the name and user metadata is not stored,
    so those capabilities are declared unsupported. URL form: ``file:///var/uploads?base_url=/media/``.
    """

    backend_name = "filesystem"
    capabilities = frozenset(
        {Capability.CONDITIONAL_CREATE, Capability.PUBLIC_URL, Capability.SERVER_SIDE_COPY}
    )

    def __init__(
        self,
        *,
        location: str | os.PathLike[str],
        base_url: str | None = None,
        file_permissions_mode: int | None = 0o644,
        directory_permissions_mode: int | None = None,
        fsync: bool = True,
    ) -> None:
        if not location:
            raise ConfigurationError("The filesystem backend needs location=<directory>.")
        self.location = os.fspath(location)
        self.base_url = base_url
        self.file_permissions_mode = file_permissions_mode
        self.directory_permissions_mode = directory_permissions_mode
        self.fsync = fsync
        self._root = os.path.realpath(self.location)
        self._name_max = _name_max(self._root)

    @classmethod
    def from_url(cls, url: str) -> Self:
        parts = urlsplit(url)
        if parts.netloc not in ("", "localhost") or not parts.path:
            raise ConfigurationError(
                f"A filesystem URL names an absolute directory: file:///var/uploads, not {url!r}."
            )
        options = dict(parse_qsl(parts.query, keep_blank_values=True))
        return cls.from_options({"location": unquote(parts.path), **options})

    # -- paths -----------------------------------------------------------------------------------

    def _path(self, name: str) -> str:
        """The absolute path for ``name``, refusing anything that resolves outside the root."""
        for segment in name.split("/"):
            if segment.startswith(TEMP_PREFIX):
                raise UnsafeNameError(
                    f"Names starting with {TEMP_PREFIX!r} are reserved: {name!r}."
                )
            if len(os.fsencode(segment)) > self._name_max:
                raise UnsafeNameError(
                    f"{name!r} has a segment longer than this file system allows "
                    f"({self._name_max} bytes): {segment[:40]!r}...; use a shorter name."
                )
        path = os.path.join(self._root, name)
        if not self._inside_root(os.path.realpath(path)):
            raise UnsafeNameError(
                f"{name!r} resolves outside the storage root through a symbolic link; refused."
            )
        return path

    def _inside_root(self, real_path: str) -> bool:
        return real_path == self._root or real_path.startswith(self._root.rstrip(os.sep) + os.sep)

    async def _run(self, name: str, function: Callable[[], _T]) -> _T:
        try:
            return await asyncio.to_thread(function)
        except OSError as exc:
            raise _translate(exc, name) from exc

    # -- writing ---------------------------------------------------------------------------------

    async def _write(self, name: str, chunks: AsyncIterator[bytes], options: WriteOptions) -> str:
        content = await read_ahead(chunks, SMALL_FILE)
        if isinstance(content, bytes):
            # Small content is in hand: the whole atomic write is one trip to a worker thread.
            return await self._run(name, lambda: self._write_small(name, content, options))
        path = await self._run(name, lambda: self._path(name))
        fd, temp = await self._run(name, lambda: self._open_temp(os.path.dirname(path)))
        try:
            with os.fdopen(fd, "wb") as file:
                await self._write_overlapped(name, file, content)
                await self._run(name, lambda: self._finish_file(file))
            return await self._run(name, lambda: self._commit(temp, name, options))
        except BaseException:
            # Runs on cancellation too; unlink and rmdir are quick syscalls, so done inline.
            self._discard_temp(temp)
            raise

    async def _write_overlapped(self, name: str, file: Any, chunks: AsyncIterator[bytes]) -> None:
        """Write each chunk in a worker thread while the caller produces the next one.

        Awaiting each write before asking for the next chunk leaves the disk idle while the
        producer works (a request body arriving, a hash being taken) and the producer idle while
        the disk works; overlapping them hides the cheaper of the two. Memory stays two chunks.
        The chunks are immutable ``bytes`` (``ContentSource`` copies mutable ones), so running
        ahead cannot change what is being written. If the producer fails or the save is
        cancelled, closing the buffered file waits for the write in flight (the file holds a
        lock while writing), and a write not yet started finds the file closed.
        """
        loop = asyncio.get_running_loop()
        writing: asyncio.Future[int] | None = None
        try:
            async for chunk in chunks:
                if writing is not None:
                    await writing
                writing = loop.run_in_executor(None, file.write, chunk)
            if writing is not None:
                await writing
        except OSError as exc:
            raise _translate(exc, name) from exc
        finally:
            if writing is not None and not writing.done():
                # Abandoned: its outcome no longer matters, but must not be logged as unread.
                writing.add_done_callback(lambda done: done.cancelled() or done.exception())

    def _write_small(self, name: str, data: bytes, options: WriteOptions) -> str:
        fd, temp = self._open_temp(os.path.dirname(self._path(name)))
        try:
            with os.fdopen(fd, "wb") as file:
                file.write(data)
                self._finish_file(file)
            return self._commit(temp, name, options)
        except BaseException:
            self._discard_temp(temp)
            raise

    def _open_temp(self, directory: str) -> tuple[int, str]:
        for _ in range(3):
            self._makedirs(directory)
            try:
                return _mkstemp(directory)
            except FileNotFoundError:
                continue  # a concurrent delete pruned the empty directory; make it again
        return _mkstemp(directory)

    def _makedirs(self, directory: str) -> None:
        if self.directory_permissions_mode is None:
            os.makedirs(directory, exist_ok=True)
            return
        # Django's rule: the mode is applied exactly, regardless of the umask.
        old_umask = os.umask(0)
        try:
            os.makedirs(directory, self.directory_permissions_mode, exist_ok=True)
        finally:
            os.umask(old_umask)

    def _discard_temp(self, temp: str) -> None:
        """After a failed write: remove its temp file and any directory left empty by it."""
        with contextlib.suppress(OSError):
            os.unlink(temp)
        self._prune(os.path.dirname(temp))

    def _finish_file(self, file: Any) -> None:
        """Flush what the file object still buffers, set the mode, and make it durable."""
        file.flush()
        if self.file_permissions_mode is not None:
            os.fchmod(file.fileno(), self.file_permissions_mode)
        if self.fsync:
            os.fsync(file.fileno())

    def _commit(self, temp: str, name: str, options: WriteOptions) -> str:
        while True:
            path = self._path(name)
            if options.overwrite:
                os.replace(temp, path)  # over a directory: rename(2) fails with EISDIR
                break
            try:
                os.link(temp, path)
            except FileExistsError:
                if options.retarget is None:
                    raise AlreadyExistsError(f"{name!r} already exists.") from None
                name = options.retarget(name)
                continue
            os.unlink(temp)
            break
        if self.fsync:
            _fsync_directory(os.path.dirname(path))
        return name

    # -- reading ---------------------------------------------------------------------------------

    async def _stream(
        self, name: str, start: int, end: int | None, chunk_size: int
    ) -> AsyncIterator[bytes]:
        def open_at_start() -> tuple[Any, bytes]:
            path = self._path(name)
            try:
                opened = open(path, "rb")  # noqa: SIM115 (closed below, or here once all is read)
            except IsADirectoryError:
                raise FileNotFoundError(errno.ENOENT, "a directory, not a file", name) from None
            try:
                size = os.fstat(opened.fileno()).st_size
                last = size if end is None else min(size, end)
                opened.seek(start)
                # A small file (or range) is read, and closed, on the same trip to the worker
                # thread; the read is sized to what is there, not to the chunk size.
                first = opened.read(max(0, min(chunk_size, last - start)))
                if start + len(first) >= last:
                    opened.close()
            except BaseException:
                opened.close()
                raise
            return opened, first

        file, first = await self._run(name, open_at_start)
        try:
            if first:
                yield first
            start += len(first)
            if file.closed or (end is not None and start >= end):
                return
            remaining = None if end is None else max(0, end - start)  # after the first read
            while remaining is None or remaining > 0:
                size = chunk_size if remaining is None else min(chunk_size, remaining)
                chunk = await self._run(name, lambda size=size: file.read(size))  # type: ignore[misc]
                if not chunk:
                    break
                if remaining is not None:
                    remaining -= len(chunk)
                yield chunk
        finally:
            file.close()

    async def _stat(self, name: str) -> FileInfo:
        def stat() -> FileInfo:
            result = os.stat(self._path(name))
            if not os.path.isfile(self._path(name)):
                raise FileNotFoundError(errno.ENOENT, "not a file", name)
            return _info(name, result)

        return await self._run(name, stat)

    async def _exists(self, name: str) -> bool:
        return await self._run(name, lambda: os.path.isfile(self._path(name)))

    # -- deleting, copying, moving ---------------------------------------------------------------

    async def _delete(self, name: str) -> None:
        def delete() -> None:
            path = self._path(name)
            try:
                os.unlink(path)
            except (FileNotFoundError, IsADirectoryError):
                return
            self._prune(os.path.dirname(path))

        await self._run(name, delete)

    def _prune(self, directory: str) -> None:
        """Remove directories left empty, as object stores have no empty directories either."""
        while directory != self._root and self._inside_root(directory):
            try:
                os.rmdir(directory)
            except OSError:
                return
            directory = os.path.dirname(directory)

    async def _copy(self, src: str, dst: str, *, overwrite: bool) -> None:
        def copy() -> None:
            source = self._path(src)
            if not os.path.isfile(source):
                raise FileNotFoundError(errno.ENOENT, "no such file", src)
            fd, temp = self._open_temp(os.path.dirname(self._path(dst)))
            try:
                with os.fdopen(fd, "wb") as target, open(source, "rb") as origin:
                    shutil.copyfileobj(origin, target)  # uses the kernel's copy where it can
                    self._finish_file(target)
                self._commit(temp, dst, WriteOptions(overwrite=overwrite))
            except BaseException:
                self._discard_temp(temp)
                raise

        await self._run(src, copy)

    async def _move(self, src: str, dst: str, *, overwrite: bool) -> None:
        def move() -> None:
            source, target = self._path(src), self._path(dst)
            if not os.path.isfile(source):
                raise FileNotFoundError(errno.ENOENT, "no such file", src)
            self._makedirs(os.path.dirname(target))
            if overwrite:
                os.replace(source, target)
            else:
                try:
                    os.link(source, target)
                except FileExistsError:
                    raise AlreadyExistsError(
                        f"Cannot move to {dst!r}: it already exists."
                    ) from None
                os.unlink(source)
            self._prune(os.path.dirname(source))

        await self._run(src, move)

    # -- listing ---------------------------------------------------------------------------------

    async def _scan(self, prefix: str, recursive: bool) -> AsyncIterator[FileInfo | str]:
        pending = [prefix]
        while pending:
            directory = pending.pop()
            entries = await self._run(directory or ".", lambda d=directory: self._entries(d))  # type: ignore[misc]
            for entry_name, is_dir, result in entries:
                if is_dir:
                    if recursive:
                        pending.append(entry_name + "/")
                    else:
                        yield entry_name + "/"
                elif result is not None:
                    yield _info(entry_name, result)

    def _entries(self, directory: str) -> list[tuple[str, bool, os.stat_result | None]]:
        """One directory's usable entries: clean names, no temp files, nothing outside the root."""
        path = os.path.join(self._root, directory)
        if not self._inside_root(os.path.realpath(path)):
            return []
        entries: list[tuple[str, bool, os.stat_result | None]] = []
        try:
            iterator: Iterator[os.DirEntry[str]] = os.scandir(path)
        except (FileNotFoundError, NotADirectoryError):
            return []
        with iterator as scan:  # type: ignore[attr-defined]
            for entry in scan:
                name = directory + entry.name
                if entry.name.startswith(TEMP_PREFIX):
                    continue
                try:
                    if clean_name(name) != name:
                        continue  # not a name bucketry could ask for; leave it alone
                    if entry.is_symlink():
                        real = os.path.realpath(entry.path)
                        if not self._inside_root(real):
                            continue
                        if os.path.isdir(real):
                            continue  # never descend through links: no loops, no escapes
                    if entry.is_dir():
                        entries.append((name, True, None))
                    elif entry.is_file():
                        entries.append((name, False, entry.stat()))
                except (UnsafeNameError, OSError):
                    continue
        entries.sort(key=lambda item: item[0], reverse=True)
        return entries

    # -- addresses and upkeep --------------------------------------------------------------------

    def _url(self, name: str) -> str:
        if self.base_url is None:
            return Path(self._root, name).as_uri()
        return self.base_url + quote(name)

    def path(self, name: str) -> str:
        """The local path of ``name`` (Django's ``Storage.path``), checked to be inside the root."""
        return self._path(clean_name(name))

    async def remove_temp_files(self, older_than: float = 3600.0) -> int:
        """Delete temp files left by crashed writers; return how many were removed.

        Only files named ``.bucketry-tmp-*`` and untouched for ``older_than`` seconds are removed,
        so writes in progress are left alone. Call it at start-up or from a periodic job.
        """

        def sweep() -> int:
            removed = 0
            cutoff = time.time() - older_than
            for directory, _, files in os.walk(self._root):
                for filename in files:
                    if not filename.startswith(TEMP_PREFIX):
                        continue
                    path = os.path.join(directory, filename)
                    try:
                        if os.lstat(path).st_mtime <= cutoff:
                            os.unlink(path)
                            removed += 1
                    except FileNotFoundError:
                        continue
            return removed

        return await self._run(".", sweep)


def _name_max(root: str) -> int:
    """The longest file name, in bytes, the file system under ``root`` takes (255 on most).

    Checked before anything touches the disk, so a too-long name creates no directories."""
    directory = root
    while True:
        try:
            return os.pathconf(directory, "PC_NAME_MAX")
        except FileNotFoundError:
            parent = os.path.dirname(directory)
            if parent == directory:
                return 255
            directory = parent
        except (OSError, ValueError):
            return 255


def _mkstemp(directory: str) -> tuple[int, str]:
    return tempfile.mkstemp(prefix=TEMP_PREFIX, dir=directory)


def _info(name: str, result: os.stat_result) -> FileInfo:
    return FileInfo(
        name=name,
        size=result.st_size,
        etag=f"{result.st_mtime_ns:x}-{result.st_size:x}",
        content_type=mimetypes.guess_type(name)[0],
        last_modified=datetime.fromtimestamp(result.st_mtime, UTC),
    )
