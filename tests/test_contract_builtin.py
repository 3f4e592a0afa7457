"""The built-in backends run the same contract a third-party backend would."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bucketry import Capability
from bucketry.objectstore import BucketStorage
from bucketry.objectstore.memory import InMemoryObjectStore
from bucketry_conformance import StorageContract
from bucketry_conformance.example import MinimalStorage
from bucketry_filesystem import FileSystemStorage
from bucketry_memory import MemoryStorage


class TestMemoryContract(StorageContract):
    @pytest.fixture
    async def storage(self) -> AsyncIterator[MemoryStorage]:
        async with MemoryStorage() as storage:
            yield storage


class TestFileSystemContract(StorageContract):
    @pytest.fixture
    async def storage(self, tmp_path: Path) -> AsyncIterator[FileSystemStorage]:
        async with FileSystemStorage(location=tmp_path / "root", base_url="/media/") as storage:
            yield storage


class TestMinimalContract(StorageContract):
    """The core's defaults, run as a third party's backend runs them (see
    ``bucketry_conformance.example``)."""

    @pytest.fixture
    async def storage(self) -> AsyncIterator[MinimalStorage]:
        async with MinimalStorage() as storage:
            yield storage


KiB = 1024


class TestInMemoryObjectStoreContract(StorageContract):
    list_page_size = 7

    @pytest.fixture
    async def storage(self) -> AsyncIterator[InMemoryObjectStore]:
        storage = InMemoryObjectStore(
            bucket=f"contract-{secrets.token_hex(4)}",
            prefix="contract",
            multipart_threshold=64 * KiB,
            part_size=16 * KiB,
            list_page_size=7,
        )
        async with storage:
            yield storage


class TestUncheckedInMemoryObjectStoreContract(StorageContract):
    """A service that stores whatever arrives, as the emulators do (the after-commit checks),
    and copies that look first."""

    list_page_size = 7

    @pytest.fixture
    async def storage(self) -> AsyncIterator[InMemoryObjectStore]:
        storage = LookingObjectStore(
            bucket=f"unchecked-{secrets.token_hex(4)}",
            checks_checksums=False,
            multipart_threshold=64 * KiB,
            part_size=16 * KiB,
            list_page_size=7,
        )
        async with storage:
            yield storage


class LookingObjectStore(InMemoryObjectStore):
    """Copies that look for a taken name first, as on S3 (CopyObject has no If-None-Match)."""

    conditional_copy = False


class PlainObjectStore(InMemoryObjectStore):
    """An adapter with only the required hooks: the engine's own paths for what it leaves out
    (deletes one by one, copies streamed through the process)."""

    capabilities = InMemoryObjectStore.capabilities - {Capability.SERVER_SIDE_COPY}
    _delete_objects = BucketStorage._delete_objects  # type: ignore[assignment]
    _copy_object = BucketStorage._copy_object  # type: ignore[assignment]


class TestPlainInMemoryObjectStoreContract(StorageContract):
    list_page_size = 7

    @pytest.fixture
    async def storage(self) -> AsyncIterator[InMemoryObjectStore]:
        storage = PlainObjectStore(
            bucket=f"plain-{secrets.token_hex(4)}",
            multipart_threshold=64 * KiB,
            part_size=16 * KiB,
            list_page_size=7,
        )
        async with storage:
            yield storage
