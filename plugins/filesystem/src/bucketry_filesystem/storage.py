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
import functools
import itertools
import mimetypes
import os
import secrets
import shutil
import stat
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Self, TypeVar
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from bucketry import (
    AlreadyExistsError,
    BucketryError,
    Capability,
    ConfigurationError,
    FileInfo,
    NotFoundError,
    PermissionDeniedError,
    ReadVersion,
    Storage,
    UnavailableError,
    UnsafeNameError,
    WriteOptions,
)
from bucketry.blocking import blocking_allowed
from bucketry.content import read_ahead
from bucketry.names import RESERVED_PREFIX, clean_name
from bucketry.urls import url_shape
from bucketry_filesystem.beneath import DIRECTORY_FLAGS, Escape, Resolved, resolve

__all__ = ["TEMP_PREFIX", "FileSystemStorage"]

SMALL_FILE = 256 * 1024
"""Content up to this size is written in one trip to a worker thread instead of one per step."""

TEMP_PREFIX = RESERVED_PREFIX
"""Temp files start with this; the core's name rule refuses names with such a segment on every
backend, and listing hides them."""

WRITE_BATCH = 256 * 1024
"""Streamed content is handed to the worker thread in batches of at least this many bytes."""

LIST_PAGE = 1000
"""Directory entries read per trip to a worker thread while listing."""

_TEMP_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC


class _TempNames:
    """Names for temp files: a random tag for this process and a counter.

    Uniqueness comes from ``O_EXCL``, not from the name (a taken one is passed over), so a name
    does not need fresh randomness from the kernel on every save; the tag is drawn again in a
    forked child, which would otherwise count through the parent's names.
    """

    def __init__(self) -> None:
        self._reseed()
        os.register_at_fork(after_in_child=self._reseed)

    def _reseed(self) -> None:
        self._tag, self._counter = secrets.token_hex(6), itertools.count()

    def next(self) -> str:
        return f"{TEMP_PREFIX}{self._tag}-{next(self._counter):x}"


_temp_names = _TempNames()


class _SharedRoot:
    """The root's descriptor, shared by the operations walking from it instead of duplicated for
    each (two system calls an operation).

    Each operation holds it from ``acquire`` to ``release``. A descriptor that stops being handed
    out (the root was removed, or the storage closed) is closed when its last user lets go, so
    its number can never be reused under an operation still walking from it.
    """

    def __init__(self, open_root: Callable[[bool], int]) -> None:
        self._open_root = open_root
        self._lock = threading.Lock()
        self._current: int | None = None
        self._users: dict[int, int] = {}

    def acquire(self, *, make: bool) -> int:
        """The live root's descriptor, opened (with ``make``: the root made) if need be. A root
        removed behind the storage's back is noticed here and opened again.

        The check that it is still linked is a system call, made outside the lock: it lets go
        of the GIL, and every other worker thread acquiring meanwhile would wait on the lock
        (a context switch each, the largest cost of a small save on a fast disk).
        """
        while True:
            with self._lock:
                fd = self._current
                if fd is None:
                    fd = self._current = self._open_root(make)
                    self._users[fd] = 1
                    return fd
                self._users[fd] += 1  # held: it cannot be closed while it is checked
            if _alive(fd):
                return fd
            with self._lock:
                if self._current == fd:
                    self._retire(fd)  # held by this call: it closes when let go below
            self.release(fd)

    def release(self, fd: int) -> None:
        with self._lock:
            self._users[fd] -= 1
            if not self._users[fd] and fd != self._current:
                del self._users[fd]
                os.close(fd)

    def retire(self) -> None:
        """Hand out no more of the current descriptor; it closes once nobody holds it."""
        with self._lock:
            if self._current is not None:
                self._retire(self._current)

    def _retire(self, fd: int) -> None:
        self._current = None
        if not self._users[fd]:
            del self._users[fd]
            os.close(fd)


