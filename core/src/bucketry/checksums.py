"""Running checksums, one family for every backend: MD5, CRC32, CRC32C, SHA-1, SHA-256 and S3's
multipart ETag, each in the form its service reports it.

A checksum here is an object with ``update(data)`` and ``value() -> str``; :func:`running` makes
one by name. ``value()`` is the service's own spelling: MD5 as hex (an ETag), every other as
base64 of the big-endian digest (S3's ``x-amz-checksum-*``, GCS's ``x-goog-hash``).
:class:`WholeCheck` compares a read's bytes with the checksum its first answer carried, hashing
large chunks on a worker thread while the next one arrives.

CRC32C has no implementation in the standard library: a backend whose SDK brings a fast one
passes it to :func:`register` (the GCS backend does); the table-driven one here is correct and
slow.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import zlib
from collections.abc import Callable
from typing import Any, Protocol

from bucketry.errors import IntegrityError

__all__ = [
    "Checksum",
    "PartDigests",
    "WholeCheck",
    "computable",
    "content_md5",
    "digest_off_the_loop",
    "md5_digest",
    "md5_hex",
    "register",
    "running",
    "s3_multipart_etag",
]

MiB = 1024 * 1024
OVERLAP_FROM = MiB
"""Chunks this large are hashed on a worker thread (hashlib lets go of the GIL on large
buffers); smaller ones inline, where a thread hop costs more than the hash."""


class Checksum(Protocol):
    """A running checksum: fed with ``update``, read with ``value`` in the service's form."""

    def update(self, data: bytes | bytearray | memoryview, /) -> None: ...

    def value(self) -> str: ...


class _Hex:
    def __init__(self, hasher: Any) -> None:
        self._hasher = hasher
        self.update = hasher.update

    def value(self) -> str:
        return str(self._hasher.hexdigest())


class _Base64Digest:
    def __init__(self, hasher: Any) -> None:
        self._hasher = hasher
        self.update = hasher.update

    def value(self) -> str:
        return base64.b64encode(self._hasher.digest()).decode()


class _Crc32:
    def __init__(self) -> None:
        self._value = 0

    def update(self, data: bytes | bytearray | memoryview) -> None:
        self._value = zlib.crc32(data, self._value)

    def value(self) -> str:
        return base64.b64encode(self._value.to_bytes(4, "big")).decode()


def _crc32c_table() -> list[int]:
    table = []
    for byte in range(256):
        value = byte
        for _ in range(8):
            value = (value >> 1) ^ 0x82F63B78 if value & 1 else value >> 1
        table.append(value)
    return table


_CRC32C_TABLE = _crc32c_table()


class _Crc32cTable:
    """CRC32C (Castagnoli) one byte at a time: for a service that reports it and a process
    without a fast implementation registered."""

    def __init__(self) -> None:
        self._value = 0xFFFFFFFF

    def update(self, data: bytes | bytearray | memoryview) -> None:
        value, table = self._value, _CRC32C_TABLE
        for byte in bytes(data):
            value = table[(value ^ byte) & 0xFF] ^ (value >> 8)
        self._value = value

    def value(self) -> str:
        return base64.b64encode((self._value ^ 0xFFFFFFFF).to_bytes(4, "big")).decode()


_FACTORIES: dict[str, Callable[[], Checksum]] = {
    "md5": lambda: _Hex(hashlib.md5(usedforsecurity=False)),
    "crc32": _Crc32,
    "crc32c": _Crc32cTable,
    "sha1": lambda: _Base64Digest(hashlib.sha1(usedforsecurity=False)),
    "sha256": lambda: _Base64Digest(hashlib.sha256()),
}


def register(algorithm: str, factory: Callable[[], Checksum]) -> None:
    """Use ``factory`` for ``algorithm`` from now on (a faster implementation of the same sum)."""
    _FACTORIES[algorithm] = factory


