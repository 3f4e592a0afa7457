"""The built-in backends run the same contract a third-party backend would."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bucketry_conformance import StorageContract
from bucketry_filesystem import FileSystemStorage
from bucketry_memory import MemoryStorage

from .minimal_backend import MinimalStorage


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
    """The core's defaults, run as a third party's backend runs them (see ``minimal_backend``)."""

    @pytest.fixture
    async def storage(self) -> AsyncIterator[MinimalStorage]:
        async with MinimalStorage() as storage:
            yield storage
