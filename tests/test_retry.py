"""The retry policy: only transient failures, bounded delays, a deadline, and resumed reads."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import pytest

from bucketry import (
    IntegrityError,
    NotFoundError,
    ReadVersion,
    RetryPolicy,
    RetryStats,
    UnavailableError,
)
from bucketry_memory import MemoryStorage

pytestmark = pytest.mark.anyio


def failing(times: int, error: Exception, result: str = "ok"):  # type: ignore[no-untyped-def]
    calls = 0

    async def operation() -> str:
        nonlocal calls
        calls += 1
        if calls <= times:
            raise error
        return result

    return operation, lambda: calls


async def test_transient_failures_are_retried_with_stats() -> None:
    stats = RetryStats()
    operation, calls = failing(3, UnavailableError("503"))
    policy = RetryPolicy(attempts=5, base_delay=0.001)
    assert await policy.call(operation, stats=stats) == "ok"
    assert calls() == 4
    assert (stats.calls, stats.retries, stats.gave_up) == (1, 3, 0)
    assert stats.by_error == {"UnavailableError": 3}


@pytest.mark.parametrize("error", [NotFoundError("gone"), ValueError("bug")])
async def test_answers_are_not_retried(error: Exception) -> None:
    operation, calls = failing(1, error)
    with pytest.raises(type(error)):
        await RetryPolicy(base_delay=0.001).call(operation)
    assert calls() == 1


async def test_integrity_errors_are_retried_only_when_asked() -> None:
    operation, calls = failing(1, IntegrityError("flipped"))
    assert await RetryPolicy(base_delay=0.001).call(operation) == "ok"
    operation, calls = failing(1, IntegrityError("flipped"))
    with pytest.raises(IntegrityError):
        await RetryPolicy(base_delay=0.001).call(operation, retry_integrity=False)
    assert calls() == 1


async def test_attempts_and_deadline_bound_the_call() -> None:
    stats = RetryStats()
    operation, calls = failing(100, UnavailableError("down"))
    with pytest.raises(UnavailableError):
        await RetryPolicy(attempts=3, base_delay=0.001).call(operation, stats=stats)
    assert calls() == 3
    assert stats.gave_up == 1
    operation, calls = failing(100, UnavailableError("down"))
    started = time.monotonic()
    with pytest.raises(UnavailableError):
        await RetryPolicy(attempts=1000, base_delay=0.05, max_delay=0.05, deadline=0.3).call(
            operation
        )
    assert time.monotonic() - started < 1.0


def test_delays_grow_with_full_jitter_and_a_cap() -> None:
    import random

    policy = RetryPolicy(base_delay=0.1, max_delay=1.0)
    rng = random.Random(7)
    for retry in range(10):
        ceiling = min(1.0, 0.1 * 2**retry)
        samples = [policy.delay(retry, rng) for _ in range(200)]
        assert all(0 <= sample <= ceiling for sample in samples)
        assert max(samples) > ceiling * 0.8


async def test_timeouts_become_transient_errors() -> None:
    import asyncio

    async def slow() -> None:
        await asyncio.sleep(10)

    with pytest.raises(UnavailableError, match="longer than"):
        await RetryPolicy(attempts=2, base_delay=0.001, timeout=0.05).call(slow)


class FlakyReads(MemoryStorage):
    """Breaks the connection once, mid-file, the way a reset does."""

    broke = False

    async def _stream(
        self, name: str, start: int, end: int | None, chunk_size: int, version: ReadVersion
    ) -> AsyncIterator[bytes]:
        sent = 0
        async for chunk in super()._stream(name, start, end, chunk_size, version):
            if not self.broke and sent >= 2 * chunk_size:
                self.broke = True
                raise UnavailableError("connection reset mid-body")
            sent += len(chunk)
            yield chunk


async def test_a_broken_read_resumes_at_the_next_byte() -> None:
    storage = FlakyReads()
    data = bytes(range(256)) * 100
    await storage.save("f.bin", data)
    received = b"".join([chunk async for chunk in storage.stream("f.bin", chunk_size=1000)])
    assert received == data
    assert storage.broke
    assert storage.retry_stats.by_error == {"stream-resume": 1}
