"""The storage contract for synchronous code: scripts, Flask, Celery, notebooks, Django.

A :class:`SyncStorage` wraps any :class:`~bucketry.Storage` and offers every method of the
contract as a plain blocking call::

    from bucketry.sync import get_sync_storage

    media = get_sync_storage("media")          # the storage configured under that alias
    name = media.save("reports/q3.pdf", data)
    for chunk in media.stream(name):
        ...

Each ``SyncStorage`` owns one event loop running in a daemon thread (its *portal*); a call hands
that loop a coroutine and waits for the result. The backend's client (an aiohttp session, an
aiobotocore client) lives on that loop for the storage's whole life: it is created once, not per
call, and never touched by two loops. Calls may come from any number of threads.

A backend whose client is not bound to a loop (``Storage.loop_bound`` is false: the
filesystem and memory backends) is run instead on an event loop of the calling thread's own, with
:func:`blocking_allowed` true, so its blocking calls run right there instead of each taking a
trip to a worker thread: a sync caller is a thread that may block.

Calling a ``SyncStorage`` from a thread that is running an event loop raises
:class:`RuntimeError`: the call would block that loop (and, on the portal's own thread,
deadlock). Async code awaits the :class:`~bucketry.Storage` itself (``sync.storage``).
"""

from __future__ import annotations

import asyncio
import atexit
import builtins
import contextlib
import contextvars
import threading
import types
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Coroutine,
    Generator,
    Iterator,
    Mapping,
)
from datetime import timedelta
from types import TracebackType
from typing import Any, Self, TypeVar, cast

from bucketry.blocking import _blocking_allowed, blocking_allowed
from bucketry.config import get_storage
from bucketry.content import Content
from bucketry.info import Capability, FileInfo
from bucketry.storage import Storage

__all__ = ["Portal", "SyncStorage", "blocking_allowed", "get_sync_storage"]

T = TypeVar("T")


def _refuse_inside_a_loop() -> None:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return
    raise RuntimeError(
        "A synchronous bucketry storage was called from a running event loop, which it would "
        "block (or deadlock, on its own loop). In async code, await the async storage instead "
        "(SyncStorage.storage), or call this from a worker thread (asyncio.to_thread, asgiref's "
        "sync_to_async)."
    )


class _ThreadLoops:
    """One event loop per calling thread, kept for the thread's later calls.

    A call to a backend that may block its thread usually never suspends: the coroutine runs
    start to end in one step. That step is taken eagerly, without a trip around the loop (which,
    per call, costs more than the write of a small file): on Python 3.12 and later through the
    loop's eager task factory; on 3.11 by stepping the coroutine once with the loop marked
    running. Only a coroutine that does suspend is finished as a task on the loop.
    """

    def __init__(self) -> None:
        self._local = threading.local()

    def _loop(self) -> asyncio.AbstractEventLoop:
        loop: asyncio.AbstractEventLoop | None = getattr(self._local, "loop", None)
        if loop is None:
            loop = self._local.loop = asyncio.new_event_loop()
            if _EAGER_TASKS is not None:
                loop.set_task_factory(_EAGER_TASKS)
        return loop

    def call(self, work: Callable[[], Awaitable[T]], *, eager: bool = True) -> T:
        """``eager=False`` runs the whole call as a task: on 3.11 a first step taken by hand
        has no current task, which ``asyncio.timeout`` needs."""
        _refuse_inside_a_loop()
        loop = self._loop()
        context = contextvars.copy_context()
        context.run(_blocking_allowed.set, True)  # in this call's own context only
        coroutine = _as_coroutine(work)
        if not eager and _EAGER_TASKS is None:
            return loop.run_until_complete(loop.create_task(coroutine, context=context))
        if _EAGER_TASKS is not None:
            task = loop.create_task(coroutine, context=context)  # its first step runs now
            return task.result() if task.done() else loop.run_until_complete(task)
        # Python 3.11: the first step by hand, then, if it suspended, the rest as a task.
        asyncio.events._set_running_loop(loop)
        try:
            suspended_on = context.run(coroutine.send, None)
        except StopIteration as finished:
            return cast(T, finished.value)
        finally:
            asyncio.events._set_running_loop(None)
        rest = _resume(coroutine, suspended_on)
        return loop.run_until_complete(loop.create_task(rest, context=context))

    def stop(self) -> None:
        loop, self._local.loop = getattr(self._local, "loop", None), None
        if loop is not None:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()


