"""Every request each cloud backend makes, met once by every kind of damage, deterministically.

For each operation the requests it sends are counted on a clean run; then the operation is run
again once per (request, fault kind), with that one fault aimed at that one request. Whatever
the damage, the operation either succeeds with exactly the right result or raises a bucketry
error: never an SDK, parser or HTTP exception, never wrong bytes from a checked read. Nothing is
drawn by chance, so a failure here is the same on every run.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from bucketry import BucketryError, RetryPolicy, Storage
from bucketry_conformance.faults import FaultPlan, FaultProxy
from tests.clouds import ignore_aiohttp_reset

pytestmark = pytest.mark.anyio
KiB = 1024
KINDS = ("flip_response", "flip_request", "truncate", "error_bare", "reset_after", "flip_reset")
LARGE = {"s3": 6 * 1024 * KiB, "gcs": 600 * KiB, "azure": 600 * KiB}

Operation = Callable[[Storage, str, int], Awaitable[Any]]


async def _read(storage: Storage, name: str, **options: Any) -> bytes:
    return b"".join([chunk async for chunk in storage.stream(name, **options)])


def _data(size: int) -> bytes:
    return (secrets.token_bytes(64) * (size // 64 + 1))[:size]


async def save_new(storage: Storage, prefix: str, large: int) -> None:
    data = _data(5 * KiB)
    stored = await storage.save(f"{prefix}/new.bin", data)
    assert stored == f"{prefix}/new.bin"
    assert await storage.open(stored) == data


async def save_large(storage: Storage, prefix: str, large: int) -> None:
    data = _data(large)
    stored = await storage.save(f"{prefix}/large.bin", data)
    assert await storage.open(stored) == data


async def overwrite(storage: Storage, prefix: str, large: int) -> None:
    data = _data(3 * KiB)
    await storage.save(f"{prefix}/seed.bin", data, overwrite=True)
    assert await storage.open(f"{prefix}/seed.bin") == data


async def open_whole(storage: Storage, prefix: str, large: int) -> None:
    assert await storage.open(f"{prefix}/seed.bin") == SEED


async def stream_whole(storage: Storage, prefix: str, large: int) -> None:
    assert await _read(storage, f"{prefix}/seed.bin") == SEED


async def read_range(storage: Storage, prefix: str, large: int) -> None:
    await _read(storage, f"{prefix}/seed.bin", start=100, end=2000)  # no checksum covers it


async def stat(storage: Storage, prefix: str, large: int) -> None:
    await storage.stat(f"{prefix}/seed.bin")


async def exists(storage: Storage, prefix: str, large: int) -> None:
    await storage.exists(f"{prefix}/seed.bin")


async def listing(storage: Storage, prefix: str, large: int) -> None:
    [info async for info in storage.list(prefix)]
    await storage.listdir(prefix)


async def copy(storage: Storage, prefix: str, large: int) -> None:
    await storage.copy(f"{prefix}/seed.bin", f"{prefix}/copy.bin", overwrite=True)


async def delete(storage: Storage, prefix: str, large: int) -> None:
    await storage.delete(f"{prefix}/gone.bin")


SEED = _data(4 * KiB)
OPERATIONS: dict[str, Operation] = {
    "save": save_new,
    "save-large": save_large,
    "overwrite": overwrite,
    "open": open_whole,
    "stream": stream_whole,
    "range": read_range,
    "stat": stat,
    "exists": exists,
    "list": listing,
    "copy": copy,
    "delete": delete,
}


@pytest.mark.parametrize("backend_under_test", ["s3", "gcs", "azure"], indirect=True)
@pytest.mark.parametrize("operation", list(OPERATIONS))
async def test_every_request_survives_every_kind_of_damage(
    backend_under_test: tuple[str, str, Callable[[str], Storage]], operation: str
) -> None:
    import asyncio

    asyncio.get_running_loop().set_exception_handler(ignore_aiohttp_reset)
    dialect, upstream, make = backend_under_test
    run = OPERATIONS[operation]
    untranslated: list[str] = []
    async with FaultProxy(upstream, FaultPlan(rate=0.0, dialect=dialect, seed=5)) as proxy:
        storage = make(proxy.url)
        storage.retry = RetryPolicy(attempts=6, base_delay=0.001, max_delay=0.005)
        async with storage:
            prefix = f"damaged-{secrets.token_hex(3)}"
            await storage.save(f"{prefix}/seed.bin", SEED)
            before = proxy.requests
            await run(storage, prefix, LARGE[dialect])
            requests = proxy.requests - before
            assert requests >= 1
            outcomes = 0
            for index in range(requests):
                for kind in KINDS:
                    await storage.save(f"{prefix}/seed.bin", SEED, overwrite=True)
                    await storage.delete(f"{prefix}/new.bin")
                    proxy.inject(kind, skip=index)
                    try:
                        await run(storage, f"{prefix}", LARGE[dialect])
                    except BucketryError:
                        pass
                    except AssertionError as exc:
                        untranslated.append(f"request {index}, {kind}: wrong result: {exc}")
                    except Exception as exc:
                        untranslated.append(f"request {index}, {kind}: {type(exc).__name__}: {exc}")
                    proxy.forget_aimed()
                    outcomes += 1
            await storage.delete_prefix(prefix)
    assert outcomes == requests * len(KINDS)
    assert untranslated == [], "\n".join(untranslated)


@pytest.mark.parametrize("backend_under_test", ["s3", "gcs", "azure"], indirect=True)
async def test_a_large_read_damaged_in_transit_is_never_returned(
    backend_under_test: tuple[str, str, Callable[[str], Storage]],
) -> None:
    """One byte flipped in the body of a 600 KiB read: the stream raises IntegrityError (Azure
    checks each range before yielding it, S3 and GCS the whole object at its end) rather than
    hand the damaged bytes on, and with no retry left nothing papers over it."""
    from bucketry import IntegrityError

    dialect, upstream, make = backend_under_test
    data = _data(600 * KiB)
    async with FaultProxy(upstream, FaultPlan(rate=0.0, dialect=dialect, seed=7)) as proxy:
        storage = make(proxy.url)
        storage.retry = RetryPolicy(attempts=1)
        async with storage:
            prefix = f"damaged-{secrets.token_hex(3)}"
            name = await storage.save(f"{prefix}/large.bin", data)
            proxy.inject("flip_response", method="GET", where=prefix)
            with pytest.raises(IntegrityError):
                await _read(storage, name)
            assert proxy.injected["flip_response"] == 1, "the fault did not meet the read"
            await storage.delete_prefix(prefix)
