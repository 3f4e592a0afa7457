"""Deleting files and prefixes: idempotent, exact, and leaving neighbours alone."""

from __future__ import annotations

import pytest

from bucketry import Storage, UnsafeNameError
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