_EAGER_TASKS = getattr(asyncio, "eager_task_factory", None)  # Python 3.12+


async def _as_coroutine(work: Callable[[], Awaitable[T]]) -> T:
    return await work()


@types.coroutine
def _resume(coroutine: Coroutine[Any, Any, T], suspended_on: Any) -> Generator[Any, Any, T]:
    """The rest of a coroutine already stepped once, which is waiting on ``suspended_on``,
    driven by the task that awaits this (as ``await`` would drive it)."""
    while True:
        try:
            sent = yield suspended_on
        except GeneratorExit:
            coroutine.close()
            raise
        except BaseException as exc:  # a cancellation included: passed on, as await does
            try:
                suspended_on = coroutine.throw(exc)
            except StopIteration as finished:
                return cast(T, finished.value)
        else:
            try:
                suspended_on = coroutine.send(sent)
            except StopIteration as finished:
                return cast(T, finished.value)


class Portal:
    """A private event loop in a daemon thread, started on first use."""

    def __init__(self, name: str = "bucketry-sync") -> None:
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
        _refuse_inside_a_loop()
        loop = self._start()
        return asyncio.run_coroutine_threadsafe(_as_coroutine(work), loop).result()

    async def arun(self, work: Callable[[], Awaitable[T]]) -> T:
        """Await ``work()`` on the portal's loop from another event loop, without blocking it;
        cancelling the caller cancels the work."""
        loop = self._start()
        if asyncio.get_running_loop() is loop:
            return await work()
        running = asyncio.run_coroutine_threadsafe(_as_coroutine(work), loop)
        return await asyncio.wrap_future(running)

    def stop(self, before: Callable[[], Awaitable[object]] | None = None) -> None:
        """Run ``before`` (closing clients) on the loop, then stop the loop and its thread."""
        with self._lock:
            loop, thread = self._loop, self._thread
            self._loop = self._thread = None
        if loop is None or thread is None:
            return
        if before is not None:
            with contextlib.suppress(Exception):  # closing must not stop the shutdown
                asyncio.run_coroutine_threadsafe(_as_coroutine(before), loop).result(timeout=30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=30)
        loop.close()

    def stop_at_exit(self, before: Callable[[], Awaitable[object]] | None = None) -> None:
        atexit.register(self.stop, before)


