"""The name rule: unusual names round-trip, unsafe ones are refused everywhere, storing nothing."""

from __future__ import annotations

import asyncio
import unicodedata

import pytest

from bucketry import Storage, UnsafeNameError
from bucketry.names import clean_name
from bucketry_conformance.contract._base import ROUND_TRIP_NAMES, UNSAFE_NAMES, ContractBase, area


class Names(ContractBase):
    @area("names")
    @pytest.mark.parametrize("filename", ROUND_TRIP_NAMES)
    async def test_unusual_names_round_trip(
        self, storage: Storage, root: str, filename: str
    ) -> None:
        data = filename.encode()
        name = await storage.save(root + filename, data)
        assert name == root + filename
        assert await storage.open(name) == data
        listed = [info.name async for info in storage.list(root)]
        assert listed == [name]

    @area("names")
    async def test_unicode_forms_name_one_file(self, storage: Storage, root: str) -> None:
        decomposed = unicodedata.normalize("NFD", "café.txt")
        name = await storage.save(root + decomposed, b"coffee")
        assert name == root + unicodedata.normalize("NFC", "café.txt")
        assert await storage.open(root + decomposed) == b"coffee"
        assert await storage.open(name) == b"coffee"

    @area("names")
    async def test_slash_runs_collapse(self, storage: Storage, root: str) -> None:
        name = await storage.save(root + "a//b///c.txt", b"x")
        assert name == root + "a/b/c.txt"
        assert await storage.open(root + "a/b/c.txt") == b"x"
        # Dots are never stripped: "....//x" is the file "x" in a directory named "....".
        dotted = await storage.save(root + "....//x", b"dots")
        assert dotted == root + "..../x"
        assert await storage.listdir(root + "....") == ([], ["x"])

    @area("names")
    @pytest.mark.parametrize(("unsafe", "why"), UNSAFE_NAMES, ids=[w for _, w in UNSAFE_NAMES])
    async def test_unsafe_names_are_rejected(
        self, storage: Storage, root: str, unsafe: str, why: str
    ) -> None:
        prefixed = unsafe if unsafe.startswith("/") or not unsafe else root + unsafe
        for candidate in {unsafe, prefixed}:
            with pytest.raises(UnsafeNameError):
                await storage.save(candidate, b"x")
            with pytest.raises(UnsafeNameError):
                await storage.open(candidate)
            with pytest.raises(UnsafeNameError):
                await storage.exists(candidate)
            with pytest.raises(UnsafeNameError):
                await storage.delete(candidate)
            # UnsafeNameError is a ValueError, as Django's SuspiciousFileOperation is.
            with pytest.raises(ValueError, match=r"(?i)name|prefix"):
                await storage.stat(candidate)
        assert [info async for info in storage.list(root)] == []

    @area("names")
    async def test_hostile_names_are_rejected_or_round_trip(
        self, storage: Storage, root: str
    ) -> None:
        """Property: any name is either refused with UnsafeNameError, storing nothing, or
        stored and read back exactly, under its canonical form and under the form it was given."""
        from hypothesis import HealthCheck, given, settings
        from hypothesis import strategies as st

        loop = asyncio.get_running_loop()
        excluded = set(self.unstorable_characters)
        hostile = st.sampled_from(
            [
                "..",
                ".",
                "",
                "a",
                "é",
                "e\u0301",
                "\x00",
                "\\",
                "😀",
                " ",
                "%2e%2e",
                "~",
                "\n",
                "\u202e",
                "\uff46\uff55\uff4c\uff4c",  # fullwidth "full"
                "CON",
                "a" * 300,
                "\udc80",
            ]
        )
        segment = st.one_of(hostile, st.text(max_size=12))
        names = st.one_of(
            st.lists(segment, min_size=1, max_size=5).map("/".join),
            st.text(max_size=40),
            st.text(min_size=1000, max_size=1100),
        ).filter(lambda name: not excluded & set(name))

        async def check(name: str) -> None:
            full = root + name
            try:
                canonical = clean_name(full)
            except UnsafeNameError:
                with pytest.raises(UnsafeNameError):
                    await storage.save(full, b"x")
                return
            data = full.encode("utf-8", "surrogatepass")[:64]
            stored = await storage.save(full, data, overwrite=True)
            assert stored == canonical
            assert await storage.open(full) == data
            assert await storage.open(canonical) == data
            assert canonical in [info.name async for info in storage.list(root)]
            await storage.delete(canonical)
            assert not await storage.exists(full)

        @settings(
            max_examples=self.hostile_name_examples,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(names)
        def property_holds(name: str) -> None:
            asyncio.run_coroutine_threadsafe(check(name), loop).result(timeout=60)

        await asyncio.to_thread(property_holds)
