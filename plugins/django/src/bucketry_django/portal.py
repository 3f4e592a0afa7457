"""Calling an async storage from Django's synchronous storage API, from any thread.

Each bridged storage owns one event loop running in a daemon thread; sync calls hand it a
coroutine and wait for the result. The backend's client (an aiohttp session, an aiobotocore
client) lives on that loop for the storage's whole life, so it is created once, not per request,
and it is never touched by two loops. Sync views, ``sync_to_async`` threads and async views all
work; calling from the portal's own thread (a coroutine of the storage calling back into the sync
API) would deadlock and raises instead.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import threading
from collections.abc import Awaitable, Callable
from typing import TypeVar

__all__ = ["Portal"]

T = TypeVar("T")


class Portal:
    """A private event loop in a daemon thread, started on first use."""

    def __init__(self, name: str = "bucketry-django") -> None:
        self._name = name
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def _start(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                thread = threading.Thread(target=loop.run_forever, name=self._name, daemon=True)
                thread.start()
                self._loop, self._thread = loop, thread
            return self._loop

    def call(self, work: Callable[[], Awaitable[T]]) -> T:
        """Run ``work()`` on the portal's loop and return its result (or raise its error)."""
        loop = self._start()
        if threading.current_thread() is self._thread:
            raise RuntimeError("The storage was called synchronously from its own event loop.")

        async def run() -> T:
            return await work()

        return asyncio.run_coroutine_threadsafe(run(), loop).result()

    def stop(self, before: Callable[[], Awaitable[object]] | None = None) -> None:
        """Run ``before`` (closing clients) on the loop, then stop the loop and its thread."""
        with self._lock:
            loop, thread = self._loop, self._thread
            self._loop = self._thread = None
        if loop is None or thread is None:
            return
        if before is not None:
            with contextlib.suppress(Exception):  # closing must not stop the shutdown
                asyncio.run_coroutine_threadsafe(_awaited(before), loop).result(timeout=30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=30)
        loop.close()

    def stop_at_exit(self, before: Callable[[], Awaitable[object]] | None = None) -> None:
        atexit.register(self.stop, before)


async def _awaited(function: Callable[[], Awaitable[object]]) -> None:
    await function()