class SyncStorage:
    """Every method of :class:`~bucketry.Storage`, blocking; see the module's documentation.

    Use it as a context manager, or call :meth:`close` when done (an interpreter exit closes it
    too). ``stream`` and ``list`` return iterators that fetch chunk by chunk, page by page.
    """

    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        """The async storage underneath, for async code."""
        self._portal = Portal()
        self._threads = None if storage.loop_bound else _ThreadLoops()
        self._portal.stop_at_exit(storage.aclose)

    def run(self, work: Callable[[Storage], Awaitable[T]]) -> T:
        """Block on ``work(storage)``, any coroutine of the async storage, where the storage
        lives: several calls in one trip (a read that needs a ``stat`` first), or a method
        this class does not wrap."""
        return self._call(lambda: work(self.storage))

    async def arun(self, work: Callable[[Storage], Awaitable[T]]) -> T:
        """Await ``work(storage)`` from *another* event loop (fsspec's, a framework's): it runs
        on the storage's own loop when its client is bound to one, else right here."""
        if self._threads is not None:
            return await work(self.storage)
        return await self._portal.arun(lambda: work(self.storage))

    def _call(self, work: Callable[[], Awaitable[T]]) -> T:
        if self._threads is not None:
            return self._threads.call(work, eager=self.storage.retry.timeout is None)
        return self._portal.call(work)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the backend's client and stop the portal; a later call starts them again."""
        if self._threads is not None:
            with contextlib.suppress(Exception):
                self._threads.call(self.storage.aclose)
            self._threads.stop()  # this thread's loop; other threads' loops end with them
            return
        self._portal.stop(self.storage.aclose)

    def __repr__(self) -> str:
        return f"SyncStorage({self.storage!r})"

    # -- the contract, blocking ------------------------------------------------------------------

    @property
    def capabilities(self) -> frozenset[Capability]:
        return self.storage.capabilities

    def supports(self, capability: Capability | str) -> bool:
        return self.storage.supports(capability)

    def save(
        self,
        name: str,
        content: Content,
        *,
        content_type: str | None = None,
        metadata: Mapping[str, str] | None = None,
        overwrite: bool = False,
        max_size: int | None = None,
        max_length: int | None = None,
        rename: bool = True,
    ) -> str:
        return self._call(
            lambda: self.storage.save(
                name,
                content,
                content_type=content_type,
                metadata=metadata,
                overwrite=overwrite,
                max_size=max_size,
                max_length=max_length,
                rename=rename,
            )
        )

    def open(self, name: str) -> bytes:
        return self._call(lambda: self.storage.open(name))

    def stream(
        self,
        name: str,
        *,
        start: int | None = None,
        end: int | None = None,
        chunk_size: int | None = None,
    ) -> Iterator[bytes]:
        return self._iterate(
            lambda: self.storage.stream(name, start=start, end=end, chunk_size=chunk_size)
        )

    def list(self, prefix: str = "", *, recursive: bool = True) -> Iterator[FileInfo]:
        return self._iterate(lambda: self.storage.list(prefix, recursive=recursive))

    def _iterate(self, make: Callable[[], AsyncIterator[T]]) -> Iterator[T]:
        """An async iterator driven from this thread, one item per trip to the portal; closed
        on the portal's loop however the caller stops."""
        iterator = make()
        try:
            while True:
                try:
                    yield self._call(lambda: anext(iterator))
                except StopAsyncIteration:
                    return
        finally:
            close = getattr(iterator, "aclose", None)
            if close is not None:
                with contextlib.suppress(Exception):
                    self._call(close)

    def delete(self, name: str) -> None:
        self._call(lambda: self.storage.delete(name))

    def delete_prefix(self, prefix: str) -> int:
        return self._call(lambda: self.storage.delete_prefix(prefix))

    def exists(self, name: str) -> bool:
        return self._call(lambda: self.storage.exists(name))

    def size(self, name: str) -> int:
        return self._call(lambda: self.storage.size(name))

    def stat(self, name: str) -> FileInfo:
        return self._call(lambda: self.storage.stat(name))

    def copy(self, src: str, dst: str, *, overwrite: bool = False) -> str:
        return self._call(lambda: self.storage.copy(src, dst, overwrite=overwrite))

    def move(self, src: str, dst: str, *, overwrite: bool = False) -> str:
        return self._call(lambda: self.storage.move(src, dst, overwrite=overwrite))

    def url(self, name: str) -> str:
        return self.storage.url(name)

    def signed_url(self, name: str, *, expires: int | timedelta = 3600, method: str = "GET") -> str:
        return self._call(lambda: self.storage.signed_url(name, expires=expires, method=method))

    def listdir(self, path: str = "") -> tuple[builtins.list[str], builtins.list[str]]:
        return self._call(lambda: self.storage.listdir(path))

    def get_valid_name(self, name: str) -> str:
        return self.storage.get_valid_name(name)

    def get_available_name(self, name: str, max_length: int | None = None) -> str:
        return self._call(lambda: self.storage.get_available_name(name, max_length))


_sync_storages: dict[int, SyncStorage] = {}
_lock = threading.Lock()


def get_sync_storage(alias: str = "default") -> SyncStorage:
    """The storage configured under ``alias`` (see :func:`bucketry.get_storage`), blocking.

    One ``SyncStorage`` per configured storage, shared by every caller and thread.
    """
    storage = get_storage(alias)
    with _lock:
        sync = _sync_storages.get(id(storage))
        if sync is None or sync.storage is not storage:
            sync = _sync_storages[id(storage)] = SyncStorage(storage)
        return sync
