"""Saves racing each other and other operations never clobber or reorder."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator

from bucketry import Capability, Storage
from bucketry_conformance.contract._base import ContractBase, MiB, _chunks, area, requires


class Concurrency(ContractBase):
    @area("concurrency")
    @requires(Capability.CONDITIONAL_CREATE)
    async def test_concurrent_saves_of_one_name_never_clobber(
        self, storage: Storage, root: str
    ) -> None:
        count = self.concurrent_saves
        payloads = [f"writer {index} ".encode() * (index + 1) for index in range(count)]
        names = await asyncio.gather(
            *(storage.save(root + "same.txt", payload) for payload in payloads)
        )
        assert len(set(names)) == count
        assert root + "same.txt" in names
        for name, payload in zip(names, payloads, strict=True):
            assert await storage.open(name) == payload
        assert len([info async for info in storage.list(root)]) == count

    @area("concurrency")
    @requires(Capability.CONDITIONAL_CREATE)
    async def test_concurrent_stream_saves_never_clobber(self, storage: Storage, root: str) -> None:
        payloads = [secrets.token_bytes(3000 + index) for index in range(8)]
        names = await asyncio.gather(
            *(storage.save(root + "race.bin", _chunks([p[:1000], p[1000:]])) for p in payloads)
        )
        assert len(set(names)) == len(payloads)
        for name, payload in zip(names, payloads, strict=True):
            assert await storage.open(name) == payload

    @area("concurrency")
    async def test_a_large_upload_of_many_small_chunks_arrives_in_order(
        self, storage: Storage, root: str
    ) -> None:
        """Thousands of tiny chunks, each naming its place: a backend that buffers, batches or
        overlaps writes must still store them in the order they came."""
        chunks = [f"{index:07d}|".encode() for index in range(40_000)]  # 320 kB in 8-byte chunks
        name = await storage.save(root + "ordered.bin", _chunks(chunks))
        assert await storage.open(name) == b"".join(chunks)

    @area("concurrency")
    async def test_saves_racing_deletes_in_one_directory(self, storage: Storage, root: str) -> None:
        """Deleting a directory's last file removes the directory (where directories are real);
        a save into it at the same moment must still succeed, and only deleted files go."""
        doomed = [await storage.save(f"{root}d/doomed-{index}", b"x") for index in range(8)]
        saves = [storage.save(f"{root}d/kept-{index}", b"kept") for index in range(16)]
        deletes = [storage.delete(name) for name in doomed]
        interleaved = [step for pair in zip(deletes, saves[:8], strict=True) for step in pair]
        await asyncio.gather(*interleaved, *saves[8:])
        _, files = await storage.listdir(root + "d")
        assert files == sorted(f"kept-{index}" for index in range(16))

    @area("concurrency")
    async def test_listing_during_a_large_save_shows_no_partial_file(
        self, storage: Storage, root: str
    ) -> None:
        """A file appears whole or not at all: while its upload streams, a listing and a read
        find nothing under its name (no temp file, no partial object)."""
        halfway, finish = asyncio.Event(), asyncio.Event()

        async def slow() -> AsyncIterator[bytes]:
            for index in range(6):
                if index == 3:
                    halfway.set()
                    await finish.wait()
                yield bytes([index]) * MiB

        await storage.save(root + "done.txt", b"done")
        task = asyncio.ensure_future(storage.save(root + "growing.bin", slow()))
        try:
            await asyncio.wait_for(halfway.wait(), 60)
            assert [info.name async for info in storage.list(root)] == [root + "done.txt"]
            assert await storage.listdir(root) == ([], ["done.txt"])
            assert not await storage.exists(root + "growing.bin")
        finally:
            finish.set()
            name = await task
        assert await storage.size(name) == 6 * MiB
