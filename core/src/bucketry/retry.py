"""One retry policy for every cloud backend.

Backends turn their SDK's own retries off and send each request through
:meth:`RetryPolicy.call`, so retries never multiply (an SDK retrying three times inside each of
our four attempts would be twelve requests) and every backend retries the same way: exponential
backoff with full jitter, a cap on each delay, a number of attempts, and a deadline for the whole
call. Only transient failures are retried: :class:`UnavailableError` (5xx, throttling, resets,
timeouts) and, for requests that are safe to repeat, :class:`IntegrityError` (bytes damaged in
transit). Everything else (not found, refused, already exists) is an answer, not a failure.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

from bucketry.errors import IntegrityError, UnavailableError

__all__ = ["RetryPolicy", "RetryStats", "forbid_hidden_resends"]

T = TypeVar("T")


@dataclass
class RetryStats:
    """What a storage's policy did: for figures in tests and benchmarks, and for logs."""

    calls: int = 0
    retries: int = 0
    gave_up: int = 0
    by_error: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class RetryPolicy:
    """How a backend retries one request.

    ``attempts`` counts the first try. Delay ``n`` (from 0) is a random value in
    ``[0, min(max_delay, base_delay * 2**n)]`` ("full jitter", which spreads out clients that failed
    together). ``deadline`` bounds the whole call, retries included: no retry starts after it.
    ``timeout`` bounds each attempt. ``attempts=1`` turns retrying off.
    """

    attempts: int = 5
    base_delay: float = 0.05
    max_delay: float = 2.0
    deadline: float | None = 60.0
    timeout: float | None = None

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("RetryPolicy.attempts must be at least 1.")

    def delay(self, retry: int, rng: random.Random | None = None) -> float:
        ceiling = min(self.max_delay, self.base_delay * (2**retry))
        return (rng or random).uniform(0, ceiling)

    async def call(
        self,
        operation: Callable[[], Awaitable[T]],
        *,
        stats: RetryStats | None = None,
        retry_integrity: bool = True,
        retry_unavailable: bool = True,
        on_retry: Callable[[BaseException], Awaitable[None]] | None = None,
    ) -> T:
        """Run ``operation`` until it succeeds, fails for good, or the policy is spent.

        ``operation`` must raise bucketry errors (backends translate inside it). ``on_retry`` runs
        before each retry, e.g. to rewind a body. ``retry_unavailable=False`` is for an operation
        that already retries its own breaks under this policy (a read that resumes), so the two
        never nest.
        """
        started = time.monotonic()
        retryable: tuple[type[BaseException], ...] = (
            *((UnavailableError,) if retry_unavailable else ()),
            *((IntegrityError,) if retry_integrity else ()),
        )
        if stats is not None:
            stats.calls += 1
        for attempt in range(self.attempts):
            try:
                if self.timeout is None:
                    return await operation()
                try:
                    async with asyncio.timeout(self.timeout):
                        return await operation()
                except TimeoutError:
                    raise UnavailableError(
                        f"The request took longer than {self.timeout} s; try again."
                    ) from None
            except retryable as exc:
                last = attempt + 1 == self.attempts
                pause = self.delay(attempt)
                late = self.deadline is not None and (
                    time.monotonic() - started + pause > self.deadline
                )
                if stats is not None:
                    name = type(exc).__name__
                    stats.by_error[name] = stats.by_error.get(name, 0) + 1
                if last or late:
                    if stats is not None:
                        stats.gave_up += 1
                    raise
                if stats is not None:
                    stats.retries += 1
                await asyncio.sleep(pause)
                if on_retry is not None:
                    await on_retry(exc)
        raise AssertionError("unreachable")  # pragma: no cover


def forbid_hidden_resends(session: object) -> None:
    """Stop an aiohttp ``ClientSession`` from sending a request a second time by itself.

    aiohttp resends an idempotent request (PUT included) once when a reused connection breaks
    before the answer's status line, following RFC 9112's advice for idempotent methods. Below our
    policy that resend is invisible: a create whose answer was lost is sent again, finds its own
    write and reports "already exists" on what the policy counts as the first attempt, so the
    own-write check never runs and the content is stored a second time under another name. Every
    resend must be the policy's. aiohttp's own test client turns the resend off the same way.
    """
    if not hasattr(session, "_retry_connection"):
        raise TypeError(
            f"{type(session).__name__} has no _retry_connection switch: this aiohttp version "
            "cannot be kept from resending requests by itself; pin a supported aiohttp."
        )
    setattr(session, "_retry_connection", False)  # noqa: B010 (a private switch, named once)
