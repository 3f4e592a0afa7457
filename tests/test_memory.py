"""The memory backend is safe to share across threads, each with its own event loop."""

from __future__ import annotations

import asyncio
import threading

from bucketry_memory import MemoryStorage


def test_saves_from_many_threads_never_clobber() -> None:
    storage = MemoryStorage()
    names: list[str] = []
    lock = threading.Lock()

    def worker(index: int) -> None:
        async def save() -> str:
            return await storage.save("shared.txt", f"thread {index}".encode())

        name = asyncio.run(save())
        with lock:
            names.append(name)

    threads = [threading.Thread(target=worker, args=(index,)) for index in range(32)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(names)) == 32

    async def contents() -> set[bytes]:
        return {await storage.open(name) for name in names}

    assert asyncio.run(contents()) == {f"thread {index}".encode() for index in range(32)}


def test_base_url_joins_names_as_django_does() -> None:
    assert MemoryStorage().url("a b/ü.txt") == "/media/a%20b/%C3%BC.txt"
    assert MemoryStorage(base_url="https://cdn.example/files").url("x.txt") == (
        "https://cdn.example/files/x.txt"
    )
    assert MemoryStorage(base_url="/m/").url("x.txt") == "/m/x.txt"


def test_a_memory_url_has_no_location() -> None:
    import pytest

    from bucketry import ConfigurationError, create_storage

    assert isinstance(create_storage("memory://?base_url=/m/"), MemoryStorage)
    for url in ("memory://somewhere", "memory:///some/path"):
        with pytest.raises(ConfigurationError, match="no location"):
            create_storage(url)
