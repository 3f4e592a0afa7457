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

    @area("ranges")
    async def test_ranges_spanning_several_chunks(self, storage: Storage, root: str) -> None:
        """A range read in small chunks: every chunk within the size asked for, the bytes those
        of the range, from inside the first chunk to inside the last."""
        data = secrets.token_bytes(100_000)
        name = await storage.save(root + "spanning.bin", data)
        for start, end, chunk_size in [
            (1000, 50_000, 4096),
            (4095, 4097, 1),
            (0, 100_000, 7919),
            (99_999, None, 1024),
            (12_345, 99_000, 65_536),
        ]:
            chunks = [
                chunk
                async for chunk in storage.stream(name, start=start, end=end, chunk_size=chunk_size)
            ]
            assert b"".join(chunks) == data[start:end], (start, end, chunk_size)
            assert all(0 < len(chunk) <= chunk_size for chunk in chunks), (start, end)
            expected_chunks = -(-len(data[start:end]) // chunk_size)
            assert len(chunks) >= expected_chunks, "chunks must be no larger than asked"

    @area("ranges")
    async def test_negative_offsets_are_refused(self, storage: Storage, root: str) -> None:
        name = await storage.save(root + "n.bin", b"0123456789")
        with pytest.raises(ValueError, match="non-negative"):
            await _read(storage, name, end=-1)
        with pytest.raises(ValueError, match="non-negative"):
            await _read(storage, name, start=-5, end=3)
        assert await _read(storage, name, start=0, end=0) == b""
