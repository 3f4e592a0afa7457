"""The fsspec bridge, held to fsspec's own abstract test suite (as s3fs, gcsfs and adlfs run it)
on the memory, filesystem and S3 (moto) backends, plus what data tools do with it."""

from __future__ import annotations

import os
import posixpath
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import fsspec
import fsspec.tests.abstract as abstract
import pytest

from bucketry import configure_storage
from bucketry.sync import get_sync_storage
from bucketry_fsspec import BucketryFileSystem
from tests.emulators import S3_KEY_ID, S3_SECRET

BACKENDS = ["memory", "filesystem", "s3"]


def s3_url(endpoint: str, bucket: str, prefix: str = "") -> str:
    from urllib.parse import quote

    query = (
        f"endpoint_url={quote(endpoint, safe='')}&region=us-east-1"
        f"&access_key_id={S3_KEY_ID}&secret_access_key={S3_SECRET}"
    )
    return f"s3://{bucket}/{prefix}?{query}"


@pytest.fixture(scope="module", params=BACKENDS)
def alias(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A storage configured under a fresh alias, as an application configures it."""
    name = f"fs-{request.param}-{secrets.token_hex(3)}"
    if request.param == "memory":
        configure_storage("memory", alias=name)
    elif request.param == "filesystem":
        configure_storage("filesystem", alias=name, location=tmp_path_factory.mktemp("fsspec"))
    else:
        endpoint = request.getfixturevalue("moto_endpoint")
        bucket = request.getfixturevalue("s3_bucket")
        configure_storage(s3_url(endpoint, bucket, f"fsspec-{secrets.token_hex(3)}"), alias=name)
    yield name
    get_sync_storage(name).close()


class BucketryFixtures(abstract.AbstractFixtures):  # type: ignore[misc]
    @pytest.fixture
    def fs(self, alias: str) -> BucketryFileSystem:
        filesystem = fsspec.filesystem("bucketry")
        assert isinstance(filesystem, BucketryFileSystem)
        return filesystem

    @pytest.fixture
    def fs_path(self, alias: str) -> str:
        return f"{alias}/{secrets.token_hex(4)}"

    @pytest.fixture
    def fs_join(self) -> Callable[..., str]:
        return posixpath.join

    @pytest.fixture
    def supports_empty_directories(self) -> bool:
        return False  # directories are derived from names, as on every object store


class TestBucketryCopy(abstract.AbstractCopyTests, BucketryFixtures):  # type: ignore[misc]
    pass


class TestBucketryGet(abstract.AbstractGetTests, BucketryFixtures):  # type: ignore[misc]
    pass


class TestBucketryPut(abstract.AbstractPutTests, BucketryFixtures):  # type: ignore[misc]
    pass


class TestBucketryPipe(abstract.AbstractPipeTests, BucketryFixtures):  # type: ignore[misc]
    pass


class TestBucketryOpen(abstract.AbstractOpenTests, BucketryFixtures):  # type: ignore[misc]
    pass


# -- beyond the abstract suite --------------------------------------------------------------------


def test_ranged_and_negative_reads(alias: str) -> None:
    fs = fsspec.filesystem("bucketry")
    path = f"{alias}/ranges/data.bin"
    data = bytes(range(256)) * 64
    fs.pipe_file(path, data)
    assert fs.cat_file(path, start=100, end=300) == data[100:300]
    assert fs.cat_file(path, start=-10) == data[-10:]
    assert fs.cat_file(path, start=10, end=-10) == data[10:-10]
    with fs.open(path, "rb", block_size=1000) as file:
        file.seek(5000)
        assert file.read(100) == data[5000:5100]
        file.seek(-5, 2)
        assert file.read() == data[-5:]
    assert fs.info(path)["size"] == len(data)
    assert fs.info(f"{alias}/ranges")["type"] == "directory"
    fs.rm(f"{alias}/ranges", recursive=True)
    assert not fs.exists(f"{alias}/ranges")


def test_errors_are_the_builtin_ones_fsspec_users_catch(alias: str) -> None:
    fs = fsspec.filesystem("bucketry")
    with pytest.raises(FileNotFoundError):
        fs.cat_file(f"{alias}/missing.txt")
    with pytest.raises(FileNotFoundError):
        fs.info(f"{alias}/missing.txt")
    with pytest.raises(ValueError, match="name"):  # the name rule: a ValueError, stores nothing
        fs.pipe_file(f"{alias}/bad\x00name", b"x")
    fs.pipe_file(f"{alias}/taken.txt", b"x")
    with pytest.raises(FileExistsError):
        fs.pipe_file(f"{alias}/taken.txt", b"y", mode="create")
    with pytest.raises(ValueError, match="append"):
        fs.open(f"{alias}/taken.txt", "ab")
    fs.rm(f"{alias}/taken.txt")


def test_a_write_that_raises_stores_nothing(alias: str) -> None:
    """fsspec's own files commit what was written when the ``with`` block raises; bucketry's
    abandon it, as every failed save does."""
    fs = fsspec.filesystem("bucketry")
    path = f"{alias}/aborted/file.bin"

    def write_then_fail() -> None:
        with fs.open(path, "wb") as file:
            file.write(b"x" * (9 * 1024 * 1024))  # past one block: the save is under way
            raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError, match="interrupted"):
        write_then_fail()
    assert not fs.exists(path)
    assert not fs.exists(f"{alias}/aborted")


def test_the_url_form_of_a_storage_works_as_storage_options(tmp_path: Path) -> None:
    location = tmp_path / "files"
    with fsspec.open("bucketry://anything/a/b.txt", "wb", url=f"file://{location}") as file:
        file.write(b"through storage_options")
    assert (location / "a" / "b.txt").read_bytes() == b"through storage_options"
    with fsspec.open("bucketry://anything/a/b.txt", "rb", url=f"file://{location}") as file:
        assert file.read() == b"through storage_options"


def test_an_unconfigured_alias_says_how_to_configure_it() -> None:
    from bucketry import ConfigurationError

    with pytest.raises(ConfigurationError, match="BUCKETRY_STORAGE_URL_NOWHERE"):
        fsspec.filesystem("bucketry").ls("nowhere/x")


def test_pandas_and_pyarrow_read_and_write(alias: str) -> None:
    import pandas as pd
    import pyarrow.dataset as ds

    frame = pd.DataFrame({"city": ["Lima", "Oslo", "Pune"], "people": [10, 1, 7]})
    frame.to_csv(f"bucketry://{alias}/tables/cities.csv", index=False)
    assert pd.read_csv(f"bucketry://{alias}/tables/cities.csv").equals(frame)
    frame.to_parquet(f"bucketry://{alias}/tables/cities.parquet")
    assert pd.read_parquet(f"bucketry://{alias}/tables/cities.parquet").equals(frame)
    fs = fsspec.filesystem("bucketry")
    dataset = ds.dataset(f"{alias}/tables/cities.parquet", filesystem=fs, format="parquet")
    assert dataset.to_table().num_rows == 3
    fs.rm(f"{alias}/tables", recursive=True)


@pytest.mark.parametrize("where", ["alias-from-environment", "s3-url-in-storage-options"])
def test_dask_on_worker_processes_writes_and_reads_a_partitioned_dataset(
    where: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    """The path a user takes when the data outgrows one machine: worker *processes*, which
    share nothing with this one but the environment and the task's storage options, build the
    storage themselves from the alias or the URL."""
    import dask.dataframe as dd
    import pandas as pd
    from distributed import Client, LocalCluster

    options: dict[str, Any] = {}
    if where == "alias-from-environment":
        monkeypatch.setenv("BUCKETRY_STORAGE_URL_LAKE", f"file://{tmp_path / 'lake'}")
    else:
        endpoint = request.getfixturevalue("moto_endpoint")
        bucket = request.getfixturevalue("s3_bucket")
        options["url"] = s3_url(endpoint, bucket, f"dask-{secrets.token_hex(3)}")
    frame = pd.DataFrame({"value": range(2000), "part": [f"p{index % 4}" for index in range(2000)]})
    with (
        LocalCluster(
            n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        dd.from_pandas(frame, npartitions=4).to_parquet(
            "bucketry://lake/events", partition_on=["part"], storage_options=options
        )
        back = dd.read_parquet("bucketry://lake/events", storage_options=options)
        assert int(back["value"].sum().compute()) == sum(range(2000))
        assert sorted(back["part"].unique().compute()) == ["p0", "p1", "p2", "p3"]
        worker_pids = set(client.run(os.getpid).values())
        assert os.getpid() not in worker_pids
        assert len(worker_pids) == 2
    fs = fsspec.filesystem("bucketry", **options)
    assert len(fs.find("lake/events")) >= 4  # one file per partition value at least


MEMORY_PROBE = """
import os, sys
from pathlib import Path
import fsspec

MiB = 1024 * 1024

def kib(field):
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])

