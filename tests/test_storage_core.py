"""What core's ``Storage`` does for every backend beyond the contract suite's reach: the client's
lifecycle (the memory backend has no client to show it) and the URL forms backends inherit."""

from __future__ import annotations

from typing import Any, Self

import pytest

from bucketry import ConfigurationError, Storage, create_storage
from bucketry_conformance.example import _SHELVES, MinimalStorage

pytestmark = pytest.mark.anyio


class CountingStorage(MinimalStorage):
    """The minimal backend with a client to open and close, counted."""

    def __init__(self, *, shelf: str = "main", bucket: str = "", prefix: str = "") -> None:
        super().__init__(shelf=shelf)
        self.bucket, self.prefix = bucket, prefix
        self.connects = self.disconnects = 0

    async def _connect(self) -> None:
        self.connects += 1
        await super()._connect()

    async def _disconnect(self) -> None:
        self.disconnects += 1
        await super()._disconnect()

    @classmethod
    def from_url(cls, url: str) -> Self:
        return cls._from_bucket_url(url, "bucket")


async def test_the_client_opens_once_and_closes_once() -> None:
    storage = CountingStorage()
    async with storage as entered:
        assert entered is storage
        assert storage.connects == 1
        await storage.save("a.txt", b"x")
        await storage.open("a.txt")
        assert storage.connects == 1
    assert storage.disconnects == 1
    await storage.aclose()  # closing twice closes once
    assert storage.disconnects == 1
    assert await storage.exists("a.txt")  # used again: it reconnects on demand
    assert storage.connects == 2
    await storage.aclose()
    assert storage.disconnects == 2


def test_the_bucket_url_form() -> None:
    storage = CountingStorage.from_url("counting://my-bucket/some/prefix/?shelf=s2")
    assert (storage.bucket, storage.prefix, storage.shelf) == ("my-bucket", "some/prefix", "s2")
    explicit = CountingStorage.from_url("counting://b/ignored?prefix=chosen")
    assert explicit.prefix == "chosen"  # an explicit option wins over the path
    assert CountingStorage.from_url("counting://b/ignored?prefix=").prefix == ""  # blank too
    with pytest.raises(ConfigurationError, match=r"counting://bucket/prefix"):
        CountingStorage.from_url("counting:///no-bucket")


def test_a_blank_option_in_a_url_is_an_empty_value_not_a_missing_one() -> None:
    storage: Any = create_storage("memory://?base_url=")
    assert storage.base_url == ""
    assert storage.url("a b.txt") == "a%20b.txt"


@pytest.mark.parametrize(
    "first_call",
    [
        "save",
        "open",
        "stream",
        "exists",
        "list",
        "delete",
        "delete_prefix",
        "stat",
        "copy",
        "move",
        "listdir",
    ],
)
async def test_any_first_call_connects(first_call: str) -> None:
    """Without ``async with``, the client is opened by whichever call comes first."""
    storage = CountingStorage(shelf=f"first-call-{first_call}")
    _SHELVES[storage.shelf] = {"a.txt": b"x"}  # stored before this client opens
    calls = {
        "save": lambda: storage.save("b.txt", b"y"),
        "open": lambda: storage.open("a.txt"),
        "stream": lambda: _drain(storage.stream("a.txt", start=0)),
        "exists": lambda: storage.exists("a.txt"),
        "list": lambda: _drain(storage.list()),
        "delete": lambda: storage.delete("a.txt"),
        "delete_prefix": lambda: storage.delete_prefix("d"),
        "stat": lambda: storage.stat("a.txt"),
        "copy": lambda: storage.copy("a.txt", "c.txt"),
        "move": lambda: storage.move("a.txt", "m.txt"),
        "listdir": lambda: storage.listdir(),
    }
    await calls[first_call]()
    assert storage.connects == 1
    await storage.aclose()


async def _drain(iterator: Any) -> None:
    async for _ in iterator:
        pass


def test_none_is_an_option_value_where_the_option_takes_none() -> None:
    from bucketry_filesystem import FileSystemStorage

    storage: Any = create_storage("file:///tmp/x?base_url=none&directory_permissions_mode=null")
    assert isinstance(storage, FileSystemStorage)
    assert storage.base_url is None
    assert storage.directory_permissions_mode is None


def test_a_backend_missing_a_required_primitive_fails_at_construction_naming_it() -> None:
    from bucketry.objectstore import BucketStorage

    class NoListing(MinimalStorage):
        _scan = Storage._scan  # as if never written

    with pytest.raises(TypeError, match="_scan"):
        NoListing()

    class NoRead(BucketStorage):
        backend_name = "half-written"

    with pytest.raises(TypeError, match="_get_object"):
        NoRead()
