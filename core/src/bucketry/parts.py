"""Uploading a stream as numbered parts, several at once, from a few reused buffers.

S3 multipart uploads and Azure staged blocks have the same shape: cut the stream into fixed-size
parts, send up to ``max_concurrency`` of them at once, and collect what the service returns for
each. Parts are filled into a pool of ``max_concurrency + 1`` buffers (one filling while the others
are in flight) and handed to ``send`` as views, so memory stays at the pool's size for any object:
fresh multi-MiB objects for every part fragment the allocator and let the resident size creep up.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TypeVar

__all__ = ["upload_parts"]

T = TypeVar("T")


async def upload_parts(
    chunks: AsyncIterator[bytes | bytearray],
    part_size: int,
    max_concurrency: int,
    send: Callable[[int, memoryview], Awaitable[T]],
) -> list[T]:
    """Send ``chunks`` as parts numbered from 1; return ``send``'s results in part order.

    ``send`` must be done with its view when it returns: the buffer is reused. An empty stream is
    sent as one empty part. On any failure or cancellation the parts in flight are cancelled and
    the exception propagates; aborting the upload is the caller's job.
    """
    pool: asyncio.Queue[bytearray] = asyncio.Queue()
    sending = asyncio.Semaphore(max_concurrency)
    created = 0
    tasks: list[asyncio.Task[T]] = []

    async def take_buffer() -> bytearray:
        nonlocal created
        if pool.empty() and created <= max_concurrency:
            created += 1
            return bytearray(part_size)
        return await pool.get()

    async def run(number: int, buffer: bytearray, size: int) -> T:
        try:
            async with sending:
                return await send(number, memoryview(buffer)[:size])
        finally:
            pool.put_nowait(buffer)

    def dispatch(buffer: bytearray, size: int) -> None:
        for task in tasks:  # stop reading the source as soon as a part has failed
            if task.done() and (error := task.exception()) is not None:
                raise error
        tasks.append(asyncio.create_task(run(len(tasks) + 1, buffer, size)))

    try:
        buffer, filled = await take_buffer(), 0
        async for chunk in chunks:
            view = memoryview(chunk)
            while view:
                taken = min(len(view), part_size - filled)
                buffer[filled : filled + taken] = view[:taken]
                filled, view = filled + taken, view[taken:]
                if filled == part_size:
                    dispatch(buffer, filled)
                    buffer, filled = await take_buffer(), 0
        if filled or not tasks:
            dispatch(buffer, filled)
        return list(await asyncio.gather(*tasks))
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
