"""What the areas of the contract share: markers, sample names, content helpers, fixtures."""

from __future__ import annotations

import asyncio
import functools
import io
import re
import secrets
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Callable
from typing import Any, ClassVar

import pytest

from bucketry import Capability, Storage

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


class ContractBase:
    """What every area of the contract shares: the tunable sizes and the two fixtures."""

    pytestmark: ClassVar[list[pytest.MarkDecorator]] = [pytest.mark.anyio]

    list_page_size: ClassVar[int | None] = None
    """Entries per listing page the backend was configured with; the paging test lists more."""
    concurrent_saves: ClassVar[int] = 64
    """How many saves of one name race in the concurrency test."""
    delete_prefix_files: ClassVar[int] = 1001
    """How many files ``delete_prefix`` deletes in the batching test (more than one batch)."""
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
