"""The fsspec bridge against each cloud's own fsspec filesystem, on the same emulators.

    python3 -m uv run --all-packages --all-extras --group bench python bench/fsspec_bridge.py

A Parquet dataset (8 files, written with pyarrow through the filesystem, then read back whole) is
moved through ``bucketry://`` and through s3fs, gcsfs, adlfs or fsspec's local filesystem, taking
turns within each repetition; the figures are MB/s of Parquet bytes and the client's CPU time
(``time.process_time``: every thread of this process; the emulators run in processes of their
own). A second table is the bridge's own overhead: the same bytes saved and read through
``bucketry://`` and through the bucketry storage it wraps (the sync API), so the difference is
the fsspec layer alone. Prints markdown and writes ``bench/results/fsspec.md``.
"""

from __future__ import annotations

import argparse
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import fsspec
import pyarrow as pa
import pyarrow.parquet as pq
from contenders import KEY, REGION, SECRET, Endpoints, bucketry_storage
from run import emulators

from bucketry import configure_storage
from bucketry.sync import get_sync_storage

RESULTS = Path(__file__).resolve().parent / "results"
MiB = 1024 * 1024
FILES = 8


def table(rows: int) -> pa.Table:
    generator = secrets.SystemRandom(7)
    return pa.table(
        {
            "id": pa.array(range(rows), pa.int64()),
            "value": pa.array([generator.random() for _ in range(rows)], pa.float64()),
            "label": pa.array([f"label-{index % 1000}" for index in range(rows)]),
        }
    )


def peer(backend: str, endpoints: Endpoints) -> tuple[str, Any, str]:
    """(name, filesystem, root) of the fsspec filesystem a user would otherwise pick."""
    if backend == "filesystem":
        return "fsspec local", fsspec.filesystem("file", auto_mkdir=True), endpoints.workdir
    if backend == "s3":
        import s3fs

        fs = s3fs.S3FileSystem(
            key=KEY,
            secret=SECRET,
            endpoint_url=endpoints.s3,
            client_kwargs={"region_name": REGION},
            skip_instance_cache=True,
        )
        return "s3fs", fs, "bench"
    if backend == "gcs":
        from gcsfs.core import GCSFileSystem  # the plain class: the "extended" one probes gRPC

        fs = GCSFileSystem(endpoint_url=endpoints.gcs, token="anon", skip_instance_cache=True)
        return "gcsfs", fs, "bench"
    import adlfs

    fs = adlfs.AzureBlobFileSystem(connection_string=endpoints.azure, skip_instance_cache=True)
    return "adlfs", fs, "bench"


def timed(work: Callable[[], object]) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    work()
    return time.perf_counter() - wall, time.process_time() - cpu


def dataset_round(fs: Any, root: str, data: pa.Table) -> dict[str, float]:
    directory = f"{root}/dataset-{secrets.token_hex(4)}"
    step = data.num_rows // FILES

    def write() -> None:
        fs.makedirs(directory, exist_ok=True)  # pyarrow's own local filesystem makes none
        for index in range(FILES):
            part = data.slice(index * step, step)
            pq.write_table(part, f"{directory}/part-{index}.parquet", filesystem=fs)

    write_wall, write_cpu = timed(write)
    size = sum(fs.size(f"{directory}/part-{index}.parquet") for index in range(FILES))
    read_wall, read_cpu = timed(lambda: pq.read_table(directory, filesystem=fs))
    fs.rm(directory, recursive=True)
    mb = size / 1e6
    return {
        "write MB/s": mb / write_wall,
        "write CPU s": write_cpu,
        "read MB/s": mb / read_wall,
        "read CPU s": read_cpu,
        "MB": mb,
    }


def bytes_round(put: Callable[[str, bytes], object], get: Callable[[str], bytes]) -> float:
    """Client CPU seconds to save and read back FILES objects of 8 MiB."""
    payload = secrets.token_bytes(8 * MiB)
    names = [f"bridge-{secrets.token_hex(4)}/{index}.bin" for index in range(FILES)]

    def work() -> None:
        for name in names:
            put(name, payload)
        for name in names:
            assert len(get(name)) == len(payload)

    return timed(work)[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--repetitions", type=int, default=3)
    parser.add_argument("--backends", nargs="+", default=["filesystem", "s3", "gcs", "azure"])
    arguments = parser.parse_args()
    data = table(arguments.rows)
    dataset: dict[tuple[str, str], list[dict[str, float]]] = {}
    overhead: dict[str, list[float]] = {}
    with (
        tempfile.TemporaryDirectory() as workdir,
        emulators([b for b in arguments.backends if b != "filesystem"], workdir) as endpoints,
    ):
        endpoints.workdir = workdir
        bridge = fsspec.filesystem("bucketry")
        for backend in arguments.backends:
            alias = f"bench-{backend}"
            configure_storage(bucketry_storage(backend, endpoints), alias=alias)
            sync = get_sync_storage(alias)
            name, native, root = peer(backend, endpoints)
            for _ in range(arguments.repetitions):  # contenders take turns
                for who, fs, base in (("bucketry://", bridge, alias), (name, native, root)):
                    dataset.setdefault((backend, who), []).append(dataset_round(fs, base, data))
                through_bridge = bytes_round(
                    lambda n, d, a=alias: bridge.pipe_file(f"{a}/{n}", d),
                    lambda n, a=alias: bridge.cat_file(f"{a}/{n}"),
                )
                direct = bytes_round(
                    lambda n, d, s=sync: s.save(n, d, overwrite=True), lambda n, s=sync: s.open(n)
                )
                overhead.setdefault(backend, []).append(through_bridge / direct)
            sync.close()
    report = render(dataset, overhead, arguments)
    print(report)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "fsspec.md").write_text(report)


def render(
    dataset: dict[tuple[str, str], list[dict[str, float]]],
    overhead: dict[str, list[float]],
    arguments: Any,
) -> str:
    def median(runs: list[dict[str, float]], key: str) -> float:
        return statistics.median(run[key] for run in runs)

    lines = [
        f"A Parquet dataset of {arguments.rows:,} rows in {FILES} files, written with pyarrow and "
        f"read back; median of {arguments.repetitions} repetitions taken in turns.",
        "",
        "| backend | filesystem | MB | write MB/s | write CPU s | read MB/s | read CPU s |",
        "|---|---|---|---|---|---|---|",
    ]
    for (backend, who), runs in dataset.items():
        lines.append(
            f"| {backend} | {who} | {median(runs, 'MB'):.1f} | {median(runs, 'write MB/s'):.1f} "
            f"| {median(runs, 'write CPU s'):.2f} | {median(runs, 'read MB/s'):.1f} "
            f"| {median(runs, 'read CPU s'):.2f} |"
        )
    lines += [
        "",
        f"The bridge's own cost: client CPU to save and read {FILES} x 8 MiB through "
        "`bucketry://`, over the same through the bucketry storage directly (1.00: none).",
        "",
        "| backend | bridge CPU / direct CPU |",
        "|---|---|",
    ]
    for backend, ratios in overhead.items():
        lines.append(f"| {backend} | {statistics.median(ratios):.2f} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
