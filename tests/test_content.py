"""Every kind of content is read in chunks, and read again where that is possible."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bucketry import TooLargeError
from bucketry.content import ContentSource, fixed_size_chunks

pytestmark = pytest.mark.anyio


async def collect(chunks: AsyncIterator[bytes]) -> list[bytes]:
    return [chunk async for chunk in chunks]


async def test_bytes_are_sliced_into_chunks() -> None:
    source = ContentSource(b"abcdefghij", chunk_size=4)
    assert await collect(source.chunks()) == [b"abcd", b"efgh", b"ij"]
    assert await source.rewind()


async def test_real_files_are_read_in_chunks_and_rewound(tmp_path: Path) -> None:
    path = tmp_path / "data.bin"
    path.write_bytes(b"0123456789")
    with path.open("rb") as file:
        file.seek(2)
        source = ContentSource(file, chunk_size=3)
        assert b"".join(await collect(source.chunks())) == b"23456789"
        assert await source.rewind()
        assert b"".join(await collect(source.chunks())) == b"23456789"


async def test_one_shot_streams_cannot_rewind() -> None:
    async def stream() -> AsyncIterator[bytes]:
        yield b"once"

    source = ContentSource(stream())
    assert await collect(source.chunks()) == [b"once"]
    assert not await source.rewind()


async def test_max_size_stops_at_the_first_chunk_past_it() -> None:
    source = ContentSource(io.BytesIO(b"x" * 100), chunk_size=10)
    seen: list[bytes] = []

    async def consume() -> None:
        async for chunk in source.chunks(max_size=25):
            seen.append(chunk)

    with pytest.raises(TooLargeError, match="max_size=25"):
        await consume()
    assert len(seen) == 2


@pytest.mark.parametrize("content", ["text", 42, object()])
async def test_unsupported_content_is_a_type_error(content: object) -> None:
    with pytest.raises(TypeError):
        await collect(ContentSource(content).chunks())  # type: ignore[arg-type]


async def test_fixed_size_chunks() -> None:
    async def uneven() -> AsyncIterator[bytes]:
        for part in (b"ab", b"cdefg", b"", b"h", b"ijklmnop"):
            yield part

    assert await collect(fixed_size_chunks(uneven(), 4)) == [b"abcd", b"efgh", b"ijkl", b"mnop"]


def test_bytes_reader_reads_and_seeks_without_copying_the_source() -> None:
    from bucketry.content import BytesReader

    source = bytearray(b"0123456789")
    reader = BytesReader(memoryview(source)[2:8])
    assert len(reader) == 6
    assert reader.read(4) == b"2345"
    assert reader.read() == b"67"
    assert reader.read() == b""
    assert reader.seek(0) == 0
    source[2] = ord("X")  # a view, not a copy
    target = bytearray(3)
    assert reader.readinto(target) == 3
    assert bytes(target) == b"X34"
    assert reader.seek(-1, 2) == 5
    assert reader.read() == b"7"
