"""Reads that break or arrive damaged part-way: the core reads again under the retry policy, and
the backend's ``_stream`` must start exactly where it is asked to, or a resumed read would repeat
or skip bytes without anyone noticing.

The breaks are injected around the backend's own ``_stream`` (the primitive every backend
implements), so the same test runs on any backend without a faulty network.
"""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import contextmanager

import pytest

from bucketry import (
    Capability,
    IntegrityError,
    ReadVersion,
    RetryPolicy,
    Storage,
    UnavailableError,
)
from bucketry_conformance.contract._base import ContractBase, _read, area, requires


@dataclasses.dataclass(frozen=True)
class _RecordingPolicy(RetryPolicy):
    """Retries at once, and remembers which delays the core asked for."""

    asked: list[int] = dataclasses.field(default_factory=list)

    def delay(self, retry: int, rng: object = None) -> float:
        self.asked.append(retry)
        return 0.0


@dataclasses.dataclass
class _Reads:
    starts: list[int] = dataclasses.field(default_factory=list)
    """Where each read of the backend was asked to start."""
    breaks: list[int] = dataclasses.field(default_factory=list)
    """Where each broken read stopped: its start plus the bytes it delivered."""
    closed: int = 0
    """How many of those reads have been closed (ended, broken or abandoned)."""
    checked: bool = False
    """Whether the first answer armed a whole-object checksum on the read (``ReadVersion.check``),
    which lets the core resume a whole read instead of reading it again."""


@contextmanager
def _breaking(
    storage: Storage,
    breaks: int,
    error: type[Exception] = UnavailableError,
    before_break: Callable[[], Awaitable[object]] | None = None,
) -> Iterator[_Reads]:
    """Make the first ``breaks`` reads of ``storage`` fail after their first chunk (having
    awaited ``before_break``, if given), and count the reads that are closed."""
    reads = _Reads()
    original: Callable[..., AsyncIterator[bytes]] = storage._stream

    async def broken(
        name: str, start: int, end: int | None, chunk_size: int, version: ReadVersion
    ) -> AsyncIterator[bytes]:
        reads.starts.append(start)
        failing = len(reads.starts) <= breaks
        chunks = original(name, start, end, chunk_size, version)
        try:
            async for chunk in chunks:
                reads.checked = reads.checked or version.check is not None
                yield chunk
                if failing:
                    reads.breaks.append(start + len(chunk))
                    if before_break is not None:
                        await before_break()
                    raise error("connection reset by the contract suite")
        finally:
            reads.closed += 1
            close = getattr(chunks, "aclose", None)  # the backend's read, closed at once
            if close is not None:
                await close()

    storage._stream = broken  # type: ignore[method-assign]
    try:
        yield reads
    finally:
        del storage._stream


@contextmanager
def _policy(storage: Storage, attempts: int) -> Iterator[_RecordingPolicy]:
    saved = storage.retry
    storage.retry = _RecordingPolicy(attempts=attempts)
    try:
        yield storage.retry
    finally:
        storage.retry = saved


