"""Django ``File`` objects over a bucketry storage: read in ranges, written through a spool."""

from __future__ import annotations

import io
import tempfile
from collections.abc import Callable
from typing import Any

from django.core.files.base import File

from bucketry.content import SeekableReader

__all__ = ["RangeReader", "SpooledWriteFile", "StreamingFile"]

READ_AHEAD = 1024 * 1024


class RangeReader(SeekableReader):
    """A seekable, read-only file whose reads become ranged reads of the storage.

    ``fetch(start, end)`` returns those bytes of the file; each call is one request, of at least
    ``read_ahead`` bytes, so ``read(1)`` loops do not become a request per byte.
    """

    def __init__(
        self,
        size: int,
        fetch: Callable[[int, int], bytes],
        read_ahead: int = READ_AHEAD,
        head: bytes = b"",
    ) -> None:
        super().__init__(size)
        self._fetch = fetch
        self._read_ahead = read_ahead
        self._buffer = head  # bytes from 0 already in hand (a small file read with its stat)
        self._buffer_start = 0

    def readinto(self, buffer: Any) -> int:
        target = memoryview(buffer).cast("B")
        if self._position >= self._size or not len(target):
            return 0
        offset = self._position - self._buffer_start
        if not 0 <= offset < len(self._buffer):
            wanted = max(len(target), self._read_ahead)
            end = min(self._size, self._position + wanted)
            self._buffer = self._fetch(self._position, end)
            self._buffer_start, offset = self._position, 0
            if not self._buffer:
                return 0
        count = min(len(target), len(self._buffer) - offset)
        target[:count] = self._buffer[offset : offset + count]
        self._position += count
        return count


class StreamingFile(File):  # type: ignore[misc]
    """What ``storage.open(name)`` returns for reading: reads stream from the backend as they
    happen; ``"r"`` decodes them. ``open()`` on a closed one opens the stored file again, as
    ``FieldFile.open()`` expects after, say, ``ImageField`` read the image's dimensions."""

    def __init__(
        self,
        reader: RangeReader,
        name: str,
        size: int,
        mode: str = "rb",
        encoding: str | None = None,
        reopen: Callable[[str], StreamingFile] | None = None,
    ) -> None:
        binary = io.BufferedReader(reader, buffer_size=READ_AHEAD)
        stream: Any = binary if "b" in mode else io.TextIOWrapper(binary, encoding or "utf-8")
        super().__init__(stream, name)
        self._streamed_size = size
        self._reopen = reopen
        self.mode = mode

    @property
    def size(self) -> int:
        return self._streamed_size

    def open(self, mode: str | None = None, *args: Any, **kwargs: Any) -> StreamingFile:
        if not self.closed and (mode is None or mode == self.mode):
            self.seek(0)
            return self
        if self._reopen is None:
            raise ValueError("The file cannot be reopened.")
        if not self.closed:
            self.close()
        fresh = self._reopen(mode or self.mode)
        self.file = fresh.file  # type: ignore[has-type]  # File sets it untyped
        self.mode, self._streamed_size = fresh.mode, fresh.size
        return self


SPOOL_SIZE = 8 * 1024 * 1024
"""What a file opened for writing keeps in memory before it spools to a temp file on disk."""


class SpooledWriteFile(File):  # type: ignore[misc]
    """What ``storage.open(name, "wb")`` (or ``"w"``) returns: writes go to a spooled temp file,
    in memory up to :data:`SPOOL_SIZE` and on disk past it, and ``close()`` stores the whole
    content under ``name``, replacing what was there (django-storages' S3 file does the same).
    Nothing is stored if nothing was written since it was opened, or if the ``with`` block
    raised."""

    def __init__(
        self, name: str, mode: str, store: Callable[[Any], object], encoding: str | None = None
    ) -> None:
        spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_SIZE, mode="w+b")  # noqa: SIM115
        stream: Any = spool if "b" in mode else io.TextIOWrapper(spool, encoding or "utf-8")
        super().__init__(stream, name)
        self.mode = mode
        self._spool = spool
        self._store = store
        self._written = False
        self._failed = False

    def write(self, data: Any) -> int:
        self._written = True
        return int(self.file.write(data))

    def __exit__(self, exc_type: Any, exc: Any, traceback: Any) -> None:
        self._failed = exc_type is not None
        self.close()

    def close(self) -> None:
        if self.closed:
            return
        try:
            if self._written and not self._failed:
                self.file.flush()
                self._spool.seek(0)
                self._store(self._spool)
        finally:
            self._written = False
            if isinstance(self.file, io.TextIOWrapper):
                self.file.detach()
            self._spool.close()

    @property
    def closed(self) -> bool:
        return bool(self._spool.closed)
