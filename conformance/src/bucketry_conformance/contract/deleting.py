"""Deleting files and prefixes: idempotent, exact, and leaving neighbours alone."""

from __future__ import annotations

import asyncio

import pytest

from bucketry import Storage, UnsafeNameError
from bucketry.storage import DELETE_BATCH
from bucketry_conformance.contract._base import ContractBase, area


class Deleting(ContractBase):
    @area("delete")
    async def test_delete_is_idempotent(self, storage: Storage, root: str) -> None:
        name = await storage.save(root + "gone.txt", b"bye")
        await storage.delete(name)
        assert not await storage.exists(name)
        await storage.delete(name)
        await storage.delete(root + "never-existed.txt")

    @area("delete")
    async def test_delete_leaves_neighbours(self, storage: Storage, root: str) -> None:
        keep = await storage.save(root + "d/keep.txt", b"keep")
        drop = await storage.save(root + "d/drop.txt", b"drop")
        await storage.delete(drop)
        assert await storage.open(keep) == b"keep"
        assert await storage.listdir(root + "d") == ([], ["keep.txt"])

    @area("delete")
    async def test_delete_prefix_removes_one_directory(self, storage: Storage, root: str) -> None:
        for name in ("d/a.txt", "d/sub/b.txt", "d_other/c.txt", "d.txt"):
            await storage.save(root + name, b"x")
        assert await storage.delete_prefix(root + "d") == 2
        assert sorted([info.name async for info in storage.list(root)]) == [
            root + "d.txt",
            root + "d_other/c.txt",
        ]
        assert await storage.delete_prefix(root + "d") == 0
        with pytest.raises(UnsafeNameError):
            await storage.delete_prefix("")

    @area("delete")
    async def test_a_directory_goes_with_its_last_file(self, storage: Storage, root: str) -> None:
        """Directories exist only while something is stored under them: after the last file is
        deleted or moved away, the name is free for a file."""
        name = await storage.save(root + "d/e/f.txt", b"x")
        await storage.delete(name)
        assert await storage.listdir(root) == ([], [])
        assert await storage.save(root + "d", b"a file where the directory was") == root + "d"
        assert await storage.open(root + "d") == b"a file where the directory was"

        await storage.save(root + "m/n/o.txt", b"moving")
        await storage.move(root + "m/n/o.txt", root + "o.txt")
        assert await storage.listdir(root) == ([], ["d", "o.txt"])
        assert await storage.save(root + "m", b"m as a file") == root + "m"
        assert await storage.listdir(root) == ([], ["d", "m", "o.txt"])

    @area("delete")
    async def test_deleting_a_file_keeps_its_directory_while_others_remain(
        self, storage: Storage, root: str
    ) -> None:
        await storage.save(root + "d/a.txt", b"a")
        await storage.save(root + "d/sub/b.txt", b"b")
        await storage.delete(root + "d/sub/b.txt")
        assert await storage.listdir(root + "d") == ([], ["a.txt"])
        await storage.delete(root + "d/a.txt")
        assert await storage.listdir(root) == ([], [])

    @area("delete")
    async def test_delete_prefix_spans_batches(self, storage: Storage, root: str) -> None:
        """More files than one batch request takes (S3's DeleteObjects stops at 1000): the core
        hands the backend's ``_delete_many`` at most ``DELETE_BATCH`` names at a time."""
        count = self.delete_prefix_files
        batches: list[int] = []
        delete_many = storage._delete_many

        async def recording(names: list[str]) -> None:
            batches.append(len(names))
            await delete_many(names)

        semaphore = asyncio.Semaphore(32)

        async def save(index: int) -> None:
            async with semaphore:
                await storage.save(f"{root}many/{index:05d}", b"")

        await asyncio.gather(*(save(index) for index in range(count)))
        await storage.save(root + "keep.txt", b"keep")
        storage._delete_many = recording  # type: ignore[method-assign]
        try:
            assert await storage.delete_prefix(root + "many") == count
        finally:
            del storage._delete_many
        assert sum(batches) == count
        assert max(batches) <= DELETE_BATCH, f"batches of {batches} names"
        assert [info.name async for info in storage.list(root)] == [root + "keep.txt"]
