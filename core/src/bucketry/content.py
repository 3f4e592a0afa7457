"""Content adapters: whatever a caller passes to ``save`` becomes a stream of byte chunks.

The core never holds a whole upload in memory: every kind of content is read one chunk at a time,
and ``max_size`` is enforced on the running total, so an oversize stream is abandoned as soon as it
crosses the limit instead of after it has been read.
"""

from __future__ import annotations

import asyncio
import inspect
import io
from collections.abc import AsyncIterable, AsyncIterator, Awaitable
from typing import Any, BinaryIO, Protocol, TypeAlias, runtime_checkable

from bucketry.errors import TooLargeError

__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "AsyncReadable",
    "BytesReader",
    "Content",
    "ContentSource",
    "SeekableReader",
    "fixed_size_chunks",
    "read_ahead",
]

DEFAULT_CHUNK_SIZE = 1024 * 1024
"""Bytes read from a caller's content, or from a backend, per step."""


@runtime_checkable
class AsyncReadable(Protocol):
    """An async file-like object: Starlette's ``UploadFile``, ``aiofiles`` files, …"""

    def read(self, size: int = -1, /) -> Awaitable[bytes]: ...


Content: TypeAlias = (
    "bytes | bytearray | memoryview | BinaryIO | AsyncReadable | AsyncIterable[bytes]"
)
"""Everything ``Storage.save`` accepts as content."""


class ContentSource:
    """One upload's content, read as chunks, and read again from the start where possible.

    A second read is what lets ``save`` retry under another name after losing a race for the first
    one on a backend that cannot re-target content it has already received.
    """

    def __init__(self, content: Content, chunk_size: int = DEFAULT_CHUNK_SIZE) -> None:
        if isinstance(content, str):
            raise TypeError("Content must be bytes or a binary stream, not str; encode it first.")
        self._content = content
        self._chunk_size = chunk_size
        self._started = False
        self._start_position: int | None = None

    def chunks(self, max_size: int | None = None) -> AsyncIterator[bytes]:
        """Yield the content's chunks; raise :class:`TooLargeError` once past ``max_size``."""
        if isinstance(self._content, (bytes, bytearray, memoryview)):
            return _InMemoryChunks(self._content, self._chunk_size, max_size)
        return self._checked_chunks(max_size)

    async def _checked_chunks(self, max_size: int | None) -> AsyncIterator[bytes]:
        self._started = True
        total = 0
        async for chunk in self._raw_chunks():
            total += len(chunk)
            if max_size is not None and total > max_size:
                raise _too_large(max_size)
            if chunk:
                yield chunk

    async def rewind(self) -> bool:
        """Go back to the first byte; return ``False`` if this content can only be read once."""
        content = self._content
        if isinstance(content, (bytes, bytearray, memoryview)) or not self._started:
            return True
        seek = getattr(content, "seek", None)
        if self._start_position is None or seek is None:
            return False
        try:
            result = seek(self._start_position)
            if inspect.isawaitable(result):
                await result
        except (OSError, ValueError):
            return False
        return True

    async def _raw_chunks(self) -> AsyncIterator[bytes]:
        content = self._content
        size = self._chunk_size
        if isinstance(content, (bytes, bytearray, memoryview)):
            view = memoryview(content).cast("B")
            for offset in range(0, len(view), size):
                yield bytes(view[offset : offset + size])
        elif isinstance(content, AsyncIterable):
            async for chunk in content:
                yield _as_bytes(chunk)
        elif hasattr(content, "read") and inspect.iscoroutinefunction(content.read):
            self._remember_position()
            while chunk := await content.read(size):
                yield _as_bytes(chunk)
        elif hasattr(content, "read"):
            self._remember_position()
            read = content.read
            # In-memory buffers are fast; real files may block, so they are read off the loop.
            in_memory = isinstance(content, io.BytesIO)
            while True:
                data = read(size) if in_memory else await asyncio.to_thread(read, size)
                if inspect.isawaitable(data):  # an async read() that is not a coroutine function
                    data = await data
                if not data:
                    break
                yield _as_bytes(data)
        else:
            raise TypeError(
                f"Cannot save content of type {type(content).__name__}: pass bytes, a binary file, "
                "an async file-like object with read(), or an async iterable of bytes."
            )

    def _remember_position(self) -> None:
        tell = getattr(self._content, "tell", None)
        if tell is None or inspect.iscoroutinefunction(tell):
            # Async files usually start at 0 when handed to us (UploadFile, aiofiles).
            self._start_position = 0 if hasattr(self._content, "seek") else None
            return
        try:
            self._start_position = int(tell())
        except (OSError, ValueError):
            self._start_position = None


def _too_large(max_size: int) -> TooLargeError:
    return TooLargeError(
        f"Content is larger than max_size={max_size} bytes; nothing was stored. "
        "Send a smaller file or raise max_size."
    )


