"""Taken names: replaced when asked, else a random alternative; ``max_length`` fitting."""

from __future__ import annotations

import re

import pytest

from bucketry import Storage, UnsafeNameError
from bucketry_conformance.contract._base import ContractBase, _chunks, area


class Overwrite(ContractBase):
    @area("overwrite")
    async def test_overwrite_replaces(self, storage: Storage, root: str) -> None:
        first = await storage.save(root + "doc.txt", b"first")
        second = await storage.save(root + "doc.txt", b"second version", overwrite=True)
        assert first == second == root + "doc.txt"
        assert await storage.open(first) == b"second version"
        assert await storage.size(first) == len(b"second version")

    @area("overwrite")
    async def test_taken_name_gets_random_alternative(self, storage: Storage, root: str) -> None:
        first = await storage.save(root + "photo.tar.gz", b"one")
        second = await storage.save(root + "photo.tar.gz", b"two")
        assert first == root + "photo.tar.gz"
        assert second != first
        assert re.fullmatch(re.escape(root) + r"photo_[a-zA-Z0-9]{7}\.tar\.gz", second)
        assert await storage.open(first) == b"one"
        assert await storage.open(second) == b"two"

    @area("overwrite")
    async def test_taken_name_with_a_stream(self, storage: Storage, root: str) -> None:
        await storage.save(root + "s.bin", b"original")
        second = await storage.save(root + "s.bin", _chunks([b"re", b"placement"]))
        assert second != root + "s.bin"
        assert await storage.open(root + "s.bin") == b"original"
        assert await storage.open(second) == b"replacement"

    @area("overwrite")
    async def test_max_length_is_honoured(self, storage: Storage, root: str) -> None:
        long_name = root + "a-rather-long-file-name.txt"
        max_length = len(long_name) - 5
        name = await storage.save(long_name, b"x", max_length=max_length)
        assert len(name) <= max_length
        assert name.endswith(".txt")
        again = await storage.save(name, b"y", max_length=max_length)
        assert again != name
        assert len(again) <= max_length
        await storage.save(root + "x.txt", b"z", max_length=len(root) + 5)
        with pytest.raises(UnsafeNameError):  # no room left for a random suffix
            await storage.save(root + "x.txt", b"z", max_length=len(root) + 5)

    @area("overwrite")
    async def test_get_available_name(self, storage: Storage, root: str) -> None:
        assert await storage.get_available_name(root + "free.txt") == root + "free.txt"
        await storage.save(root + "free.txt", b"x")
        other = await storage.get_available_name(root + "free.txt")
        assert re.fullmatch(re.escape(root) + r"free_[a-zA-Z0-9]{7}\.txt", other)
        assert storage.get_valid_name("my  résumé (final).pdf") == "my__résumé_final.pdf"
