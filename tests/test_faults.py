"""Each cloud backend through a fault-injecting proxy: 1000 mixed operations, 20 % faults.

Every operation must either succeed with exactly the right bytes or raise a bucketry error; every
save that returned must read back byte for byte afterwards; no SDK exception may escape. The
figures are printed (run with -s to see them), and written as JSON under
``$BUCKETRY_FAULT_RESULTS`` when it is set, for the reliability page.
"""

from __future__ import annotations

import json
import os
import secrets
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bucketry import RetryPolicy, Storage
from bucketry_conformance.faults import FaultPlan, FaultProxy
from bucketry_conformance.workload import Figures, mixed_workload, verify_survivors
from bucketry_s3 import S3Storage
from tests.clouds import ignore_aiohttp_reset

pytestmark = pytest.mark.anyio
KiB, MiB = 1024, 1024 * 1024
OPERATIONS = int(os.environ.get("BUCKETRY_FAULT_OPERATIONS", "1000"))
# Where the figures are also written as JSON, when set (the tests write nowhere else by default).
RESULTS = os.environ.get("BUCKETRY_FAULT_RESULTS")
FAST_RETRIES = RetryPolicy(attempts=8, base_delay=0.005, max_delay=0.1, deadline=30.0)


async def run_through_faults(
    name: str,
    upstream: str,
    make: Callable[[str], Storage],
    label: str | None = None,
    **workload: Any,
) -> Figures:
    import asyncio

    asyncio.get_running_loop().set_exception_handler(ignore_aiohttp_reset)
    prefix = f"faults-{secrets.token_hex(3)}/"
    started = time.monotonic()
    async with FaultProxy(upstream, FaultPlan(rate=0.2, dialect=name, seed=7)) as proxy:
        storage = make(proxy.url)
        storage.retry = FAST_RETRIES
        async with storage:
            figures, survivors = await mixed_workload(
                storage, prefix=prefix, operations=OPERATIONS, seed=11, **workload
            )
        retries = storage.retry_stats
    async with make(upstream) as direct:
        await verify_survivors(direct, survivors, figures)
        await direct.delete_prefix(prefix)
        orphans = 0
        if isinstance(direct, S3Storage):
            # Failed uploads are aborted; only a CreateMultipartUpload whose *answer* was lost
            # leaves one whose id no client ever learned (a lifecycle rule clears those on AWS).
            assert direct._client is not None
            pending = await direct._client.list_multipart_uploads(
                Bucket=direct.bucket, Prefix=prefix
            )
            orphans = len(pending.get("Uploads", []))
    seconds = time.monotonic() - started
    row = {
        "backend": label or name,
        **figures.row(),
        "faults injected": sum(proxy.injected.values()),
        "requests through proxy": proxy.requests,
        "retries": retries.retries,
        "unreachable multipart uploads (create answer lost)": orphans,
        "seconds": round(seconds, 1),
        "faults by kind": dict(proxy.injected),
        "errors raised": figures.errors,
        "error examples": figures.error_examples,
        "corruptions by operation": figures.corrupt_by_operation,
        "unverifiable corruptions (no checksum in the protocol)": figures.unverifiable_corruptions,
    }
    print(json.dumps(row, indent=1))
    if RESULTS:
        Path(RESULTS).mkdir(parents=True, exist_ok=True)
        (Path(RESULTS) / f"faults-{label or name}.json").write_text(json.dumps(row, indent=1))
    assert figures.untranslated == 0, figures.untranslated_examples
    assert figures.corruptions == 0
    assert figures.old_versions_lost == 0, figures.lost_examples
    assert figures.duplicates == 0, "a save stored its content twice (a lost answer unrecognised)"
    assert figures.survivors_lost == 0, figures.lost_examples
    assert figures.operations == OPERATIONS
    assert sum(proxy.injected.values()) >= OPERATIONS * 0.2 * 0.8
    assert figures.succeeded > OPERATIONS * 0.5, "retries should carry most operations through"
    return figures


# What each protocol lets a client check: range reads carry no checksum on S3 and GCS, nor do
# whole reads of S3 multipart objects (over 5 MiB here) or GCS's JSON metadata answers.
WORKLOADS: dict[str, dict[str, Any]] = {
    "s3": {"large_size": 6 * MiB, "unverifiable_range_reads": True, "unverifiable_above": 5 * MiB},
    "gcs": {
        "large_size": 600 * KiB,
        "unverifiable_range_reads": True,
        "unverifiable_metadata": True,
    },
    "azure": {"large_size": MiB},
    # obstore shows no CRC: whole reads are checked against the MD5 (S3's ETag of a single-part
    # object; on Azure, the MD5 bucketry stored with a single-request upload), nothing else is.
    "azure+obstore": {
        "large_size": MiB,
        "unverifiable_range_reads": True,
        "unverifiable_above": 256 * KiB,
    },
    "s3+obstore": {
        "large_size": 6 * MiB,
        "unverifiable_range_reads": True,
        "unverifiable_above": 5 * MiB,
    },
}
CLOUDS = ["s3", "gcs", "azure", "s3+obstore", "azure+obstore"]


@pytest.mark.parametrize("backend_under_test", CLOUDS, indirect=True)
async def test_survives_faults(
    backend_under_test: tuple[str, str, Callable[[str], Storage]], request: pytest.FixtureRequest
) -> None:
    dialect, upstream, make = backend_under_test
    label = request.node.callspec.params["backend_under_test"]
    await run_through_faults(
        dialect, upstream, make, label, **WORKLOADS.get(label, WORKLOADS[dialect])
    )


@pytest.mark.parametrize("backend_under_test", CLOUDS, indirect=True)
@pytest.mark.parametrize("operation", ["save", "create", "open", "stat", "delete"])
async def test_a_failing_request_is_sent_exactly_the_policys_attempts(
    backend_under_test: tuple[str, str, Callable[[str], Storage]], operation: str
) -> None:
    """Retries do not nest: with every answer a 503 and three attempts allowed, each operation
    sends its request three times, then raises UnavailableError (nine would mean a retried call
    inside a retried call, which also hides a lost create's own write from the outer loop)."""
    from bucketry import UnavailableError

    dialect, upstream, make = backend_under_test
    plan = FaultPlan(rate=1.0, weights={"error": 1.0}, dialect=dialect, seed=1)
    async with FaultProxy(upstream, plan) as proxy:
        storage = make(proxy.url)
        storage.retry = RetryPolicy(attempts=3, base_delay=0.001, max_delay=0.001)
        calls = {
            "save": lambda: storage.save("retries/a.txt", b"x", overwrite=True),
            "create": lambda: storage.save("retries/b.txt", b"x"),
            "open": lambda: storage.open("retries/a.txt"),
            "stat": lambda: storage.stat("retries/a.txt"),
            "delete": lambda: storage.delete("retries/a.txt"),
        }
        async with storage:
            proxy.requests = 0
            with pytest.raises(UnavailableError):
                await calls[operation]()
    assert proxy.requests == 3
