"""Taken names: replaced when asked, else a random alternative; ``max_length`` fitting."""

from __future__ import annotations

import re

import pytest

from bucketry import AlreadyExistsError, Storage, UnsafeNameError
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

    @area("overwrite")
    @pytest.mark.parametrize(
        ("filename", "pattern"),
        [
            ("noext", r"noext_[a-zA-Z0-9]{7}"),
            (".env", r"\.env_[a-zA-Z0-9]{7}"),
            (".env.local", r"\.env_[a-zA-Z0-9]{7}\.local"),
            ("archive.tar.gz", r"archive_[a-zA-Z0-9]{7}\.tar\.gz"),
            ("d.v2/file", r"d\.v2/file_[a-zA-Z0-9]{7}"),
        ],
    )
    async def test_alternative_names_keep_the_suffixes(
        self, storage: Storage, root: str, filename: str, pattern: str
    ) -> None:
        """Django's rule: the random part goes before every suffix; a leading dot belongs to
        the stem; a dot in a directory is not a suffix."""
        await storage.save(root + filename, b"first")
        second = await storage.save(root + filename, b"second")
        assert re.fullmatch(re.escape(root) + pattern, second), second
        assert await storage.open(second) == b"second"
        assert await storage.open(root + filename) == b"first"

    @area("overwrite")
    async def test_max_length_is_met_exactly(self, storage: Storage, root: str) -> None:
        """A name cut to fit is cut to exactly ``max_length`` (the stem is shortened, the
        directory and the suffixes are kept), not shorter."""
        long_name = root + "dir/" + "n" * 40 + ".tar.gz"
        max_length = len(long_name) - 10
        fitted = await storage.save(long_name, b"x", max_length=max_length)
        assert len(fitted) == max_length
        assert re.fullmatch(re.escape(root) + r"dir/n+_[a-zA-Z0-9]{7}\.tar\.gz", fitted)
        taken = await storage.save(fitted, b"y", max_length=max_length)
        assert len(taken) == max_length
        assert taken != fitted
        fits = root + "short.txt"
        assert await storage.save(fits, b"z", max_length=len(fits)) == fits
        # A taken name whose alternative is exactly max_length long needs no cut at all.
        exact = len(root + "short_abcdefg.txt")
        alternative = await storage.save(fits, b"again", max_length=exact)
        assert re.fullmatch(re.escape(root) + r"short_[a-zA-Z0-9]{7}\.txt", alternative)

    @area("overwrite")
    async def test_overwrite_never_renames_to_fit(self, storage: Storage, root: str) -> None:
        """``overwrite=True`` means this name: one too long for ``max_length`` is refused, and
        nothing is stored under it or under another name."""
        name = root + "exact-name.txt"
        with pytest.raises(UnsafeNameError):
            await storage.save(name, b"x", overwrite=True, max_length=len(name) - 1)
        assert [info async for info in storage.list(root)] == []
        assert await storage.save(name, b"x", overwrite=True, max_length=len(name)) == name

    @area("overwrite")
    async def test_a_name_that_cannot_fit_is_refused(self, storage: Storage, root: str) -> None:
        await storage.save(root + "taken.txt", b"x")
        with pytest.raises(UnsafeNameError):
            await storage.get_available_name(root + "taken.txt", max_length=len(root) + 4)
        assert [info.name async for info in storage.list(root)] == [root + "taken.txt"]

    @area("names")
    @pytest.mark.parametrize("untrusted", ["???", "a/ .", "  ", "..", "/", ""])
    async def test_get_valid_name_refuses_what_reduces_to_nothing(
        self, storage: Storage, root: str, untrusted: str
    ) -> None:
        with pytest.raises(UnsafeNameError):
            storage.get_valid_name(untrusted)

    @area("names")
    @pytest.mark.parametrize(
        ("untrusted", "valid"),
        [
            ("my  résumé (final).pdf", "my__résumé_final.pdf"),
            ("dir/a b.txt", "dir/a_b.txt"),
            ("..hidden", "..hidden"),
            ("x?y*z", "xyz"),
        ],
    )
    async def test_get_valid_name_makes_a_boring_name(
        self, storage: Storage, root: str, untrusted: str, valid: str
    ) -> None:
        assert storage.get_valid_name(untrusted) == valid
        stored = await storage.save(root + storage.get_valid_name(untrusted), b"x")
        assert stored == root + valid

    @area("overwrite")
    async def test_an_exclusive_create_never_renames(self, storage: Storage, root: str) -> None:
        """``rename=False``: exactly this name, or ``AlreadyExistsError`` and the old file kept
        (fsspec's ``mode="create"``, Python's ``open(name, "x")``)."""
        name = root + "exclusive.txt"
        assert await storage.save(name, b"first", rename=False) == name
        with pytest.raises(AlreadyExistsError):
            await storage.save(name, b"second", rename=False)
        with pytest.raises(AlreadyExistsError):
            await storage.save(name, _chunks([b"third", b" streamed"]), rename=False)
        assert await storage.open(name) == b"first"
        assert [info.name async for info in storage.list(root)] == [name]
        with pytest.raises(UnsafeNameError):  # it cannot be fitted by renaming either
            await storage.save(root + "long-name.txt", b"x", rename=False, max_length=10)