def running(algorithm: str) -> Checksum:
    """A new running checksum: ``"md5"``, ``"crc32"``, ``"crc32c"``, ``"sha1"`` or ``"sha256"``."""
    try:
        return _FACTORIES[algorithm]()
    except KeyError:
        raise ValueError(f"No checksum named {algorithm!r}; known: {sorted(_FACTORIES)}.") from None


def computable(algorithm: str) -> bool:
    """Whether :func:`running` can compute ``algorithm`` (S3's multipart ETag it cannot: it
    depends on how the object was cut into parts)."""
    return algorithm in _FACTORIES


def md5_hex(data: bytes | bytearray | memoryview) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


async def digest_off_the_loop(data: bytes | bytearray | memoryview) -> bytes:
    """The binary MD5 of ``data``; a large buffer is hashed on a worker thread."""
    if len(data) >= OVERLAP_FROM // 4:
        return await asyncio.to_thread(md5_digest, data)
    return md5_digest(data)


def md5_digest(data: bytes | bytearray | memoryview) -> bytes:
    """The binary MD5 of ``data`` (S3's parts, Azure's blocks send it as Content-MD5)."""
    return hashlib.md5(data, usedforsecurity=False).digest()


def content_md5(hex_md5: str) -> str:
    """An MD5 given in hex, in the form a ``Content-MD5`` header carries it (base64)."""
    return base64.b64encode(bytes.fromhex(hex_md5)).decode()


def s3_multipart_etag(part_md5s: list[bytes]) -> str:
    """S3's ETag of a completed multipart upload: the MD5 of the parts' binary MD5s, ``-N``."""
    return f"{hashlib.md5(b''.join(part_md5s), usedforsecurity=False).hexdigest()}-{len(part_md5s)}"


class PartDigests:
    """The MD5 of each ``part_size`` piece of a stream, and of the whole, as it passes: S3's ETag
    of a multipart object is the MD5 of its parts' MD5s, then ``-N``."""

    def __init__(self, part_size: int) -> None:
        self._part_size = part_size
        self.parts: list[bytes] = []
        self._part = hashlib.md5(usedforsecurity=False)
        self._filled = 0
        self._whole = hashlib.md5(usedforsecurity=False)

    def update(self, chunk: bytes | bytearray | memoryview) -> None:
        self._whole.update(chunk)
        view = memoryview(chunk)
        while view:
            room = self._part_size - self._filled
            piece, view = view[:room], view[room:]
            self._part.update(piece)
            self._filled += len(piece)
            if self._filled == self._part_size:
                self.parts.append(self._part.digest())
                self._part, self._filled = hashlib.md5(usedforsecurity=False), 0

    def multipart_etag(self) -> str:
        return s3_multipart_etag(self.parts + ([self._part.digest()] if self._filled else []))

    def whole_md5(self) -> str:
        return self._whole.hexdigest()


class WholeCheck:
    """A whole read's running checksum, compared at its end with the one its first answer
    carried. Fed by the core's resume loop with every byte it yields, first answer and resumed
    ones alike; a large chunk is hashed on a worker thread while the next one arrives (chunks
    are hashed in order: each waits for the one before)."""

    def __init__(self, algorithm: str, expected: str) -> None:
        self.algorithm = algorithm
        self.expected = expected
        self._sum = running(algorithm)
        self._pending: asyncio.Future[None] | None = None

    async def absorb(self, chunk: bytes | bytearray | memoryview) -> None:
        if self._pending is not None:
            await self._pending
            self._pending = None
        if len(chunk) < OVERLAP_FROM:
            self._sum.update(chunk)
        else:
            self._pending = asyncio.get_running_loop().run_in_executor(
                None, self._sum.update, chunk
            )

    async def value(self) -> str:
        """The checksum of the bytes absorbed so far."""
        if self._pending is not None:
            await self._pending
            self._pending = None
        return self._sum.value()

    async def verify(self, name: str, service: str) -> None:
        """Raise :class:`IntegrityError` unless the bytes absorbed match the expected sum."""
        if await self.value() != self.expected:
            raise IntegrityError(
                f"The bytes of {name!r} read from {service} do not match its "
                f"{self.algorithm.upper()}; read it again."
            )
