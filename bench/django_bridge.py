"""The Django bridge against Django's own FileSystemStorage and django-storages' S3Storage.

    python3 -m uv run --all-packages --all-extras --group bench python bench/django_bridge.py

Django's storage API is synchronous, so each contender saves a 4 KiB ``ContentFile`` and reads
it back through ``storage.open(name).read()`` in a plain loop, as a sync view does. The figures
are operations per second and the process's CPU time per operation (``time.process_time``:
every thread of this process, the bridge's portal loop included; moto runs in a process of its
own). Contenders take turns within each repetition; the ratios are medians of per-repetition
ratios. Prints a markdown table and writes ``bench/results/django.md``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import django
from django.conf import settings

if not settings.configured:
    settings.configure(USE_TZ=True, MEDIA_URL="/media/", SECRET_KEY="bench")
    django.setup()

from contenders import KEY, REGION, SECRET
from django.core.files.base import ContentFile
from large_upload_rss import create_bench_bucket, moto_process

RESULTS = Path(__file__).resolve().parent / "results"
PAYLOAD = b"x" * 4096


def round_trip(storage: Any, prefix: str, operations: int) -> tuple[float, float]:
    """(ops/s, CPU µs/op) for save+open of 4 KiB, ``operations`` times."""
    wall, cpu = time.perf_counter(), time.process_time()
    for index in range(operations):
        name = storage.save(f"{prefix}/f{index:05d}.bin", ContentFile(PAYLOAD))
        with storage.open(name, "rb") as opened:
            assert opened.read() == PAYLOAD
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return operations / wall, cpu / operations * 1e6


def contenders(workdir: str, s3: str | None) -> dict[str, Callable[[], Any]]:
    from django.core.files.storage import FileSystemStorage

    from bucketry_django import BucketryStorage

    made: dict[str, Callable[[], Any]] = {
        "django FileSystemStorage": lambda: FileSystemStorage(location=f"{workdir}/django"),
        "bucketry bridge, filesystem (fsync)": lambda: BucketryStorage(
            "filesystem", location=f"{workdir}/bucketry-fsync"
        ),
        "bucketry bridge, filesystem (no fsync)": lambda: BucketryStorage(
            "filesystem", location=f"{workdir}/bucketry", fsync=False
        ),
    }
    if s3 is not None:
        from storages.backends.s3 import S3Storage

        credentials = {"access_key": KEY, "secret_key": SECRET}
        made["django-storages S3Storage"] = lambda: S3Storage(
            bucket_name="bench",
            endpoint_url=s3,
            region_name=REGION,
            file_overwrite=False,
            querystring_auth=False,
            **credentials,
        )
        made["bucketry bridge, s3"] = lambda: BucketryStorage(
            "s3",
            bucket="bench",
            endpoint_url=s3,
            region=REGION,
            access_key_id=KEY,
            secret_access_key=SECRET,
            querystring_auth=False,
        )
    return made


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--operations", type=int, default=300)
    parser.add_argument("--repetitions", type=int, default=5)
    parser.add_argument("--no-s3", action="store_true")
    arguments = parser.parse_args()
    results: dict[str, list[tuple[float, float]]] = {}
    with tempfile.TemporaryDirectory() as workdir:
        emulator = moto_process() if not arguments.no_s3 else None
        endpoint = emulator.__enter__() if emulator is not None else None
        try:
            if endpoint is not None:
                create_bench_bucket("s3", endpoint)
            storages = {name: make() for name, make in contenders(workdir, endpoint).items()}
            for storage in storages.values():  # connect, and warm up, outside the timing
                round_trip(storage, "warm", 20)
            for repetition in range(arguments.repetitions):
                for name, storage in storages.items():  # contenders take turns
                    figures = round_trip(storage, f"r{repetition}", arguments.operations)
                    results.setdefault(name, []).append(figures)
            for storage in storages.values():
                getattr(storage, "close", lambda: None)()
        finally:
            if emulator is not None:
                emulator.__exit__(None, None, None)
    report = render(results, arguments)
    print(report)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "django.md").write_text(report)


def render(results: dict[str, list[tuple[float, float]]], arguments: Any) -> str:
    def ratio(ours: str, theirs: str, index: int) -> str:
        if ours not in results or theirs not in results:
            return "-"
        pairs = zip(results[ours], results[theirs], strict=True)
        return f"{statistics.median(a[index] / b[index] for a, b in pairs):.2f}"

    peers = {
        "bucketry bridge, filesystem (fsync)": "django FileSystemStorage",
        "bucketry bridge, filesystem (no fsync)": "django FileSystemStorage",
        "bucketry bridge, s3": "django-storages S3Storage",
    }
    lines = [
        f"4 KiB save + open through Django's storage API; {arguments.operations} operations, "
        f"median of {arguments.repetitions} repetitions, taken in turns.",
        "",
        "| contender | ops/s | CPU µs/op | vs | ops/s ratio | CPU ratio |",
        "|---|---|---|---|---|---|",
    ]
    for name, figures in results.items():
        ops = statistics.median(f[0] for f in figures)
        cpu = statistics.median(f[1] for f in figures)
        peer = peers.get(name)
        row = f"| {name} | {ops:,.0f} | {cpu:,.0f} |"
        row += f" {peer} | {ratio(name, peer, 0)} | {ratio(name, peer, 1)} |" if peer else " | | |"
        lines.append(row)
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
