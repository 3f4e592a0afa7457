"""The name rule: unusual names round-trip, unsafe ones are refused everywhere, storing nothing."""

from __future__ import annotations

import asyncio
import unicodedata
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from bucketry import Storage, UnsafeNameError
from bucketry_conformance.contract._base import (
    ROUND_TRIP_NAMES,
    UNSAFE_NAMES,
    ContractBase,
    _read,
    area,
)

MAX_NAME_BYTES = 1024
MAX_SEGMENT_BYTES = 255
RESERVED_PREFIX = ".bucketry-tmp-"


def expected_name(name: object) -> str | None:
    """The documented name rule, written again from its description, as the oracle of the
    hostile-name property: the canonical form of ``name``, or ``None`` if it must be refused."""
    if not isinstance(name, str):
        return None
    if any(char == "\\" or unicodedata.category(char) == "Cc" for char in name):
        return None
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return None
    canonical = unicodedata.normalize("NFC", name)
    if canonical.startswith("/"):
        return None
    while "//" in canonical:
        canonical = canonical.replace("//", "/")
    if not canonical or canonical.endswith("/"):
        return None
    if len(canonical.encode("utf-8")) > MAX_NAME_BYTES:
        return None
    for segment in canonical.split("/"):
        if segment in (".", "..") or segment.startswith(RESERVED_PREFIX):
            return None
        if len(segment.encode("utf-8")) > MAX_SEGMENT_BYTES:
            return None
    return canonical


ENTRY_POINT_UNSAFE = ["../x", "a/../../x", "a\\b", "nul\x00", "x" * 1025, "d/.bucketry-tmp-1"]


async def _url(storage: Storage, name: Any) -> str:
    return storage.url(name)


async def _valid_name(storage: Storage, name: Any) -> str:
    return storage.get_valid_name(name)


NAME_ENTRY_POINTS: dict[str, Callable[[Storage, Any, str], Awaitable[object]]] = {
    "save": lambda storage, name, _: storage.save(name, b"x"),
    "save-overwrite": lambda storage, name, _: storage.save(name, b"x", overwrite=True),
    "open": lambda storage, name, _: storage.open(name),
    "stream": lambda storage, name, _: _read(storage, name),
    "stream-range": lambda storage, name, _: _read(storage, name, start=1, end=2),
    "exists": lambda storage, name, _: storage.exists(name),
    "stat": lambda storage, name, _: storage.stat(name),
    "size": lambda storage, name, _: storage.size(name),
    "delete": lambda storage, name, _: storage.delete(name),
    "copy-from": lambda storage, name, source: storage.copy(name, source + ".copy"),
    "copy-to": lambda storage, name, source: storage.copy(source, name),
    "copy-over": lambda storage, name, source: storage.copy(source, name, overwrite=True),
    "move-from": lambda storage, name, source: storage.move(name, source + ".moved"),
    "move-to": lambda storage, name, source: storage.move(source, name),
    "move-over": lambda storage, name, source: storage.move(source, name, overwrite=True),
    "url": lambda storage, name, _: _url(storage, name),
    "signed-url": lambda storage, name, _: storage.signed_url(name),
    "get-available-name": lambda storage, name, _: storage.get_available_name(name),
    "get-valid-name": lambda storage, name, _: _valid_name(storage, name),
}


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
        stored and read back exactly, under its canonical form and under the form it was given.
        Which one is decided by :func:`expected_name`, the documented rule written a second
        time, independently of the code under test."""
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
            canonical = expected_name(full)
            if canonical is None:
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

    @area("names")
    @pytest.mark.parametrize("operation", sorted(NAME_ENTRY_POINTS))
    async def test_every_entry_point_applies_the_name_rule(
        self, storage: Storage, root: str, operation: str
    ) -> None:
        """Every method that takes a name refuses an unsafe one, and a non-``str``, with
        :class:`UnsafeNameError` before doing anything: nothing is stored, moved or deleted."""
        source = await storage.save(root + "source.txt", b"kept")
        call = NAME_ENTRY_POINTS[operation]
        for unsafe in [*ENTRY_POINT_UNSAFE, *(root + name for name in ENTRY_POINT_UNSAFE)]:
            with pytest.raises(UnsafeNameError):
                await call(storage, unsafe, source)
        for wrong_type in (None, b"a.txt", 7, ["a.txt"]):
            with pytest.raises(UnsafeNameError):
                await call(storage, wrong_type, source)
        assert [info.name async for info in storage.list(root)] == [source]
        assert await storage.open(source) == b"kept"

    @area("names")
    async def test_the_longest_name_round_trips_and_one_byte_more_is_refused(
        self, storage: Storage, root: str
    ) -> None:
        """1024 bytes of UTF-8 is the limit of a whole name, 255 of one segment (what S3, GCS,
        Azure and file systems all take)."""
        filler = ("l" * 200 + "/") * 5 + "l" * 200
        longest = (root + filler)[:MAX_NAME_BYTES]
        if longest.endswith("/"):
            longest = longest[:-1] + "l"
        assert len(longest.encode()) == MAX_NAME_BYTES
        assert max(len(s) for s in longest.split("/")) <= MAX_SEGMENT_BYTES
        assert await storage.save(longest, b"longest") == longest
        assert await storage.open(longest) == b"longest"
        assert [info.name async for info in storage.list(root)] == [longest]
        for refused in (longest + "x", longest[:-1] + "é"):
            with pytest.raises(UnsafeNameError, match="1024"):
                await storage.save(refused, b"x")
        segment = root + "e" * MAX_SEGMENT_BYTES
        assert await storage.save(segment, b"widest") == segment
        for refused in (segment + "x", root + "é" * 128, root + "d/" + "😀" * 64):
            with pytest.raises(UnsafeNameError):
                await storage.save(refused, b"x")
            with pytest.raises(UnsafeNameError):
                await storage.exists(refused)
        assert sorted([info.name async for info in storage.list(root)]) == sorted(
            [longest, segment]
        )
