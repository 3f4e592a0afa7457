"""``list`` and ``listdir``: exact prefixes, derived directories, pages."""

from __future__ import annotations

import asyncio

import pytest

from bucketry import FileInfo, Storage, UnsafeNameError
from bucketry_conformance.contract._base import ContractBase, area


class Listing(ContractBase):
    @area("listing")
    async def test_listdir_separates_dirs_and_files(self, storage: Storage, root: str) -> None:
        for name in ("a.txt", "b.txt", "sub/c.txt", "sub/deeper/d.txt", "other/e.txt"):
            await storage.save(root + name, b"x")
        assert await storage.listdir(root) == (["other", "sub"], ["a.txt", "b.txt"])
        assert await storage.listdir(root + "sub") == (["deeper"], ["c.txt"])
        assert await storage.listdir(root + "sub/") == (["deeper"], ["c.txt"])
        assert await storage.listdir(root + "nothing-here") == ([], [])

    @area("listing")
    async def test_recursive_and_flat_listing(self, storage: Storage, root: str) -> None:
        names = {root + n for n in ("a.txt", "sub/c.txt", "sub/deeper/d.txt")}
        for name in names:
            await storage.save(root + name[len(root) :], name.encode())
        everything = {info.name: info async for info in storage.list(root)}
        assert set(everything) == names
        for name, info in everything.items():
            assert isinstance(info, FileInfo)
            assert info.size == len(name.encode())
        flat = {info.name async for info in storage.list(root, recursive=False)}
        assert flat == {root + "a.txt"}
        assert {info.name async for info in storage.list(root + "sub")} == {
            root + "sub/c.txt",
            root + "sub/deeper/d.txt",
        }

    @area("listing")
    async def test_prefix_boundaries_are_exact(self, storage: Storage, root: str) -> None:
        await storage.save(root + "a/b/in.txt", b"x")
        await storage.save(root + "a/b_c/out.txt", b"x")
        await storage.save(root + "a/bc.txt", b"x")
        await storage.save(root + "a/b.txt", b"x")
        assert [info.name async for info in storage.list(root + "a/b/")] == [root + "a/b/in.txt"]
        assert [info.name async for info in storage.list(root + "a/b")] == [root + "a/b/in.txt"]
        assert await storage.listdir(root + "a/b") == ([], ["in.txt"])
        assert await storage.listdir(root + "a") == (["b", "b_c"], ["b.txt", "bc.txt"])

    @area("listing")
    async def test_listing_spans_pages(self, storage: Storage, root: str) -> None:
        count = 2 * self.list_page_size + 1 if self.list_page_size else 25
        expected = {f"{root}many/{index:04d}.txt" for index in range(count)}
        await asyncio.gather(*(storage.save(name, b"x") for name in expected))
        assert {info.name async for info in storage.list(root + "many")} == expected
        dirs, files = await storage.listdir(root + "many")
        assert dirs == []
        assert len(files) == count

    @area("listing")
    async def test_listing_rejects_unsafe_prefixes(self, storage: Storage, root: str) -> None:
        with pytest.raises(UnsafeNameError):
            await storage.listdir("../")
        with pytest.raises(UnsafeNameError):
            [info async for info in storage.list("/abs")]

    @area("listing")
    async def test_the_storage_root_lists(self, storage: Storage, root: str) -> None:
        """``listdir()`` and ``list()`` with no argument start at the storage root, where this
        test's own directory is one entry among whatever else the storage holds."""
        name = await storage.save(root + "top/file.txt", b"x")
        directories, files = await storage.listdir()
        assert root.rstrip("/") in directories
        assert not any(file.startswith(root.rstrip("/")) for file in files)
        assert await storage.listdir("") == (directories, files)
        assert name in [info.name async for info in storage.list()]
        flat = [info.name async for info in storage.list(recursive=False)]
        assert name not in flat