fs = fsspec.filesystem("bucketry", url="file://" + sys.argv[1])
block = os.urandom(8 * MiB)
fs.pipe_file("data/warm.bin", block)  # imports, clients, caches: before the baseline
with fs.open("data/warm.bin", "rb", block_size=8 * MiB) as file:
    file.read()
Path("/proc/self/clear_refs").write_text("5")
baseline = kib("VmRSS")
with fs.open("data/big.bin", "wb") as file:
    for _ in range(64):
        file.write(block)
written = kib("VmHWM") - baseline
Path("/proc/self/clear_refs").write_text("5")
baseline = kib("VmRSS")
total = 0
with fs.open("data/big.bin", "rb", block_size=8 * MiB) as file:
    while chunk := file.read(8 * MiB):
        total += len(chunk)
read = kib("VmHWM") - baseline
print(written // 1024, read // 1024, total)
"""


def test_512_mib_through_open_keeps_memory_bounded(tmp_path: Path) -> None:
    """Written through ``open("wb")`` and read back through ``open("rb")`` in 8 MiB blocks, in a
    process of its own: its peak resident memory grows by at most 64 MiB either way."""
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-c", MEMORY_PROBE, str(tmp_path / "files")],
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    written_mib, read_mib, total = (int(field) for field in result.stdout.split())
    assert total == 512 * 1024 * 1024
    assert written_mib <= 64, f"writing 512 MiB grew the peak RSS by {written_mib} MiB"
    assert read_mib <= 64, f"reading 512 MiB grew the peak RSS by {read_mib} MiB"
