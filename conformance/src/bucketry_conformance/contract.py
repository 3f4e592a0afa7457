"""``StorageContract``: the tests every bucketry backend must pass.

Subclass it in a test module and override the ``storage`` fixture::

    class TestMyStorage(StorageContract):
        @pytest.fixture
        async def storage(self):
            async with MyStorage(...) as storage:
                yield storage

Every test runs under a fresh random prefix and removes what it wrote. A test that needs an optional
capability the backend does not declare is skipped with a reason starting ``unsupported:``, which
the plugin counts as *unsupported*, never as passed.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import io
import re
import secrets
import unicodedata
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import pytest

from bucketry import (
    AlreadyExistsError,
    Capability,
    FileInfo,
    NotFoundError,
    Storage,
    TooLargeError,
    UnsafeNameError,
    UnsupportedError,
)
from bucketry.names import clean_name

__all__ = ["UNSAFE_NAMES", "StorageContract", "area", "known_gap", "requires"]

MiB = 1024 * 1024


def area(name: str) -> pytest.MarkDecorator:
    """Group a contract test under an area of the report (``round-trip``, ``listing``, …)."""
    return pytest.mark.bucketry_area(name)


def requires(capability: Capability) -> pytest.MarkDecorator:
    """Run the test only where the backend declares ``capability``; else report it unsupported."""
    return pytest.mark.bucketry_requires(capability)


def known_gap(test: Callable[..., Any], reason: str) -> Callable[..., Any]:
    """A copy of a contract test, marked as an expected failure with ``reason``, not run.

    For a subclass whose backend (or its emulator) cannot show one part of the contract::

        class TestMyContract(StorageContract):
            test_signed_put_url_works_with_a_plain_http_client = known_gap(
                StorageContract.test_signed_put_url_works_with_a_plain_http_client,
                "the emulator does not check signatures",
            )

    The report counts it as an *expected failure*, never as passed. The original test is left
    untouched: marking it directly would mark it for every other subclass too.
    """

    @functools.wraps(test)
    async def copy(self: Any, *args: Any, **kwargs: Any) -> Any:
        return await test(self, *args, **kwargs)

    marks = list(getattr(test, "pytestmark", []))  # a new list: wraps() shared the original's
    copy.pytestmark = [*marks, pytest.mark.xfail(reason=reason, run=False).mark]  # type: ignore[attr-defined]
    return copy


UNSAFE_NAMES: list[tuple[str, str]] = [
    ("", "empty"),
    ("/etc/passwd", "absolute"),
    ("../escape.txt", "parent segment"),
    ("a/../../escape.txt", "parent segment inside"),
    ("./x", "current-directory segment"),
    ("a\\b.txt", "backslash"),
    ("..\\..\\windows.txt", "backslash traversal"),
    ("nul\x00byte.txt", "NUL"),
    ("line\nbreak.txt", "newline"),
    ("tab\there.txt", "tab"),
    ("bell\x07.txt", "control character"),
    ("del\x7f.txt", "DEL"),
    ("dir/", "trailing slash names a directory"),
    ("x" * 1025, "longer than 1024 bytes"),
    ("é" * 513, "longer than 1024 bytes in UTF-8"),
    ("lone\udc80surrogate.txt", "lone surrogate"),
    ("dir/" + "s" * 256 + ".txt", "segment over 255 bytes"),
    ("é" * 128, "segment over 255 bytes in UTF-8"),
    ("dir/.bucketry-tmp-x", "reserved temp-file prefix"),
]

ROUND_TRIP_NAMES: list[str] = [
    "with space.txt",
    "unicode-ñandú-中文.txt",
    "emoji-😀-🚀.bin",
    "punct !@#$%^&()_+-=;',..txt",
    "deep/ly/nested/file.txt",
    "no-extension",
    ".dotfile",
    "UPPER-lower.TXT",
    "s" * 251 + ".txt",  # a segment of exactly 255 bytes
]

ALTERNATIVE = re.compile(r"_[a-zA-Z0-9]{7}")


async def _chunks(parts: list[bytes]) -> AsyncIterator[bytes]:
    for part in parts:
        await asyncio.sleep(0)
        yield part


async def _read(storage: Storage, name: str, **kwargs: Any) -> bytes:
    return b"".join([chunk async for chunk in storage.stream(name, **kwargs)])


class _AsyncFile:
    """A minimal async file-like object, the shape of Starlette's ``UploadFile``."""

    def __init__(self, data: bytes) -> None:
        self._buffer = io.BytesIO(data)

    async def read(self, size: int = -1) -> bytes:
        await asyncio.sleep(0)
        return self._buffer.read(size)

    async def seek(self, offset: int) -> int:
        return self._buffer.seek(offset)


