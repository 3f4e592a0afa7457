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


async def test_read_ahead_returns_small_content_whole() -> None:
    from bucketry.content import read_ahead

    async def small() -> AsyncIterator[bytes]:
        yield b"ab"
        yield b"cd"

    assert await read_ahead(small(), 4) == b"abcd"


async def test_read_ahead_streams_large_content_from_the_start() -> None:
    from bucketry.content import read_ahead

    async def large() -> AsyncIterator[bytes]:
        for part in (b"ab", b"cd", b"ef"):
            yield part

    result = await read_ahead(large(), 3)
    assert not isinstance(result, bytes)
    assert b"".join([bytes(chunk) async for chunk in result]) == b"abcdef"


async def test_upload_parts_orders_results_and_bounds_what_is_in_flight() -> None:
    import asyncio

    from bucketry.parts import upload_parts

    in_flight = 0
    most = 0
    received: dict[int, bytes] = {}

    async def send(number: int, body: memoryview) -> int:
        nonlocal in_flight, most
        in_flight += 1
        most = max(most, in_flight)
        received[number] = bytes(body)  # copied before returning: the buffer is reused
        await asyncio.sleep(0.01 * (number % 3))
        in_flight -= 1
        return number

    async def source() -> AsyncIterator[bytes]:
        for index in range(10):
            yield bytes([index]) * 7

    assert await upload_parts(source(), 10, 3, send) == list(range(1, 8))  # 70 bytes, 7 parts
    assert most <= 3
    assert b"".join(received[n] for n in sorted(received)) == b"".join(
        bytes([i]) * 7 for i in range(10)
    )


async def test_upload_parts_stops_on_the_first_failure() -> None:
    from bucketry.parts import upload_parts

    sent = 0

    async def send(number: int, body: memoryview) -> None:
        nonlocal sent
        sent += 1
        raise RuntimeError(f"part {number} refused")

    async def endless() -> AsyncIterator[bytes]:
        while True:
            yield b"x" * 10

    with pytest.raises(RuntimeError, match="refused"):
        await upload_parts(endless(), 10, 2, send)
    assert sent <= 4
