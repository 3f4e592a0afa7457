"""``copy`` and ``move``: content kept, overwrite only when asked."""

from __future__ import annotations

import secrets

import pytest

from bucketry import AlreadyExistsError, Capability, NotFoundError, Storage
from bucketry_conformance.contract._base import ContractBase, area, requires


class CopyMove(ContractBase):
    @area("copy-move")
    async def test_copy(self, storage: Storage, root: str) -> None:
        data = secrets.token_bytes(20000)
        src = await storage.save(root + "src.bin", data)
        assert await storage.copy(src, root + "dir/dst.bin") == root + "dir/dst.bin"
        assert await storage.open(root + "dir/dst.bin") == data
        assert await storage.open(src) == data

    @area("copy-move")
    async def test_copy_refuses_to_overwrite_unless_asked(
        self, storage: Storage, root: str
    ) -> None:
        src = await storage.save(root + "src.txt", b"new")
        dst = await storage.save(root + "dst.txt", b"old")
        with pytest.raises(AlreadyExistsError):
            await storage.copy(src, dst)
        assert await storage.open(dst) == b"old"
        await storage.copy(src, dst, overwrite=True)
        assert await storage.open(dst) == b"new"

    @area("copy-move")
    async def test_move(self, storage: Storage, root: str) -> None:
        src = await storage.save(root + "from.txt", b"moving")
        taken = await storage.save(root + "taken.txt", b"stay")
        with pytest.raises(AlreadyExistsError):
            await storage.move(src, taken)
        assert await storage.open(src) == b"moving"
        assert await storage.open(taken) == b"stay"
        assert await storage.move(src, root + "to/here.txt") == root + "to/here.txt"
        assert not await storage.exists(src)
        assert await storage.open(root + "to/here.txt") == b"moving"
        await storage.move(root + "to/here.txt", taken, overwrite=True)
        assert await storage.open(taken) == b"moving"

    @area("copy-move")
    @requires(Capability.CONTENT_TYPE)
    async def test_copy_keeps_content_type(self, storage: Storage, root: str) -> None:
        src = await storage.save(root + "typed", b"{}", content_type="application/json")
        await storage.copy(src, root + "typed-copy")
        assert (await storage.stat(root + "typed-copy")).content_type == "application/json"

    @area("copy-move")
    async def test_moving_a_file_onto_itself_keeps_it(self, storage: Storage, root: str) -> None:
        name = await storage.save(root + "self.txt", b"still here")
        assert await storage.move(name, name) == name
        assert await storage.move(name, name, overwrite=True) == name
        assert await storage.open(name) == b"still here"
        with pytest.raises(NotFoundError):
            await storage.move(root + "missing.txt", root + "missing.txt")
        assert [info.name async for info in storage.list(root)] == [name]

    @area("copy-move")
    async def test_copying_a_file_onto_itself_keeps_it(self, storage: Storage, root: str) -> None:
        name = await storage.save(root + "self.txt", b"still here")
        with pytest.raises(AlreadyExistsError):
            await storage.copy(name, name)
        await storage.copy(name, name, overwrite=True)
        assert await storage.open(name) == b"still here"
        with pytest.raises(NotFoundError):
            await storage.copy(root + "missing.txt", root + "missing.txt", overwrite=True)