class StorageContract:
    """The contract suite. Override ``storage``; tune the class attributes below if needed."""

    pytestmark: ClassVar[list[pytest.MarkDecorator]] = [pytest.mark.anyio]

    list_page_size: ClassVar[int | None] = None
    """Entries per listing page the backend was configured with; the paging test lists more."""
    concurrent_saves: ClassVar[int] = 64
    """How many saves of one name race in the concurrency test."""
    large_upload_size: ClassVar[int] = 16 * MiB
    """Size of the streamed-upload test."""
    hostile_name_examples: ClassVar[int] = 120
    """How many generated names the hostile-name property tries."""
    unstorable_characters: ClassVar[str] = ""
    """Characters a known gap keeps out of generated names (say why in your subclass)."""

    # -- fixtures --------------------------------------------------------------------------------

    @pytest.fixture
    def storage(self) -> Storage:
        """Override this in your subclass with an (async) fixture yielding your storage."""
        pytest.fail(
            "StorageContract needs a `storage` fixture: override it in your subclass to yield an "
            "open instance of the backend under test."
        )

    @pytest.fixture(autouse=True)
    async def root(self, request: pytest.FixtureRequest, storage: Storage) -> AsyncIterator[str]:
        """A fresh directory prefix for one test; everything under it is removed afterwards."""
        backend = storage.backend_name or type(storage).__name__
        for mark in request.node.iter_markers("bucketry_requires"):
            capability = Capability(mark.args[0])
            if not storage.supports(capability):
                pytest.skip(f"unsupported: {backend} does not declare {capability.value!r}")
        prefix = f"bucketry-contract-{secrets.token_hex(6)}/"
        yield prefix
        try:
            async for info in storage.list(prefix):
                await storage.delete(info.name)
        except Exception:  # cleanup must not hide the test's own outcome
            pass

    # -- round trip ------------------------------------------------------------------------------

    @area("round-trip")
    async def test_bytes_round_trip(self, storage: Storage, root: str) -> None:
        name = await storage.save(root + "hello.txt", b"hello world")
        assert name == root + "hello.txt"
        assert await storage.open(name) == b"hello world"
        assert await storage.exists(name)
        assert await storage.size(name) == 11

    @area("round-trip")
    async def test_empty_file_round_trip(self, storage: Storage, root: str) -> None:
        name = await storage.save(root + "empty", b"")
        assert await storage.open(name) == b""
        assert await storage.size(name) == 0
        assert await storage.exists(name)

    @area("round-trip")
    @pytest.mark.parametrize(
        "make_content",
        [
            pytest.param(lambda data: bytearray(data), id="bytearray"),
            pytest.param(lambda data: memoryview(data), id="memoryview"),
            pytest.param(lambda data: io.BytesIO(data), id="sync-file"),
            pytest.param(lambda data: _AsyncFile(data), id="async-file"),
            pytest.param(
                lambda data: _chunks([data[i : i + 1000] for i in range(0, len(data), 1000)]),
                id="async-iterable",
            ),
        ],
    )
    async def test_every_content_kind_round_trips(
        self, storage: Storage, root: str, make_content: Callable[[bytes], Any]
    ) -> None:
        data = secrets.token_bytes(5000)
        name = await storage.save(root + "kind.bin", make_content(data))
        assert await storage.open(name) == data

    @area("round-trip")
    async def test_multi_chunk_stream_round_trip(self, storage: Storage, root: str) -> None:
        parts = [secrets.token_bytes(size) for size in (1, 7, 65536, 3, 300000, 0, 11)]
        name = await storage.save(root + "chunks.bin", _chunks(parts))
        assert await storage.open(name) == b"".join(parts)

    @area("round-trip")
    async def test_large_streamed_upload(self, storage: Storage, root: str) -> None:
        block = secrets.token_bytes(MiB)
        count = self.large_upload_size // MiB
        expected = hashlib.sha256()

        async def produce() -> AsyncIterator[bytes]:
            for index in range(count):
                chunk = index.to_bytes(4, "big") + block[4:]
                expected.update(chunk)
                yield chunk

        name = await storage.save(root + "large.bin", produce())
        assert await storage.size(name) == count * MiB
        received = hashlib.sha256()
        async for chunk in storage.stream(name):
            received.update(chunk)
        assert received.hexdigest() == expected.hexdigest()

    @area("round-trip")
    async def test_saving_text_is_refused(self, storage: Storage, root: str) -> None:
        with pytest.raises(TypeError, match="encode"):
            await storage.save(root + "text.txt", "not bytes")  # type: ignore[arg-type]
        assert not await storage.exists(root + "text.txt")

    # -- names -----------------------------------------------------------------------------------

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

    # -- missing files ---------------------------------------------------------------------------

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

    # -- overwrite and available names -----------------------------------------------------------

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

    # -- size limits and failures leave nothing --------------------------------------------------

    @area("max-size")
    async def test_max_size_rejects_bytes(self, storage: Storage, root: str) -> None:
        with pytest.raises(TooLargeError):
            await storage.save(root + "big.bin", b"x" * 101, max_size=100)
        assert not await storage.exists(root + "big.bin")
        name = await storage.save(root + "fits.bin", b"x" * 100, max_size=100)
        assert await storage.size(name) == 100

    @area("max-size")
    async def test_max_size_stops_a_stream_early(self, storage: Storage, root: str) -> None:
        produced = 0

        async def endless() -> AsyncIterator[bytes]:
            nonlocal produced
            while produced < 1000:
                produced += 1
                yield b"x" * 1024

        with pytest.raises(TooLargeError):
            await storage.save(root + "endless.bin", endless(), max_size=10 * 1024)
        assert produced <= 12, "the upload must stop as soon as it passes max_size"
        assert not await storage.exists(root + "endless.bin")
        assert [info async for info in storage.list(root)] == []

    @area("failure")
    async def test_failing_stream_leaves_nothing(self, storage: Storage, root: str) -> None:
        async def broken() -> AsyncIterator[bytes]:
            yield b"partial data" * 1000
            raise RuntimeError("the client went away")

        with pytest.raises(RuntimeError, match="went away"):
            await storage.save(root + "broken.bin", broken())
        assert not await storage.exists(root + "broken.bin")
        assert [info async for info in storage.list(root)] == []

    @area("failure")
    async def test_failing_stream_keeps_the_old_file(self, storage: Storage, root: str) -> None:
        await storage.save(root + "keep.bin", b"old")

        async def broken() -> AsyncIterator[bytes]:
            yield b"new"
            raise RuntimeError("interrupted")

        with pytest.raises(RuntimeError):
            await storage.save(root + "keep.bin", broken(), overwrite=True)
        assert await storage.open(root + "keep.bin") == b"old"

    @area("failure")
    async def test_cancelled_save_leaves_nothing(self, storage: Storage, root: str) -> None:
        started = asyncio.Event()

        async def slow() -> AsyncIterator[bytes]:
            yield b"first part" * 1000
            started.set()
            await asyncio.sleep(3600)
            yield b"never"

        task = asyncio.ensure_future(storage.save(root + "cancelled.bin", slow()))
        await asyncio.wait_for(started.wait(), 30)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert not await storage.exists(root + "cancelled.bin")
        assert [info async for info in storage.list(root)] == []

    # -- range reads -----------------------------------------------------------------------------

    @area("ranges")
    async def test_ranges(self, storage: Storage, root: str) -> None:
        data = bytes(range(256)) * 4
        name = await storage.save(root + "range.bin", data)
        assert await _read(storage, name, start=10) == data[10:]
        assert await _read(storage, name, end=10) == data[:10]
        assert await _read(storage, name, start=100, end=356) == data[100:356]
        assert await _read(storage, name, start=1000, end=5000) == data[1000:]
        assert await _read(storage, name, start=5000) == b""
        assert await _read(storage, name, start=20, end=20) == b""
        assert await _read(storage, name, start=20, end=10) == b""
        with pytest.raises(ValueError, match="non-negative"):
            await _read(storage, name, start=-1)

    @area("ranges")
    async def test_chunk_size_is_respected(self, storage: Storage, root: str) -> None:
        data = secrets.token_bytes(10000)
        name = await storage.save(root + "chunked.bin", data)
        chunks = [chunk async for chunk in storage.stream(name, chunk_size=1024)]
        assert b"".join(chunks) == data
        assert all(len(chunk) <= 1024 for chunk in chunks)

    @area("ranges")
    async def test_stopping_a_stream_early_is_clean(self, storage: Storage, root: str) -> None:
        name = await storage.save(root + "early.bin", secrets.token_bytes(300000))
        stream = storage.stream(name, chunk_size=1000)
        async for _ in stream:
            break
        await stream.aclose()  # type: ignore[attr-defined]
        assert await storage.size(name) == 300000

    # -- listing ---------------------------------------------------------------------------------

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

    # -- properties ------------------------------------------------------------------------------

    @area("stat")
    async def test_stat_describes_the_file(self, storage: Storage, root: str) -> None:
        before = datetime.now(UTC) - timedelta(minutes=5)
        name = await storage.save(root + "stat.txt", b"twelve bytes")
        info = await storage.stat(name)
        assert info.name == name
        assert info.size == 12
        if info.last_modified is not None:
            assert info.last_modified.tzinfo is not None
            assert before <= info.last_modified <= datetime.now(UTC) + timedelta(minutes=5)
        await storage.save(name, b"other content", overwrite=True)
        changed = await storage.stat(name)
        assert changed.size == 13
        if info.etag is not None:
            assert changed.etag is not None
            assert changed.etag != info.etag

    @area("metadata")
    @requires(Capability.CONTENT_TYPE)
    async def test_content_type_round_trips(self, storage: Storage, root: str) -> None:
        name = await storage.save(root + "page", b"<p>hi</p>", content_type="text/html")
        assert (await storage.stat(name)).content_type == "text/html"

    @area("metadata")
    @requires(Capability.METADATA)
    async def test_metadata_round_trips(self, storage: Storage, root: str) -> None:
        metadata = {"owner": "ada", "purpose": "test-run", "unicode": "ñandú"}
        name = await storage.save(root + "meta.txt", b"x", metadata=metadata)
        assert dict((await storage.stat(name)).metadata) == metadata
        listed = [info async for info in storage.list(root)]
        assert [info.name for info in listed] == [name]

    # -- copy and move ---------------------------------------------------------------------------

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

    # -- addresses -------------------------------------------------------------------------------

    @area("urls")
    @requires(Capability.PUBLIC_URL)
    async def test_url_shape(self, storage: Storage, root: str) -> None:
        from urllib.parse import unquote, urlsplit

        name = root + "dir/a file ñ#?.txt"
        url = storage.url(name)
        assert isinstance(url, str)
        assert " " not in url
        assert "#" not in url.rsplit("/", 1)[-1]
        assert unquote(urlsplit(url).path).endswith(name)

    @area("urls")
    @requires(Capability.SIGNED_URL)
    async def test_signed_get_url_works_with_a_plain_http_client(
        self, storage: Storage, root: str
    ) -> None:
        data = secrets.token_bytes(2048)
        name = await storage.save(root + "signed file.bin", data)
        url = await storage.signed_url(name, expires=300)
        status, body = await asyncio.to_thread(_http, "GET", url)
        assert status == 200
        assert body == data

    @area("urls")
    @requires(Capability.SIGNED_URL)
    async def test_signed_put_url_works_with_a_plain_http_client(
        self, storage: Storage, root: str
    ) -> None:
        name = root + "uploaded.bin"
        url = await storage.signed_url(name, expires=300, method="PUT")
        headers = dict(storage.signed_put_headers)
        status, _ = await asyncio.to_thread(_http, "PUT", url, b"sent by a browser", headers)
        assert 200 <= status < 300
        assert await storage.open(name) == b"sent by a browser"

    # -- honesty and lifecycle -------------------------------------------------------------------

    @area("capabilities")
    @pytest.mark.parametrize("capability", list(Capability), ids=[c.value for c in Capability])
    async def test_capability_declarations_are_honest(
        self, storage: Storage, root: str, capability: Capability
    ) -> None:
        declared = storage.supports(capability)
        name = root + "honest.txt"
        if capability is Capability.PUBLIC_URL:
            if declared:
                assert isinstance(storage.url(name), str)
            else:
                with pytest.raises(UnsupportedError):
                    storage.url(name)
        elif capability is Capability.SIGNED_URL:
            await storage.save(name, b"x")
            if declared:
                assert isinstance(await storage.signed_url(name), str)
            else:
                with pytest.raises(UnsupportedError):
                    await storage.signed_url(name)
        elif capability is Capability.METADATA:
            if declared:
                await storage.save(name, b"x", metadata={"k": "v"})
                assert dict((await storage.stat(name)).metadata) == {"k": "v"}
            else:
                with pytest.raises(UnsupportedError):
                    await storage.save(name, b"x", metadata={"k": "v"})
                assert not await storage.exists(name), "a refused save must store nothing"
        elif capability is Capability.CONTENT_TYPE:
            await storage.save(name, b"x", content_type="application/x-bucketry")
            content_type = (await storage.stat(name)).content_type
            assert (content_type == "application/x-bucketry") is declared
        elif capability is Capability.CONDITIONAL_CREATE:
            first = await storage.save(name, b"1")
            assert await storage.save(name, b"2") != first
            assert await storage.open(first) == b"1"
        elif capability is Capability.SERVER_SIDE_COPY:
            await storage.save(name, b"x")
            await storage.copy(name, root + "copy.txt")
            assert await storage.open(root + "copy.txt") == b"x"
        else:  # pragma: no cover - a new capability must get a check here
            pytest.fail(f"No honesty check for capability {capability!r}.")

    @area("lifecycle")
    async def test_close_and_reuse(self, storage: Storage, root: str) -> None:
        name = await storage.save(root + "life.txt", b"alive")
        await storage.aclose()
        await storage.aclose()
        assert await storage.open(name) == b"alive"
        async with storage as same:
            assert same is storage
        assert await storage.exists(name)

    @area("lifecycle")
    async def test_secrets_stay_out_of_repr(self, storage: Storage, root: str) -> None:
        shown = repr(storage)
        for option in storage.secret_options:
            value = getattr(storage, option, None)
            if isinstance(value, str) and value:
                assert value not in shown


def _http(
    method: str, url: str, body: bytes | None = None, extra: dict[str, str] | None = None
) -> tuple[int, bytes]:
    # A binary type, as a browser sends for a file; urllib's default is a form encoding.
    headers = {"Content-Type": "application/octet-stream"} if body is not None else {}
    headers.update(extra or {})
    request = urllib.request.Request(url, data=body, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return int(response.status), bytes(response.read())
    except urllib.error.HTTPError as exc:
        return int(exc.code), bytes(exc.read())
