"""Range reads and chunked streams."""

from __future__ import annotations

import secrets

import pytest

from bucketry import Storage
from bucketry_conformance.contract._base import ContractBase, _read, area


class Ranges(ContractBase):
    @area("ranges")
    async def test_ranges(self, storage: Storage, root: str) -> None:
        data = bytes(range(256)) * 4
        name = await storage.save(root + "range.bin", data)
        assert await _read(storage, name, start=10) == data[10:]
        assert await _read(storage, name, end=10) == data[:10]
        assert await _read(storage, name, start=100, end=356) == data[100:356]
        assert await _read(storage, name, start=1000, end=5000) == data[1000:]
        assert await _read(storage, name, start=5000) == b""
        assert await _read(storage, name, start=20, end=20) == b""
        assert await _read(storage, name, start=20, end=10) == b""
        with pytest.raises(ValueError, match="non-negative"):
            await _read(storage, name, start=-1)

    @area("ranges")
    async def test_chunk_size_is_respected(self, storage: Storage, root: str) -> None:
        data = secrets.token_bytes(10000)
        name = await storage.save(root + "chunked.bin", data)
        chunks = [chunk async for chunk in storage.stream(name, chunk_size=1024)]
        assert b"".join(chunks) == data
        assert all(len(chunk) <= 1024 for chunk in chunks)

    @area("ranges")
    async def test_stopping_a_stream_early_is_clean(self, storage: Storage, root: str) -> None:
        name = await storage.save(root + "early.bin", secrets.token_bytes(300000))
        stream = storage.stream(name, chunk_size=1000)
        async for _ in stream:
            break
        await stream.aclose()  # type: ignore[attr-defined]
        assert await storage.size(name) == 300000
