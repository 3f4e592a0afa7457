"""A missing file is ``NotFoundError`` (a ``FileNotFoundError``) from every operation."""

from __future__ import annotations

import pytest

from bucketry import NotFoundError, Storage
from bucketry_conformance.contract._base import ContractBase, _read, area


class Missing(ContractBase):
    @area("not-found")
    async def test_missing_file_is_not_found_everywhere(self, storage: Storage, root: str) -> None:
        missing = root + "missing.txt"
        assert not await storage.exists(missing)
        with pytest.raises(NotFoundError):
            await storage.open(missing)
        with pytest.raises(NotFoundError):
            await _read(storage, missing)
        with pytest.raises(NotFoundError):
            await _read(storage, missing, start=0, end=0)
        with pytest.raises(NotFoundError):
            await storage.size(missing)
        with pytest.raises(FileNotFoundError):  # the builtin base works too
            await storage.stat(missing)
        with pytest.raises(NotFoundError):
            await storage.copy(missing, root + "copy.txt")
        with pytest.raises(NotFoundError):
            await storage.move(missing, root + "moved.txt")
        assert not await storage.exists(root + "copy.txt")
        assert not await storage.exists(root + "moved.txt")

    @area("not-found")
    async def test_a_directory_prefix_is_not_a_file(self, storage: Storage, root: str) -> None:
        """With ``d/x`` stored, ``d`` is a directory of names, not a file: no operation on a
        file finds it, on a file system as on an object store."""
        await storage.save(root + "d/x.txt", b"inside")
        directory = root + "d"
        assert not await storage.exists(directory)
        await _every_read_finds_nothing(storage, directory, root)
        assert await storage.listdir(root) == (["d"], [])
        assert await storage.open(root + "d/x.txt") == b"inside"

    @area("not-found")
    async def test_a_file_is_not_a_directory(self, storage: Storage, root: str) -> None:
        """With ``f.txt`` stored, ``f.txt/x`` names nothing: a file system cannot descend into a
        file, an object store holds no such key; either way the name is missing."""
        await storage.save(root + "f.txt", b"a file")
        inside = root + "f.txt/x.txt"
        assert not await storage.exists(inside)
        await _every_read_finds_nothing(storage, inside, root)
        await storage.delete(inside)  # deleting what is not there succeeds quietly
        assert await storage.open(root + "f.txt") == b"a file"


async def _every_read_finds_nothing(storage: Storage, name: str, root: str) -> None:
    """Every operation that reads ``name`` raises :class:`NotFoundError`."""
    for operation in (
        lambda: storage.open(name),
        lambda: _read(storage, name),
        lambda: _read(storage, name, start=1, end=3),
        lambda: storage.stat(name),
        lambda: storage.size(name),
        lambda: storage.copy(name, root + "copy"),
        lambda: storage.move(name, root + "moved"),
    ):
        with pytest.raises(NotFoundError):
            await operation()
