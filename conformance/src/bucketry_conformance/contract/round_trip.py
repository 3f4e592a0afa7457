"""Bytes in, the same bytes out: every kind of content, empty, chunked and large."""

from __future__ import annotations

import hashlib
import io
import secrets
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from bucketry import Storage
from bucketry_conformance.contract._base import ContractBase, MiB, _AsyncFile, _chunks, area


class RoundTrip(ContractBase):
    @area("round-trip")
    async def test_bytes_round_trip(self, storage: Storage, root: str) -> None:
        name = await storage.save(root + "hello.txt", b"hello world")
        assert name == root + "hello.txt"
        assert await storage.open(name) == b"hello world"
        assert await storage.exists(name)
        assert await storage.size(name) == 11

    @area("round-trip")
    async def test_empty_file_round_trip(self, storage: Storage, root: str) -> None:
        name = await storage.save(root + "empty", b"")
        assert await storage.open(name) == b""
        assert await storage.size(name) == 0
        assert await storage.exists(name)

    @area("round-trip")
    @pytest.mark.parametrize(
        "make_content",
        [
            pytest.param(lambda data: bytearray(data), id="bytearray"),
            pytest.param(lambda data: memoryview(data), id="memoryview"),
            pytest.param(lambda data: io.BytesIO(data), id="sync-file"),
            pytest.param(lambda data: _AsyncFile(data), id="async-file"),
            pytest.param(
                lambda data: _chunks([data[i : i + 1000] for i in range(0, len(data), 1000)]),
                id="async-iterable",
            ),
        ],
    )
    async def test_every_content_kind_round_trips(
        self, storage: Storage, root: str, make_content: Callable[[bytes], Any]
    ) -> None:
        data = secrets.token_bytes(5000)
        name = await storage.save(root + "kind.bin", make_content(data))
        assert await storage.open(name) == data

    @area("round-trip")
    async def test_multi_chunk_stream_round_trip(self, storage: Storage, root: str) -> None:
        parts = [secrets.token_bytes(size) for size in (1, 7, 65536, 3, 300000, 0, 11)]
        name = await storage.save(root + "chunks.bin", _chunks(parts))
        assert await storage.open(name) == b"".join(parts)

    @area("round-trip")
    async def test_large_streamed_upload(self, storage: Storage, root: str) -> None:
        block = secrets.token_bytes(MiB)
        count = self.large_upload_size // MiB
        expected = hashlib.sha256()

        async def produce() -> AsyncIterator[bytes]:
            for index in range(count):
                chunk = index.to_bytes(4, "big") + block[4:]
                expected.update(chunk)
                yield chunk

        name = await storage.save(root + "large.bin", produce())
        assert await storage.size(name) == count * MiB
        received = hashlib.sha256()
        async for chunk in storage.stream(name):
            received.update(chunk)
        assert received.hexdigest() == expected.hexdigest()

    @area("round-trip")
    async def test_saving_text_is_refused(self, storage: Storage, root: str) -> None:
        with pytest.raises(TypeError, match="encode"):
            await storage.save(root + "text.txt", "not bytes")  # type: ignore[arg-type]
        assert not await storage.exists(root + "text.txt")
