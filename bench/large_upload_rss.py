"""Peak RSS growth of the client while saving, then reading back, one large async stream.

    python3 -m uv run python bench/large_upload_rss.py --backend s3 --size-mib 256

The emulator runs in its own process, so only bucketry's memory is counted. Peak growth is the
high-water mark (VmHWM, reset through /proc/self/clear_refs) minus the resident size just before
the save, so it is the memory the transfer itself needed. Run on demand; nothing here is a test.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from contenders import KEY, REGION, SECRET, Bucketry, Contender, Endpoints, bucketry_storage

from tests.emulators import (
    azurite_server,
    create_gcs_bucket,
    fake_gcs_server,
    free_port,
    running,
)

MiB = 1024 * 1024
RESULTS = Path(__file__).parent / "results"


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def reset_peak() -> None:
    Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current RSS


@contextmanager
def moto_process() -> Iterator[str]:
    """moto's S3 server in its own process on loopback; yields the endpoint."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    with running(process, port, "moto"):
        yield f"http://127.0.0.1:{port}"


@contextmanager
def emulator(backend: str) -> Iterator[str | None]:
    """The backend's emulator in a process of its own, or nothing for local backends."""
    if backend == "s3":
        with moto_process() as endpoint:
            yield endpoint
    elif backend == "azure":
        with azurite_server() as connection_string:
            yield connection_string
    elif backend == "gcs":
        with fake_gcs_server() as endpoint:
            yield endpoint
    else:
        yield None


async def stream(size: int, block: bytes) -> AsyncIterator[bytes]:
    """``size`` bytes in chunks of ``len(block)``, each chunk distinct (its index leads it)."""
    for index in range(size // len(block)):
        yield index.to_bytes(8, "big") + block[8:]


async def digest(size: int, block: bytes) -> bytes:
    """What :func:`stream` yields, hashed: computed before timing, so no timed loop pays for it."""
    hashed = hashlib.sha256()
    async for chunk in stream(size, block):
        hashed.update(chunk)
    return hashed.digest()


async def measure(storage: Any, size: int, block: bytes | None = None) -> dict[str, float]:
    """One bucketry storage's large save and read back."""
    return await measure_transfer(Bucketry("bucketry", lambda: storage), size, block)


async def measure_transfer(
    contender: Contender, size: int, block: bytes | None = None
) -> dict[str, float]:
    """Upload ``size`` bytes as an async stream, read them back as one, check every byte."""
    block = block or os.urandom(MiB)
    expected = await digest(size, block)
    async with contender:
        # The client and its pools exist before measuring.
        await contender.upload("bench/warm-up.bin", stream(MiB, block))
        await contender.remove("bench/warm-up.bin")
        baseline = _status_kib("VmRSS")
        reset_peak()
        started = time.perf_counter()
        await contender.upload("bench/large.bin", stream(size, block))
        upload_seconds = time.perf_counter() - started
        upload_peak = _status_kib("VmHWM") - baseline

        received = hashlib.sha256()
        baseline = _status_kib("VmRSS")
        reset_peak()
        started = time.perf_counter()
        async for chunk in contender.download("bench/large.bin"):
            received.update(chunk)
        download_seconds = time.perf_counter() - started
        download_peak = _status_kib("VmHWM") - baseline
        assert received.digest() == expected, f"{contender.name}: the bytes read back differ"
        await contender.remove("bench/large.bin")
    return {
        "size_mib": size / MiB,
        "upload_mb_s": size / 1e6 / upload_seconds,
        "upload_peak_rss_growth_mib": upload_peak / 1024,
        "download_mb_s": size / 1e6 / download_seconds,
        "download_peak_rss_growth_mib": download_peak / 1024,
    }


def create_bench_bucket(backend: str, endpoint: str) -> None:
    """The "bench" bucket (container) every benchmark uses, on a fresh emulator."""
    if backend == "s3":
        import boto3

        boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name=REGION,
            aws_access_key_id=KEY,
            aws_secret_access_key=SECRET,
        ).create_bucket(Bucket="bench")
    elif backend == "gcs":
        create_gcs_bucket(endpoint, "bench")
    elif backend == "azure":
        from azure.storage.blob import BlobServiceClient

        service = BlobServiceClient.from_connection_string(endpoint)
        service.create_container("bench")
        service.close()


def make_storage(backend: str, endpoint: str | None, workdir: str) -> Any:
    """``s3+obstore`` and ``azure+obstore`` run on the emulator of the service they speak."""
    service = backend.split("+")[0]
    endpoints = Endpoints(workdir=workdir)
    if endpoint is not None:
        create_bench_bucket(service, endpoint)
        setattr(endpoints, service, endpoint)
    return bucketry_storage(backend, endpoints)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--backend",
        action="append",
        choices=["filesystem", "s3", "gcs", "azure", "s3+obstore", "azure+obstore"],
    )
    parser.add_argument("--size-mib", type=int, default=256)
    args = parser.parse_args()
    rows = []
    for backend in args.backend or ["filesystem", "s3", "gcs", "azure"]:
        with tempfile.TemporaryDirectory() as workdir, emulator(backend.split("+")[0]) as endpoint:
            storage = make_storage(backend, endpoint, workdir)
            result = asyncio.run(measure(storage, args.size_mib * MiB))
        rows.append({"backend": backend, **result})
    print(
        "| backend | size MiB | upload MB/s | upload peak RSS growth MiB "
        "| download MB/s | download peak RSS growth MiB |"
    )
    print("|---|---|---|---|---|---|")
    for row in rows:
        print(
            f"| {row['backend']} | {row['size_mib']:.0f} | {row['upload_mb_s']:.1f} "
            f"| {row['upload_peak_rss_growth_mib']:.1f} | {row['download_mb_s']:.1f} "
            f"| {row['download_peak_rss_growth_mib']:.1f} |"
        )
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "large_upload_rss.json").write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