class _InMemoryChunks:
    """Chunks of content already in memory, which :func:`read_ahead` can take whole.

    A 4 KiB ``save`` would otherwise pass through two async generators and a join to become the
    bytes it already was; ``bytes`` are handed on without a copy (they cannot change), mutable
    buffers are copied once. Past ``max_size`` it raises before yielding anything.
    """

    def __init__(self, content: bytes | bytearray | memoryview, size: int, max_size: int | None):
        self._view = memoryview(content).cast("B")
        self._content = content
        self._size = size
        self._offset = 0
        if max_size is not None and len(self._view) > max_size:
            self._view = memoryview(b"")
            self._error: TooLargeError | None = _too_large(max_size)
        else:
            self._error = None

    def __aiter__(self) -> _InMemoryChunks:
        return self

    async def __anext__(self) -> bytes:
        if self._error is not None:
            raise self._error
        if self._offset >= len(self._view):
            raise StopAsyncIteration
        start, self._offset = self._offset, self._offset + self._size
        return bytes(self._view[start : self._offset])

    def remaining(self) -> int:
        return 0 if self._error is not None else len(self._view) - self._offset

    def take_rest(self) -> bytes:
        """Everything not yet yielded, at once."""
        if self._error is not None:
            raise self._error
        start, self._offset = self._offset, len(self._view)
        if start == 0 and isinstance(self._content, bytes):
            return self._content
        return bytes(self._view[start:])


def _as_bytes(chunk: Any) -> bytes:
    if isinstance(chunk, bytes):
        return chunk
    if isinstance(chunk, (bytearray, memoryview)):
        return bytes(chunk)
    raise TypeError(
        f"Content yielded {type(chunk).__name__}; only bytes-like chunks can be stored."
    )


class SeekableReader(io.RawIOBase):
    """A read-only raw file of known size that can seek anywhere; subclasses supply ``readinto``.

    The position may pass the end (reads there return nothing), as with a real file.
    """

    def __init__(self, size: int) -> None:
        super().__init__()
        self._size = size
        self._position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self._size}[whence]
        self._position = max(0, base + offset)
        return self._position


class BytesReader(SeekableReader):
    """A seekable, read-only file over a bytes-like object, without copying it.

    HTTP clients copy a ``bytes`` or ``BytesIO`` body whole before sending it (aiohttp does), but
    stream a plain file object in small reads; handing them this keeps an upload's memory at the
    one buffer the caller already holds. Seekable, so SDK retries can send it again.
    """

    def __init__(self, data: bytes | bytearray | memoryview) -> None:
        self._view = memoryview(data).cast("B")
        super().__init__(len(self._view))

    def readinto(self, buffer: Any) -> int:
        target = memoryview(buffer).cast("B")
        count = max(0, min(len(target), len(self._view) - self._position))
        target[:count] = self._view[self._position : self._position + count]
        self._position += count
        return count

    def read(self, size: int | None = -1) -> bytes:
        end = len(self._view) if size is None or size < 0 else self._position + size
        data = bytes(self._view[self._position : end])
        self._position += len(data)
        return data

    def __len__(self) -> int:
        return len(self._view)


async def read_ahead(chunks: AsyncIterator[bytes], limit: int) -> bytes | AsyncIterator[bytes]:
    """All of the content as ``bytes`` if it is at most ``limit`` bytes; else a stream of all of it.

    Object stores take small content in one request and large content in parts; this reads just
    far enough to know which. The chunks read ahead are kept as they came (no growing buffer to
    copy into), and the returned stream yields them first and lets go of each once consumed.
    """
    if isinstance(chunks, _InMemoryChunks) and chunks.remaining() <= limit:
        return chunks.take_rest()
    iterator = aiter(chunks)
    head: list[bytes] = []
    size = 0
    while size <= limit:
        try:
            chunk = await anext(iterator)
        except StopAsyncIteration:
            return b"".join(head)
        head.append(chunk)
        size += len(chunk)
    return _prepend(head, iterator)


async def _prepend(head: list[bytes], rest: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    head.reverse()
    while head:
        yield head.pop()
    async for chunk in rest:
        yield chunk


async def fixed_size_chunks(
    chunks: AsyncIterable[bytes | bytearray], size: int
) -> AsyncIterator[bytes]:
    """Re-cut a stream into chunks of exactly ``size`` bytes (the last may be shorter, never empty).

    Resumable uploads need pieces of a fixed size; this holds at most one piece plus one incoming
    chunk in memory, and copies each piece out of its buffer once.
    """
    buffer = bytearray()
    async for chunk in chunks:
        buffer += chunk
        while len(buffer) >= size:
            yield bytes(memoryview(buffer)[:size])
            del buffer[:size]
    if buffer:
        yield bytes(buffer)
