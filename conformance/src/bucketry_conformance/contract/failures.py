"""Size limits, failing producers and cancellation: the error reaches the caller and nothing
remains.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator

import pytest

from bucketry import Storage, TooLargeError
from bucketry_conformance.contract._base import ContractBase, MiB, area


class Failures(ContractBase):
    @area("max-size")
    async def test_max_size_rejects_bytes(self, storage: Storage, root: str) -> None:
        with pytest.raises(TooLargeError):
            await storage.save(root + "big.bin", b"x" * 101, max_size=100)
        assert not await storage.exists(root + "big.bin")
        name = await storage.save(root + "fits.bin", b"x" * 100, max_size=100)
        assert await storage.size(name) == 100

    @area("max-size")
    async def test_max_size_stops_a_stream_early(self, storage: Storage, root: str) -> None:
        produced = 0

        async def endless() -> AsyncIterator[bytes]:
            nonlocal produced
            while produced < 1000:
                produced += 1
                yield b"x" * 1024

        with pytest.raises(TooLargeError):
            await storage.save(root + "endless.bin", endless(), max_size=10 * 1024)
        assert produced <= 12, "the upload must stop as soon as it passes max_size"
        assert not await storage.exists(root + "endless.bin")
        assert [info async for info in storage.list(root)] == []

    @area("failure")
    async def test_failing_stream_leaves_nothing(self, storage: Storage, root: str) -> None:
        async def broken() -> AsyncIterator[bytes]:
            yield b"partial data" * 1000
            raise RuntimeError("the client went away")

        with pytest.raises(RuntimeError, match="went away"):
            await storage.save(root + "broken.bin", broken())
        assert not await storage.exists(root + "broken.bin")
        assert [info async for info in storage.list(root)] == []

    @area("failure")
    async def test_failing_stream_keeps_the_old_file(self, storage: Storage, root: str) -> None:
        await storage.save(root + "keep.bin", b"old")

        async def broken() -> AsyncIterator[bytes]:
            yield b"new"
            raise RuntimeError("interrupted")

        with pytest.raises(RuntimeError):
            await storage.save(root + "keep.bin", broken(), overwrite=True)
        assert await storage.open(root + "keep.bin") == b"old"

    @area("failure")
    @pytest.mark.parametrize("overwrite", [False, True], ids=["create", "overwrite"])
    async def test_a_large_failing_save_into_a_new_directory_leaves_nothing(
        self, storage: Storage, root: str, overwrite: bool
    ) -> None:
        """Past any read-ahead (the content is streamed, not held), into a directory that the
        save itself would create: the producer's error reaches the caller, and neither the
        file nor its directory remains."""

        async def broken() -> AsyncIterator[bytes]:
            for _ in range(3):
                yield secrets.token_bytes(MiB)
            raise RuntimeError("the producer failed after 3 MiB")

        with pytest.raises(RuntimeError, match="after 3 MiB"):
            await storage.save(root + "new/dir/big.bin", broken(), overwrite=overwrite)
        assert await storage.listdir(root) == ([], [])
        assert [info async for info in storage.list(root)] == []

    @area("failure")
    @pytest.mark.parametrize(
        ("name", "before_the_wait"),
        [("cancelled.bin", [b"first part" * 1000]), ("new/dir/big.bin", [b"m" * MiB] * 3)],
        ids=["small", "large-into-a-new-directory"],
    )
    async def test_a_cancelled_save_leaves_nothing(
        self, storage: Storage, root: str, name: str, before_the_wait: list[bytes]
    ) -> None:
        """Cancelled while the content streams (a client that went away), before or past any
        read-ahead: neither the file nor a directory the save made remains."""
        waiting = asyncio.Event()

        async def slow() -> AsyncIterator[bytes]:
            for part in before_the_wait:
                yield part
            waiting.set()
            await asyncio.sleep(3600)
            yield b"never"

        task = asyncio.ensure_future(storage.save(root + name, slow()))
        await asyncio.wait_for(waiting.wait(), 60)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert not await storage.exists(root + name)
        assert await storage.listdir(root) == ([], [])
        assert [info async for info in storage.list(root)] == []
