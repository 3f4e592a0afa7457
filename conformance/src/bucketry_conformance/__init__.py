"""The bucketry conformance suite: subclass :class:`StorageContract` to test any backend."""

from __future__ import annotations

import pytest

# Installed editable, a plugin module loses pytest's assertion rewriting unless registered first.
pytest.register_assert_rewrite("bucketry_conformance.contract")  # and its area modules

from bucketry_conformance.contract import (  # noqa: E402
    UNSAFE_NAMES,
    StorageContract,
    area,
    known_gap,
    requires,
)
from bucketry_conformance.report import AreaReport, ContractReport  # noqa: E402

__all__ = [
    "UNSAFE_NAMES",
    "AreaReport",
    "ContractReport",
    "StorageContract",
    "area",
    "known_gap",
    "requires",
]