class BrokenReads(ContractBase):
    @area("resume")
    async def test_a_broken_ranged_read_resumes_at_the_next_byte(
        self, storage: Storage, root: str
    ) -> None:
        data = secrets.token_bytes(10_000)
        name = await storage.save(root + "resumed.bin", data)
        before = storage.retry_stats.retries
        with _policy(storage, attempts=3), _breaking(storage, breaks=2) as reads:
            read = await _read(storage, name, start=100, end=9_000, chunk_size=1_000)
        assert read == data[100:9_000], "a resumed read repeated or skipped bytes"
        assert reads.starts == [100, *reads.breaks], "each read resumes where the last one broke"
        assert storage.retry_stats.retries - before == 2

    @area("resume")
    @requires(Capability.PINNED_RESUME)
    @pytest.mark.parametrize(
        "options",
        [{"start": 100, "end": 9_000}, {"start": 100}, {}],
        ids=["range", "from-offset", "whole"],
    )
    async def test_a_file_replaced_between_a_break_and_the_resume_is_never_stitched(
        self, storage: Storage, root: str, options: dict[str, int]
    ) -> None:
        """The head of one version and the tail of another would each look right; the resumed
        read must notice the replacement instead."""
        old, new = secrets.token_bytes(10_000), secrets.token_bytes(10_000)
        name = await storage.save(root + "replaced.bin", old)

        async def replace() -> None:
            await storage.save(name, new, overwrite=True)

        with (
            _policy(storage, attempts=3),
            _breaking(storage, breaks=1, before_break=replace) as reads,
            pytest.raises(IntegrityError),
        ):
            await _read(storage, name, chunk_size=1_000, **options)
        assert len(reads.starts) == 2, "the replacement is found by the resumed read"

    @area("resume")
    async def test_a_read_that_keeps_breaking_gives_up_after_the_policy_attempts(
        self, storage: Storage, root: str
    ) -> None:
        name = await storage.save(root + "flaky.bin", secrets.token_bytes(5_000))
        with (
            _policy(storage, attempts=3) as policy,
            _breaking(storage, breaks=99) as reads,
            pytest.raises(UnavailableError),
        ):
            await _read(storage, name, start=1, chunk_size=1_000)
        assert len(reads.starts) == 3, f"{len(reads.starts)} reads for a policy of 3 attempts"
        assert policy.asked == [0, 1], "each resume waits the policy's delay for its retry"

    @area("resume")
    async def test_a_damaged_whole_read_is_read_again(self, storage: Storage, root: str) -> None:
        data = secrets.token_bytes(3 * 64 * 1024)
        name = await storage.save(root + "damaged.bin", data)
        with _policy(storage, attempts=3), _breaking(storage, 1, IntegrityError) as reads:
            assert await storage.open(name) == data
        assert reads.starts == [0, 0], "a whole read is read again from the start, never resumed"

    @area("resume")
    async def test_a_broken_whole_read_is_read_again(self, storage: Storage, root: str) -> None:
        """A whole read is read again from the start, unless its first answer carried the
        object's checksum: then it resumes at the next byte, and the checksum covers both."""
        data = secrets.token_bytes(3 * 64 * 1024)
        name = await storage.save(root + "broken.bin", data)
        with _policy(storage, attempts=3), _breaking(storage, breaks=1) as reads:
            assert await storage.open(name) == data
        if reads.checked:
            assert reads.starts == [0, *reads.breaks], "a checked whole read resumes where it broke"
        else:
            assert reads.starts == [0, 0], "an unchecked whole read is read again from the start"

    @area("resume")
    async def test_a_resumed_whole_read_is_checked_over_every_byte(
        self, storage: Storage, root: str
    ) -> None:
        """Bytes damaged before a break are already yielded when the read resumes: a whole read
        whose first answer carried the object's checksum must still find them at its end."""
        data = secrets.token_bytes(3 * 64 * 1024)
        name = await storage.save(root + "flipped.bin", data)
        original: Callable[..., AsyncIterator[bytes]] = storage._stream
        flipped: list[int] = []

        async def flipping(
            name: str, start: int, end: int | None, chunk_size: int, version: ReadVersion
        ) -> AsyncIterator[bytes]:
            async for chunk in original(name, start, end, chunk_size, version):
                if not flipped:
                    flipped.append(start)
                    yield bytes([chunk[0] ^ 1]) + chunk[1:]
                    raise UnavailableError("connection reset by the contract suite")
                yield chunk

        storage._stream = flipping  # type: ignore[method-assign]
        try:
            with _policy(storage, attempts=3):
                version = ReadVersion(name)
                chunks = storage._resuming(version, 0, None, 1_000)
                try:
                    got: bytes | None = b"".join([chunk async for chunk in chunks])
                except IntegrityError:
                    got = None
        finally:
            del storage._stream
        if version.check is None:
            pytest.skip("the backend's answers carry no whole-object checksum")
        assert got is None, "a resumed whole read yielded damaged bytes without a word"

    @area("resume")
    async def test_a_read_abandoned_early_closes_the_backend_read_at_once(
        self, storage: Storage, root: str
    ) -> None:
        """A client that goes away mid-download: closing the stream closes the backend's read
        (a file, a connection, ranges in flight) there and then, not at garbage collection."""
        name = await storage.save(root + "abandoned.bin", secrets.token_bytes(10_000))
        with _breaking(storage, breaks=0) as reads:
            for options in ({}, {"start": 10}):
                chunks = storage.stream(name, chunk_size=1_000, **options)
                await anext(chunks)
                await chunks.aclose()  # type: ignore[attr-defined]
                assert reads.closed == len(reads.starts), (
                    f"the backend's read is still open ({options})"
                )
