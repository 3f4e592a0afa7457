"""A Django ``File`` that reads a stored file in ranges instead of downloading it whole."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

from django.core.files.base import File

from bucketry.content import SeekableReader

__all__ = ["RangeReader", "StreamingFile"]

READ_AHEAD = 1024 * 1024


class RangeReader(SeekableReader):
    """A seekable, read-only file whose reads become ranged reads of the storage.

    ``fetch(start, end)`` returns those bytes of the file; each call is one request, of at least
    ``read_ahead`` bytes, so ``read(1)`` loops do not become a request per byte.
    """

    def __init__(
        self, size: int, fetch: Callable[[int, int], bytes], read_ahead: int = READ_AHEAD
    ) -> None:
        super().__init__(size)
        self._fetch = fetch
        self._read_ahead = read_ahead
        self._buffer = b""
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
    """What ``storage.open(name)`` returns: reads stream from the backend as they happen."""

    def __init__(self, reader: RangeReader, name: str, size: int) -> None:
        super().__init__(io.BufferedReader(reader, buffer_size=READ_AHEAD), name)
        self._streamed_size = size
        self.mode = "rb"

    @property
    def size(self) -> int:
        return self._streamed_size
