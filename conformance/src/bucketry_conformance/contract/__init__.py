"""``StorageContract``: the tests every bucketry backend must pass, one module per area.

Subclass it in a test module and override the ``storage`` fixture::

    class TestMyStorage(StorageContract):
        @pytest.fixture
        async def storage(self):
            async with MyStorage(...) as storage:
                yield storage

Every test runs under a fresh random prefix and removes what it wrote. A test that needs an optional
capability the backend does not declare is skipped with a reason starting ``unsupported:``, which
the plugin counts as *unsupported*, never as passed. A failing test's module names its area:
``contract/listing.py`` holds the listing tests, and so on.
"""

from __future__ import annotations

from typing import ClassVar

import pytest

from bucketry_conformance.contract._base import (
    UNSAFE_NAMES,
    ContractBase,
    area,
    known_gap,
    requires,
)
from bucketry_conformance.contract.broken_reads import BrokenReads
from bucketry_conformance.contract.concurrency import Concurrency
from bucketry_conformance.contract.copy_move import CopyMove
from bucketry_conformance.contract.deleting import Deleting
from bucketry_conformance.contract.failures import Failures
from bucketry_conformance.contract.lifecycle import Lifecycle
from bucketry_conformance.contract.listing import Listing
from bucketry_conformance.contract.metadata import Metadata
from bucketry_conformance.contract.missing import Missing
from bucketry_conformance.contract.names import Names
from bucketry_conformance.contract.overwrite import Overwrite
from bucketry_conformance.contract.ranges import Ranges
from bucketry_conformance.contract.round_trip import RoundTrip
from bucketry_conformance.contract.urls import Urls

__all__ = ["UNSAFE_NAMES", "StorageContract", "area", "known_gap", "requires"]


class StorageContract(
    RoundTrip,
    Names,
    Missing,
    Deleting,
    Overwrite,
    Concurrency,
    Failures,
    Ranges,
    BrokenReads,
    Listing,
    Metadata,
    CopyMove,
    Urls,
    Lifecycle,
    ContractBase,
):
    """The contract suite. Override ``storage``; tune the class attributes of
    :class:`~bucketry_conformance.contract._base.ContractBase` if needed."""

    pytestmark: ClassVar[list[pytest.MarkDecorator]] = [pytest.mark.anyio]
