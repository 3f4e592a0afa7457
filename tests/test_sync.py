"""The public blocking API: every method of the contract from plain threads, none from a loop."""

from __future__ import annotations

import asyncio
import threading

import pytest

from bucketry import NotFoundError, configure_storage
from bucketry.config import close_storages
from bucketry.sync import SyncStorage, get_sync_storage
from bucketry_memory import MemoryStorage


def test_every_method_blocks_and_returns_what_the_async_one_returns() -> None:
    with SyncStorage(MemoryStorage()) as storage:
        name = storage.save("docs/a.txt", b"hello world", metadata={"k": "v"})
        assert name == "docs/a.txt"
        assert storage.save("docs/a.txt", b"again") != name  # a taken name is never replaced
        assert storage.open(name) == b"hello world"
        assert b"".join(storage.stream(name, start=6, chunk_size=2)) == b"world"
        assert storage.exists(name)
        assert storage.size(name) == 11
        assert storage.stat(name).metadata == {"k": "v"}
        assert storage.copy(name, "docs/b.txt") == "docs/b.txt"
        assert storage.move("docs/b.txt", "docs/c.txt") == "docs/c.txt"
        assert storage.listdir("docs")[1][:1] == ["a.txt"]
        assert sorted(info.name for info in storage.list("docs"))[0] == "docs/a.txt"
        assert storage.url(name) == "/media/docs/a.txt"
        assert storage.get_valid_name("a b?.txt") == "a_b.txt"
        assert storage.get_available_name("docs/new.txt") == "docs/new.txt"
        assert storage.supports("metadata")
        assert storage.delete_prefix("docs") == 3
        storage.delete(name)  # deleting a missing file is not an error
        with pytest.raises(NotFoundError):
            storage.open(name)


def test_a_stream_stopped_early_is_closed_on_its_loop() -> None:
    with SyncStorage(MemoryStorage()) as storage:
        storage.save("big.bin", b"x" * 10_000)
        chunks = storage.stream("big.bin", chunk_size=100)
        assert next(chunks) == b"x" * 100
        chunks.close()  # the async generator is closed on the portal's loop, not leaked
        assert storage.open("big.bin") == b"x" * 10_000


def test_threads_share_one_storage() -> None:
    with SyncStorage(MemoryStorage()) as storage:
        names: list[str] = []

        def save(index: int) -> None:
            names.append(storage.save("same.txt", f"{index}".encode()))

        threads = [threading.Thread(target=save, args=(index,)) for index in range(16)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(set(names)) == 16


def test_called_from_a_running_loop_it_refuses_instead_of_blocking() -> None:
    storage = SyncStorage(MemoryStorage())

    async def inside() -> None:
        with pytest.raises(RuntimeError, match="running event loop"):
            storage.save("x.txt", b"x")
        await asyncio.to_thread(storage.save, "x.txt", b"x")  # a worker thread is fine

    asyncio.run(inside())
    assert storage.open("x.txt") == b"x"
    storage.close()


def test_get_sync_storage_follows_the_configured_alias() -> None:
    configure_storage("memory://", alias="sync-test")
    try:
        first = get_sync_storage("sync-test")
        assert first is get_sync_storage("sync-test")
        first.save("a.txt", b"a")
        configure_storage("memory://", alias="sync-test")  # reconfigured: a new storage
        assert not get_sync_storage("sync-test").exists("a.txt")
    finally:
        asyncio.run(close_storages())


async def _slow_chunks(*chunks: bytes):  # type: ignore[no-untyped-def]
    for chunk in chunks:
        await asyncio.sleep(0.001)  # the save suspends here, mid-way
        yield chunk


async def _failing_chunks():  # type: ignore[no-untyped-def]
    yield b"first"
    await asyncio.sleep(0.001)
    raise OSError("the producer broke")


def test_a_call_that_suspends_is_finished_on_the_callers_loop(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A call to a backend that never suspends is taken in one step; one that does suspend (its
    content arrives asynchronously) must still run to its end, and fail as it would awaited."""
    for storage in (MemoryStorage(), _filesystem(tmp_path)):
        with SyncStorage(storage) as sync:
            assert sync.save("a.bin", _slow_chunks(b"one ", b"two ", b"three")) == "a.bin"
            assert sync.open("a.bin") == b"one two three"
            with pytest.raises(OSError, match="the producer broke"):
                sync.save("b.bin", _failing_chunks())
            assert not sync.exists("b.bin")
            assert sync.listdir() == ([], ["a.bin"])


def test_a_retry_timeout_is_honoured_on_the_callers_loop(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """``asyncio.timeout`` needs a current task, which a first step taken by hand lacks."""
    from bucketry.retry import RetryPolicy

    storage = _filesystem(tmp_path)
    storage.retry = RetryPolicy(timeout=5.0)
    with SyncStorage(storage) as sync:
        assert sync.save("a.txt", b"x") == "a.txt"
        assert sync.open("a.txt") == b"x"


def test_blocking_allowed_does_not_leak_to_the_caller(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from bucketry.sync import blocking_allowed

    with SyncStorage(_filesystem(tmp_path)) as sync:
        sync.save("a.txt", b"x")
        assert blocking_allowed() is False
        assert asyncio.run(_blocking_allowed_in_a_fresh_loop()) is False


async def _blocking_allowed_in_a_fresh_loop() -> bool:
    from bucketry.sync import blocking_allowed

    return blocking_allowed()


def _filesystem(tmp_path):  # type: ignore[no-untyped-def]
    from bucketry_filesystem import FileSystemStorage

    return FileSystemStorage(location=str(tmp_path / "files"), fsync=False)


def test_the_rest_of_a_stepped_coroutine_receives_what_its_task_sends_and_throws() -> None:
    """The hand-over on 3.11 must delegate as ``await`` does: values sent and exceptions thrown
    by the task (a cancellation, say) reach the coroutine; its return value is the result."""
    import types

    from bucketry.sync import _resume

    @types.coroutine
    def two_waits():  # type: ignore[no-untyped-def]
        got = yield "first"
        try:
            yield f"second after {got}"
        except KeyError as exc:
            return f"caught {exc.args[0]}"
        return "not thrown"

    inner = two_waits()
    assert inner.send(None) == "first"
    rest = _resume(inner, "first")
    assert rest.send(None) == "first"
    assert rest.send("hello") == "second after hello"
    with pytest.raises(StopIteration) as finished:
        rest.throw(KeyError("cancelled"))
    assert finished.value.value == "caught cancelled"