def _alive(directory_fd: int) -> bool:
    """Whether the directory is still linked into the tree (a removed one has no links)."""
    try:
        return os.fstat(directory_fd).st_nlink > 0
    except OSError:
        return False


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
    if exc.errno == errno.ELOOP:
        # Permanent, unlike the errors below that are worth another try.
        return UnsafeNameError(
            f"{name!r} cannot be resolved: its symbolic links form a loop or a chain longer than "
            "40; fix the links in the storage directory."
        )
    return UnavailableError(f"File system error on {name!r}: {exc.strerror or exc}.")


class FileSystemStorage(Storage):
    """Files under ``location``.

    ``url()`` gives ``base_url`` + the percent-encoded name, or a ``file://`` URI when no
    ``base_url`` is set. Content type is guessed from the name and user metadata is not stored,
    so those capabilities are declared unsupported. URL form: ``file:///var/uploads?base_url=/media/``.
    """

    backend_name = "filesystem"
    loop_bound = False  # no client: the sync API runs it on the caller's thread
    capabilities = frozenset(
        {
            Capability.CONDITIONAL_CREATE,
            Capability.PINNED_RESUME,
            Capability.PUBLIC_URL,
            Capability.SERVER_SIDE_COPY,
        }
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
        # As Django's FileSystemStorage: a base URL always ends in "/", so names join to it.
        self.base_url = base_url if not base_url or base_url.endswith("/") else base_url + "/"
        self.file_permissions_mode = file_permissions_mode
        self.directory_permissions_mode = directory_permissions_mode
        self.fsync = fsync
        self._root_path = os.path.realpath(self.location)
        self._root = _SharedRoot(self._open_root)
        self._name_max = _name_max(self._root_path)

    @classmethod
    def from_url(cls, url: str) -> Self:
        parts = urlsplit(url)
        if parts.netloc not in ("", "localhost") or not parts.path:
            raise ConfigurationError(
                "A filesystem URL names an absolute directory: file:///var/uploads, not "
                f"{url_shape(url)!r}."
            )
        options = dict(parse_qsl(parts.query, keep_blank_values=True))
        return cls.from_options({"location": unquote(parts.path), **options})

    # -- paths -----------------------------------------------------------------------------------

    def _check_segments(self, name: str) -> None:
        # The core's rule already refused the reserved prefix and segments over 255 bytes; a
        # file system may take fewer (eCryptfs: 143).
        for segment in name.split("/"):
            if len(os.fsencode(segment)) > self._name_max:
                raise UnsafeNameError(
                    f"{name!r} has a segment longer than this file system allows "
                    f"({self._name_max} bytes): {segment[:40]!r}...; use a shorter name."
                )

    def _path(self, name: str) -> str:
        """The absolute path for ``name``, for callers that need a path string (Django's
        ``path()``); the storage's own operations never use it (see :mod:`.beneath`)."""
        self._check_segments(name)
        path = os.path.join(self._root_path, name)
        if not self._inside_root(os.path.realpath(path)):
            raise UnsafeNameError(
                f"{name!r} resolves outside the storage root through a symbolic link; refused."
            )
        return path

    def _inside_root(self, real_path: str) -> bool:
        return real_path == self._root_path or real_path.startswith(
            self._root_path.rstrip(os.sep) + os.sep
        )

    def _at(
        self, name: str, *, create: bool = False, follow_final: bool = True, directory: bool = False
    ) -> Resolved:
        """Where ``name`` lives, as descriptors held open: close it with :meth:`_release`."""
        if not directory:
            self._check_segments(name)
        root_fd = self._root.acquire(make=create)
        try:
            return resolve(
                self._root_path,
                root_fd,
                name,
                make_directory=self._mkdir if create else None,
                follow_final=follow_final,
                directory=directory,
            )
        except Escape:
            self._root.release(root_fd)
            raise UnsafeNameError(
                f"{name!r} resolves outside the storage root through a symbolic link; refused."
            ) from None
        except NotADirectoryError as exc:
            self._root.release(root_fd)
            if create:
                raise  # a file stands where the new name needs a directory: a clash
            # A file on the way: nothing can live under it, so the name is missing, as on an
            # object store (and not a clash, which only a write can meet).
            raise FileNotFoundError(errno.ENOENT, "a file stands on the way", name) from exc
        except BaseException:
            self._root.release(root_fd)
            raise

    def _open_root(self, make: bool) -> int:
        if make:
            self._makedirs(self._root_path)
        return os.open(self._root_path, DIRECTORY_FLAGS & ~os.O_NOFOLLOW)

    async def _disconnect(self) -> None:
        self._root.retire()

    def _release(self, at: Resolved) -> None:
        at.close()
        self._root.release(at.root_fd)

    @contextlib.contextmanager
    def _holding(self, name: str, **options: bool) -> Iterator[Resolved]:
        at = self._at(name, **options)
        try:
            yield at
        finally:
            self._release(at)

    async def _run(self, name: str, function: Callable[[], _T]) -> _T:
        """A blocking call, in a worker thread, or right here when this thread may block (a
        :class:`~bucketry.sync.SyncStorage` call runs on the caller's thread)."""
        try:
            if blocking_allowed():
                return function()
            return await asyncio.to_thread(function)
        except OSError as exc:
            raise _translate(exc, name) from exc

    # -- writing ---------------------------------------------------------------------------------

    async def _write(self, name: str, chunks: AsyncIterator[bytes], options: WriteOptions) -> str:
        content = await read_ahead(chunks, SMALL_FILE)
        if isinstance(content, bytes):
            # Small content is in hand: the whole atomic write is one trip to a worker thread.
            return await self._run(name, lambda: self._write_small(name, content, options))
        at, fd, temp = await self._run(name, lambda: self._open_temp(name))
        try:
            with os.fdopen(fd, "wb") as file:
                await self._write_overlapped(name, file, content)
                await self._run(name, lambda: self._finish_file(file))
            return await self._run(name, lambda: self._commit(at, temp, name, options))
        except BaseException:
            # Runs on cancellation too; unlink and rmdir are quick syscalls, so done inline.
            self._discard_temp(at, temp)
            raise
        finally:
            self._release(at)

    async def _write_overlapped(self, name: str, file: Any, chunks: AsyncIterator[bytes]) -> None:
        """Write the content in a worker thread while the caller produces what comes next.

        Awaiting each write before asking for the next chunk leaves the disk idle while the
        producer works (a request body arriving, a hash being taken) and the producer idle while
        the disk works; overlapping them hides the cheaper of the two. Small chunks (a CSV
        written line by line) are gathered up to :data:`WRITE_BATCH` first, so that a trip to
        the worker thread carries a batch, not eight bytes. Memory stays two batches. The chunks
        are immutable ``bytes`` (``ContentSource`` copies mutable ones), so running ahead cannot
        change what is being written. If the producer fails or the save is cancelled, closing
        the buffered file waits for the write in flight (the file holds a lock while writing),
        and a write not yet started finds the file closed.
        """
        loop = asyncio.get_running_loop()
        writing: asyncio.Future[int] | None = None
        batch: list[bytes] = []
        batched = 0
        try:
            async for chunk in chunks:
                batch.append(chunk)
                batched += len(chunk)
                if batched < WRITE_BATCH:
                    continue
                if writing is not None:
                    await writing
                data = batch[0] if len(batch) == 1 else b"".join(batch)
                batch, batched = [], 0
                writing = loop.run_in_executor(None, file.write, data)
            if writing is not None:
                await writing
            if batch:
                await loop.run_in_executor(None, file.write, b"".join(batch))
        except OSError as exc:
            raise _translate(exc, name) from exc
        finally:
            if writing is not None and not writing.done():
                # Abandoned: its outcome no longer matters, but must not be logged as unread.
                writing.add_done_callback(lambda done: done.cancelled() or done.exception())

    def _write_small(self, name: str, data: bytes, options: WriteOptions) -> str:
        at, fd, temp = self._open_temp(name)
        try:
            try:  # on the descriptor: a file object would cost three system calls more
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view) :]
                self._finish_fd(fd)
            finally:
                os.close(fd)
            return self._commit(at, temp, name, options)
        except BaseException:
            self._discard_temp(at, temp)
            raise
        finally:
            self._release(at)

    def _open_temp(self, name: str) -> tuple[Resolved, int, str]:
        """The directory of ``name`` (made if missing) and a new temp file in it."""
        for attempt in range(3):
            at = self._at(name, create=True)
            try:
                for taken in range(16):
                    temp = _temp_names.next()
                    try:
                        fd = os.open(temp, _TEMP_FLAGS, 0o600, dir_fd=at.fd)
                        break
                    except FileExistsError:  # left by a crash, or put there: take the next
                        if taken == 15:
                            raise
            except FileNotFoundError:
                self._release(at)
                if attempt == 2:
                    raise
                continue  # a concurrent delete pruned the empty directory; make it again
            except BaseException:
                self._release(at)
                raise
            return at, fd, temp
        raise AssertionError("unreachable")  # pragma: no cover

    def _mkdir(self, fd: int, segment: str) -> None:
        self._with_directory_mode(lambda mode: os.mkdir(segment, mode, dir_fd=fd))

    def _makedirs(self, directory: str) -> None:
        """The root itself, which is trusted (it is configuration, not a name)."""
        if not os.path.isdir(directory):
            self._with_directory_mode(lambda mode: os.makedirs(directory, mode, exist_ok=True))

    def _with_directory_mode(self, make: Callable[[int], None]) -> None:
        if self.directory_permissions_mode is None:
            make(0o777)  # the umask applies
            return
        # Django's rule: the mode is applied exactly, regardless of the umask.
        old_umask = os.umask(0)
        try:
            make(self.directory_permissions_mode)
        finally:
            os.umask(old_umask)

    def _discard_temp(self, at: Resolved, temp: str) -> None:
        """After a failed write: remove its temp file and any directory left empty by it."""
        with contextlib.suppress(OSError):
            os.unlink(temp, dir_fd=at.fd)
        with contextlib.suppress(OSError):
            at.prune()

    def _finish_file(self, file: Any) -> None:
        """Flush what the file object still buffers, set the mode, and make it durable."""
        file.flush()
        self._finish_fd(file.fileno())

    def _finish_fd(self, fd: int) -> None:
        if self.file_permissions_mode is not None:
            os.fchmod(fd, self.file_permissions_mode)
        if self.fsync:
            os.fsync(fd)

    def _commit(self, at: Resolved, temp: str, name: str, options: WriteOptions) -> str:
        """Give the temp file in ``at`` its final name; a taken name is retargeted in place."""
        target = at
        try:
            while True:
                if options.overwrite:
                    # Over a directory: rename(2) fails with EISDIR.
                    os.replace(temp, target.entry, src_dir_fd=at.fd, dst_dir_fd=target.fd)
                    break
                try:
                    os.link(
                        temp,
                        target.entry,
                        src_dir_fd=at.fd,
                        dst_dir_fd=target.fd,
                        follow_symlinks=False,
                    )
                except FileExistsError:
                    if options.retarget is None:
                        raise AlreadyExistsError(f"{name!r} already exists.") from None
                    name = options.retarget(name)
                    if target is not at:
                        self._release(target)
                    target = self._at(name, create=True)
                    continue
                os.unlink(temp, dir_fd=at.fd)
                break
            if self.fsync:
                os.fsync(target.fd)
        finally:
            if target is not at:
                self._release(target)
        return name

    # -- reading ---------------------------------------------------------------------------------

    def _open_file(self, name: str) -> Any:
        """``name`` opened for reading, as a binary file object; a directory is not a file."""
        fd, _ = self._open_descriptor(name)
        try:
            return open(fd, "rb")  # the caller closes it
        except BaseException:
            os.close(fd)
            raise

    def _open_descriptor(self, name: str) -> tuple[int, os.stat_result]:
        """``name`` opened for reading, and its status; a directory is not a file.

        The last segment is opened with ``O_NOFOLLOW`` without looking at it first; only when it
        turns out to be a link (``ELOOP``) is the name walked again, following it.
        """
        with self._holding(name, follow_final=False) as at:
            try:
                opened: int | None = os.open(at.entry, _READ_FLAGS, dir_fd=at.fd)
            except OSError as exc:
                if exc.errno != errno.ELOOP:
                    raise
                opened = None
        if opened is None:
            with self._holding(name) as at:
                opened = os.open(at.entry, _READ_FLAGS, dir_fd=at.fd)
        fd = opened
        try:
            status = os.fstat(fd)
            if not stat.S_ISREG(status.st_mode):
                raise FileNotFoundError(errno.ENOENT, "not a file", name)
        except BaseException:
            os.close(fd)
            raise
        return fd, status

    async def _stream(
        self,
        name: str,
        start: int,
        end: int | None,
        chunk_size: int,
        version: ReadVersion,
    ) -> AsyncIterator[bytes]:
        def open_at_start() -> tuple[Any, bytes]:
            fd, status = self._open_descriptor(name)
            try:
                # Every save renames a new file into place: a replaced file is another inode.
                version.pin(
                    f"{status.st_dev}:{status.st_ino}:{status.st_size}:{status.st_mtime_ns}"
                )
                last = status.st_size if end is None else min(status.st_size, end)
                # A small file (or range) is read, and closed, on the same trip to the worker
                # thread; the read is sized to what is there, not to the chunk size, and made
                # on the descriptor (a file object costs three system calls more to set up).
                first = os.pread(fd, max(0, min(chunk_size, last - start)), start)
                if start + len(first) >= last:
                    os.close(fd)
                    return None, first
                # More to come: a buffered file, whose close waits for a read in flight.
                opened = open(fd, "rb")  # noqa: SIM115 (closed by the generator below)
            except BaseException:
                os.close(fd)
                raise
            try:
                opened.seek(start + len(first))
            except BaseException:
                opened.close()
                raise
            return opened, first

        file, first = await self._run(name, open_at_start)
        try:
            if first:
                yield first
            start += len(first)
            if file is None or (end is not None and start >= end):
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
            if file is not None:
                file.close()

    def _stat_file(self, name: str) -> os.stat_result:
        with self._holding(name) as at:
            result = os.stat(at.entry, dir_fd=at.fd, follow_symlinks=False)
        if not stat.S_ISREG(result.st_mode):
            raise FileNotFoundError(errno.ENOENT, "not a file", name)
        return result

    async def _stat(self, name: str) -> FileInfo:
        return await self._run(name, lambda: _info(name, self._stat_file(name)))

    async def _exists(self, name: str) -> bool:
        def exists() -> bool:
            try:
                self._stat_file(name)
            except (FileNotFoundError, NotADirectoryError):
                return False
            return True

        return await self._run(name, exists)

    # -- deleting, copying, moving ---------------------------------------------------------------

    async def _delete(self, name: str) -> None:
        def delete() -> None:
            try:
                at = self._at(name, follow_final=False)
            except (FileNotFoundError, NotADirectoryError):
                return
            try:
                try:
                    os.unlink(at.entry, dir_fd=at.fd)
                except (FileNotFoundError, IsADirectoryError, PermissionError) as exc:
                    if isinstance(exc, PermissionError) and not _is_directory(at):
                        raise
                    return
                with contextlib.suppress(OSError):
                    at.prune()
            finally:
                self._release(at)

        await self._run(name, delete)

    async def _copy(self, src: str, dst: str, *, overwrite: bool) -> None:
        def copy() -> None:
            with self._open_file(src) as origin:
                at, fd, temp = self._open_temp(dst)
                try:
                    with os.fdopen(fd, "wb") as target:
                        shutil.copyfileobj(origin, target)  # the kernel's copy where it can
                        self._finish_file(target)
                    self._commit(at, temp, dst, WriteOptions(overwrite=overwrite))
                except BaseException:
                    self._discard_temp(at, temp)
                    raise
                finally:
                    self._release(at)

        await self._run(src, copy)

    async def _move(self, src: str, dst: str, *, overwrite: bool) -> None:
        def move() -> None:
            self._stat_file(src)
            with self._holding(src) as source, self._holding(dst, create=True) as target:
                if overwrite:
                    os.replace(
                        source.entry, target.entry, src_dir_fd=source.fd, dst_dir_fd=target.fd
                    )
                else:
                    try:
                        os.link(
                            source.entry,
                            target.entry,
                            src_dir_fd=source.fd,
                            dst_dir_fd=target.fd,
                            follow_symlinks=False,
                        )
                    except FileExistsError:
                        raise AlreadyExistsError(
                            f"Cannot move to {dst!r}: it already exists."
                        ) from None
                    os.unlink(source.entry, dir_fd=source.fd)
                with contextlib.suppress(OSError):
                    source.prune()

        await self._run(src, move)

    # -- listing ---------------------------------------------------------------------------------

    async def _scan(self, prefix: str, recursive: bool) -> AsyncIterator[FileInfo | str]:
        """Directory by directory, each read in pages of :data:`LIST_PAGE` entries: memory
        holds one page and the names of the directories still to visit, whatever their size."""
        pending = [prefix]
        while pending:
            directory = pending.pop()
            try:
                at = await self._run(directory or ".", lambda d=directory: self._open_dir(d))  # type: ignore[misc]
            except (NotFoundError, UnsafeNameError, AlreadyExistsError):
                continue
            try:
                scan = os.scandir(at.fd)
                try:
                    while True:
                        page = await self._run(
                            directory or ".",
                            lambda: self._page(at, directory, scan),  # noqa: B023 (awaited here)
                        )
                        if not page:
                            break
                        for entry_name, is_dir, result in page:
                            if is_dir:
                                if recursive:
                                    pending.append(entry_name + "/")
                                else:
                                    yield entry_name + "/"
                            elif result is not None:
                                yield _info(entry_name, result)
                finally:
                    scan.close()
            finally:
                self._release(at)

    def _open_dir(self, directory: str) -> Resolved:
        try:
            return self._at(directory, directory=True)
        except NotADirectoryError:
            raise FileNotFoundError(errno.ENOENT, "not a directory", directory) from None

    def _page(
        self, at: Resolved, directory: str, scan: Iterator[os.DirEntry[str]]
    ) -> list[tuple[str, bool, os.stat_result | None]]:
        """The next page of a directory's usable entries: clean names, no temp files, nothing
        outside the root."""
        entries: list[tuple[str, bool, os.stat_result | None]] = []
        for entry in scan:
            name = directory + entry.name
            if entry.name.startswith(TEMP_PREFIX):
                continue
            try:
                if clean_name(name) != name:
                    continue  # not a name bucketry could ask for; leave it alone
                if entry.is_symlink():
                    # Never descend through links (no loops, no escapes); a link to a file
                    # inside the root is listed as that file.
                    entries.append((name, False, self._stat_file(name)))
                elif entry.is_dir(follow_symlinks=False):
                    entries.append((name, True, None))
                elif entry.is_file(follow_symlinks=False):
                    entries.append((name, False, entry.stat(follow_symlinks=False)))
            except (BucketryError, OSError):
                continue
            if len(entries) >= LIST_PAGE:
                break
        return entries

    # -- addresses and upkeep --------------------------------------------------------------------

    def _url(self, name: str) -> str:
        if self.base_url is None:
            return Path(self._root_path, name).as_uri()
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
            for directory, _, files in os.walk(self._root_path):
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


def _is_directory(at: Resolved) -> bool:
    try:
        return stat.S_ISDIR(os.stat(at.entry, dir_fd=at.fd, follow_symlinks=False).st_mode)
    except OSError:
        return False


def _info(name: str, result: os.stat_result) -> FileInfo:
    return FileInfo(
        name=name,
        size=result.st_size,
        etag=f"{result.st_mtime_ns:x}-{result.st_size:x}",
        content_type=_guess_type(name),
        last_modified=datetime.fromtimestamp(result.st_mtime, UTC),
    )


def _guess_type(name: str) -> str | None:
    """``mimetypes.guess_type(name)[0]``, looked up once per suffix: a listing asks it for every
    file, and the answer depends on nothing but the suffixes."""
    filename = name.rpartition("/")[2]
    dot = filename.find(".", 1)  # a leading dot starts a hidden name, not a suffix
    return None if dot < 0 else _type_of_suffixes(filename[dot:])


@functools.lru_cache(maxsize=512)
def _type_of_suffixes(suffixes: str) -> str | None:
    return mimetypes.guess_type("file" + suffixes)[0]
