"""Everything the benchmark compares, behind one small interface: put bytes, get bytes.

bucketry is measured next to the raw SDK it wraps and next to its peers, each pointed at the same
emulator in the same run.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Imported once here, not inside put/get: an import statement on the measured path would be
# charged to the contender that makes it.
import aiofiles
import google_crc32c
import obstore
from azure.storage.blob import ContentSettings

KEY, SECRET, REGION = "bench", "bench", "us-east-1"


MiB = 1024 * 1024


@dataclass
class Endpoints:
    s3: str | None = None
    gcs: str | None = None
    azure: str | None = None  # a connection string
    workdir: str = "/tmp"


class Contender:
    """``put`` and ``get`` one object; ``name`` says who, ``kind`` says how they relate."""

    name = ""
    kind = "peer"  # "bucketry", "raw" (the SDK bucketry wraps) or "peer"

    async def __aenter__(self) -> Contender:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    async def put(self, key: str, data: bytes) -> None:
        raise NotImplementedError

    async def get(self, key: str) -> bytes:
        raise NotImplementedError

    # 4 KiB objects put and got, in the small-object and scaling scenarios.
    small = True

    # A large object, streamed both ways: each contender's own way of not holding it in memory.
    # Those that leave these out are not in the large-object scenario.
    large = False

    async def upload(self, key: str, chunks: AsyncIterator[bytes]) -> None:
        raise NotImplementedError

    def download(self, key: str) -> AsyncIterator[bytes]:
        raise NotImplementedError

    async def remove(self, key: str) -> None:
        raise NotImplementedError

    # Every object under a prefix, each contender's own listing call (all pages, as names).
    # Those that leave it out are not in the listing scenario.
    lists = False

    def list_names(self, prefix: str) -> AsyncIterator[str]:
        raise NotImplementedError


class _AsyncReader:
    """An async iterator of chunks as the file object SDK uploaders read from."""

    def __init__(self, chunks: AsyncIterator[bytes]) -> None:
        self._chunks, self._left = chunks, b""

    async def read(self, size: int = -1) -> bytes:
        while size < 0 or len(self._left) < size:
            chunk = await anext(self._chunks, None)
            if chunk is None:
                break
            self._left += chunk
        if size < 0:
            size = len(self._left)
        data, self._left = self._left[:size], self._left[size:]
        return data


class Bucketry(Contender):
    kind = "bucketry"

    def __init__(self, name: str, make: Callable[[], Any]) -> None:
        self.name = name
        self._make = make

    async def __aenter__(self) -> Contender:
        self.storage = self._make()
        await self.storage.__aenter__()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.storage.aclose()

    async def put(self, key: str, data: bytes) -> None:
        await self.storage.save(key, data, overwrite=True)

    async def get(self, key: str) -> bytes:
        return bytes(await self.storage.open(key))

    large = True

    async def upload(self, key: str, chunks: AsyncIterator[bytes]) -> None:
        await self.storage.save(key, chunks, overwrite=True)

    def download(self, key: str) -> AsyncIterator[bytes]:
        return self.storage.stream(key)  # type: ignore[no-any-return]

    async def remove(self, key: str) -> None:
        await self.storage.delete(key)

    lists = True

    async def list_names(self, prefix: str) -> AsyncIterator[str]:
        async for info in self.storage.list(prefix):
            yield info.name


class UncheckedWholeReads(Bucketry):
    """The obstore engine with its MD5 check of whole reads taken out: not a setting bucketry
    offers, but the large-object scenario's measure of what that check costs here. hashlib runs
    near 770 MB/s on one core of this machine, and on two cores the hash competes with the
    emulator serving the read."""

    small = lists = False

    async def __aenter__(self) -> Contender:
        await super().__aenter__()
        self.storage._stored_md5 = lambda result: None  # no MD5 known: nothing to compare
        return self


# -- S3 ------------------------------------------------------------------------------------------


class RawS3(Contender):
    """The requests bucketry's S3 backend makes, made by hand: a content type on the PUT and the
    MD5 of the body compared with the ETag S3 returns; a CRC-checked (``ChecksumMode``) GET."""

    name, kind = "aioboto3", "raw"

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint

    async def __aenter__(self) -> Contender:
        import aioboto3
        from aiobotocore.config import AioConfig

        session = aioboto3.Session()
        self._context = session.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id=KEY,
            aws_secret_access_key=SECRET,
            config=AioConfig(max_pool_connections=32),
        )
        self.client = await self._context.__aenter__()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._context.__aexit__(None, None, None)

    async def put(self, key: str, data: bytes) -> None:
        response = await self.client.put_object(
            Bucket="bench", Key=key, Body=data, ContentType="application/octet-stream"
        )
        if response["ETag"].strip('"') != hashlib.md5(data, usedforsecurity=False).hexdigest():
            raise RuntimeError("damaged upload")

    async def get(self, key: str) -> bytes:
        response = await self.client.get_object(Bucket="bench", Key=key, ChecksumMode="ENABLED")
        async with response["Body"] as body:
            return bytes(await body.read())

    large = True

    async def upload(self, key: str, chunks: AsyncIterator[bytes]) -> None:
        await self.client.upload_fileobj(_AsyncReader(chunks), "bench", key)

    async def download(self, key: str) -> AsyncIterator[bytes]:
        response = await self.client.get_object(Bucket="bench", Key=key)
        body = response["Body"]
        try:
            async for chunk in body.iter_chunks(MiB):
                yield chunk
        finally:
            body.close()

    async def remove(self, key: str) -> None:
        await self.client.delete_object(Bucket="bench", Key=key)

    lists = True

    async def list_names(self, prefix: str) -> AsyncIterator[str]:
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket="bench", Prefix=prefix)
        async for page in pages:
            for item in page.get("Contents", []):
                yield item["Key"]


class Fsspec(Contender):
    """A peer built on an fsspec async file system: the same two calls for each of them."""

    fs: Any

    async def put(self, key: str, data: bytes) -> None:
        await self.fs._pipe_file(f"bench/{key}", data)

    async def get(self, key: str) -> bytes:
        return bytes(await self.fs._cat_file(f"bench/{key}"))

    lists = True

    async def list_names(self, prefix: str) -> AsyncIterator[str]:
        self.fs.invalidate_cache()  # a repetition lists again, not from the last one's cache
        for path in await self.fs._find(f"bench/{prefix}"):
            yield path.split("/", 1)[1]


class _SyncFilesInThreads(Fsspec):
    """For an fsspec peer without async files: its own file objects, written and read from a
    worker thread (how a user streams a large object through it without blocking the loop)."""

    large = True

    def _sync_fs(self) -> Any:
        raise NotImplementedError

    async def upload(self, key: str, chunks: AsyncIterator[bytes]) -> None:
        fs = self._sync_fs()
        file = await asyncio.to_thread(fs.open, f"bench/{key}", "wb")
        try:
            async for chunk in chunks:
                await asyncio.to_thread(file.write, chunk)
        finally:
            await asyncio.to_thread(file.close)

    async def download(self, key: str) -> AsyncIterator[bytes]:
        fs = self._sync_fs()
        file = await asyncio.to_thread(fs.open, f"bench/{key}", "rb")
        try:
            while chunk := await asyncio.to_thread(file.read, MiB):
                yield chunk
        finally:
            await asyncio.to_thread(file.close)

    async def remove(self, key: str) -> None:
        await asyncio.to_thread(self._sync_fs().rm_file, f"bench/{key}")


class S3fs(_SyncFilesInThreads):
    name = "s3fs"

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint

    async def __aenter__(self) -> Contender:
        import s3fs

        self.fs = s3fs.S3FileSystem(
            key=KEY,
            secret=SECRET,
            endpoint_url=self.endpoint,
            asynchronous=True,
            skip_instance_cache=True,
            client_kwargs={"region_name": REGION},
        )
        self.session = await self.fs.set_session()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.session.close()

    def _sync_fs(self) -> Any:
        import s3fs

        return s3fs.S3FileSystem(
            key=KEY,
            secret=SECRET,
            endpoint_url=self.endpoint,
            client_kwargs={"region_name": REGION},
        )


class Obstore(Contender):
    name = "obstore"

    def __init__(self, endpoint: str) -> None:
        from obstore.store import S3Store

        self.store = S3Store(
            "bench",
            endpoint=endpoint,
            access_key_id=KEY,
            secret_access_key=SECRET,
            region=REGION,
            client_options={"allow_http": True},
        )

    async def put(self, key: str, data: bytes) -> None:
        await obstore.put_async(self.store, key, data)

    async def get(self, key: str) -> bytes:
        result = await obstore.get_async(self.store, key)
        return bytes(await result.bytes_async())

    large = True

    async def upload(self, key: str, chunks: AsyncIterator[bytes]) -> None:
        await obstore.put_async(self.store, key, chunks)

    async def download(self, key: str) -> AsyncIterator[bytes]:
        result = await obstore.get_async(self.store, key)
        async for chunk in result.stream(min_chunk_size=MiB):
            yield bytes(chunk)

    async def remove(self, key: str) -> None:
        await obstore.delete_async(self.store, key)

    lists = True

    async def list_names(self, prefix: str) -> AsyncIterator[str]:
        async for batch in obstore.list(self.store, prefix):
            for item in batch:
                yield item["path"]


# -- GCS -----------------------------------------------------------------------------------------


class RawGCS(Contender):
    """gcloud-aio-storage making bucketry's requests: a multipart upload whose CRC32C, as GCS
    reports it, is checked against the bytes sent. (bucketry also checks downloads; this
    client's download returns no headers to check against.)"""

    name, kind = "gcloud-aio-storage", "raw"

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint

    async def __aenter__(self) -> Contender:
        import aiohttp
        from gcloud.aio.storage import Storage

        os.environ["STORAGE_EMULATOR_HOST"] = self.endpoint
        self.session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=5))
        self.storage = Storage(session=self.session)  # type: ignore[arg-type]
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.session.close()
        os.environ.pop("STORAGE_EMULATOR_HOST", None)

    async def put(self, key: str, data: bytes) -> None:
        # A resource makes it the multipart (JSON resource + media) upload bucketry sends.
        response = await self.storage.upload(
            "bench",
            key,
            data,
            content_type="application/octet-stream",
            metadata={"contentType": "application/octet-stream"},
        )
        sent = base64.b64encode(google_crc32c.value(data).to_bytes(4, "big")).decode()
        if response.get("crc32c") not in (None, sent):
            raise RuntimeError("damaged upload")

    async def get(self, key: str) -> bytes:
        return bytes(await self.storage.download("bench", key))

    lists = True

    async def list_names(self, prefix: str) -> AsyncIterator[str]:
        params = {"prefix": prefix}
        while True:
            page = await self.storage.list_objects("bench", params=params)
            for item in page.get("items", []):
                yield item["name"]
            if not page.get("nextPageToken"):
                return
            params = {"prefix": prefix, "pageToken": page["nextPageToken"]}


class Gcsfs(_SyncFilesInThreads):
    name = "gcsfs"

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint

    async def __aenter__(self) -> Contender:
        from gcsfs.core import GCSFileSystem  # the plain class: the "extended" one probes
        # every bucket over gRPC first, which an emulator does not answer (60 s timeouts)

        self.fs = GCSFileSystem(
            endpoint_url=self.endpoint, token="anon", asynchronous=True, skip_instance_cache=True
        )
        self.session = await self.fs._set_session()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.session.close()

    def _sync_fs(self) -> Any:
        from gcsfs.core import GCSFileSystem

        return GCSFileSystem(endpoint_url=self.endpoint, token="anon")


# -- Azure ---------------------------------------------------------------------------------------


class RawAzure(Contender):
    """The requests bucketry's Azure backend makes: a content type, and a Content-MD5 both ways
    (``validate_content``), which the SDK computes and checks."""

    name, kind = "azure-storage-blob aio", "raw"

    def __init__(self, connection_string: str, *, checked: bool = True) -> None:
        self.connection_string = connection_string
        self.checked = checked
        if not checked:
            # The requests adlfs makes: what the Content-MD5 both ways costs, measured apart.
            self.name, self.kind = "azure-storage-blob aio, no Content-MD5", "peer"
            self.lists = self.large = False  # the same listing and streams as the checked one

    async def __aenter__(self) -> Contender:
        from azure.storage.blob.aio import ContainerClient

        self.client = ContainerClient.from_connection_string(self.connection_string, "bench")
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.client.close()

    async def put(self, key: str, data: bytes) -> None:
        await self.client.upload_blob(
            key,
            data,
            overwrite=True,
            content_settings=ContentSettings(content_type="application/octet-stream"),
            validate_content=self.checked,
            max_concurrency=1,
        )

    async def get(self, key: str) -> bytes:
        downloader = await self.client.download_blob(key, validate_content=self.checked)
        return bytes(await downloader.readall())

    large = True

    async def upload(self, key: str, chunks: AsyncIterator[bytes]) -> None:
        await self.client.upload_blob(
            key, chunks, overwrite=True, validate_content=True, max_concurrency=4
        )

    async def download(self, key: str) -> AsyncIterator[bytes]:
        # chunks() is the SDK's streaming read: one range after another (its parallel reads
        # need a seekable file to write ranges into out of order).
        downloader = await self.client.download_blob(key, validate_content=True)
        async for chunk in downloader.chunks():
            yield chunk

    async def remove(self, key: str) -> None:
        await self.client.delete_blob(key)

    lists = True

    async def list_names(self, prefix: str) -> AsyncIterator[str]:
        async for blob in self.client.list_blobs(name_starts_with=prefix):
            yield blob.name


class ObstoreAzure(Obstore):
    """The same calls as :class:`Obstore`, on an Azure store."""

    name = "obstore"

    def __init__(self, connection_string: str) -> None:
        from obstore.store import AzureStore

        parts = dict(item.split("=", 1) for item in connection_string.split(";") if "=" in item)
        self.store = AzureStore(
            "bench",
            account_name=parts["AccountName"],
            account_key=parts["AccountKey"],
            endpoint=parts["BlobEndpoint"],
            client_options={"allow_http": True},
        )


class Adlfs(_SyncFilesInThreads):
    name = "adlfs"

    def __init__(self, connection_string: str) -> None:
        self.connection_string = connection_string

    async def __aenter__(self) -> Contender:
        import adlfs

        self.fs = adlfs.AzureBlobFileSystem(
            connection_string=self.connection_string, asynchronous=True, skip_instance_cache=True
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        import weakref

        from adlfs.utils import close_service_client

        await close_service_client(self.fs)
        # adlfs closes it again from a finalizer at interpreter exit, through a loop that is
        # gone by then (a RuntimeError traceback after every run); it is closed already.
        for finalizer in list(weakref.finalize._registry):  # type: ignore[attr-defined]
            if (finalizer.peek() or (None,))[0] is self.fs:
                finalizer.detach()

    def _sync_fs(self) -> Any:
        import adlfs

        return adlfs.AzureBlobFileSystem(connection_string=self.connection_string)


# -- the local disk ------------------------------------------------------------------------------


class LocalBase(Contender):
    def __init__(self, root: str) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)


class Aiofiles(LocalBase):
    name = "aiofiles"

    async def put(self, key: str, data: bytes) -> None:
        async with aiofiles.open(self.root / key, "wb") as file:
            await file.write(data)

    async def get(self, key: str) -> bytes:
        async with aiofiles.open(self.root / key, "rb") as file:
            return bytes(await file.read())


class FsspecLocal(LocalBase):
    name = "fsspec local"

    def __init__(self, root: str) -> None:
        super().__init__(root)
        from fsspec.implementations.local import LocalFileSystem

        self.fs = LocalFileSystem()

    async def put(self, key: str, data: bytes) -> None:
        await asyncio.to_thread(self.fs.pipe_file, str(self.root / key), data)

    async def get(self, key: str) -> bytes:
        return bytes(await asyncio.to_thread(self.fs.cat_file, str(self.root / key)))

    lists = True

    async def list_names(self, prefix: str) -> AsyncIterator[str]:
        skip = len(str(self.root)) + 1
        for path in await asyncio.to_thread(self.fs.find, str(self.root / prefix)):
            yield path[skip:]


class DjangoFileSystem(LocalBase):
    name = "Django FileSystemStorage (to_thread)"

    def __init__(self, root: str) -> None:
        super().__init__(root)
        from django.conf import settings

        if not settings.configured:
            settings.configure(MEDIA_ROOT=root, FILE_UPLOAD_PERMISSIONS=0o644)
        from django.core.files.base import ContentFile
        from django.core.files.storage import FileSystemStorage

        self.storage = FileSystemStorage(location=root)
        self.content = ContentFile

    async def put(self, key: str, data: bytes) -> None:
        def save() -> None:
            self.storage.delete(key)  # Django renames instead of overwriting
            self.storage.save(key, self.content(data))

        await asyncio.to_thread(save)

    async def get(self, key: str) -> bytes:
        def read() -> bytes:
            with self.storage.open(key) as file:
                return bytes(file.read())

        return await asyncio.to_thread(read)

    lists = True

    async def list_names(self, prefix: str) -> AsyncIterator[str]:
        """Django's storage API lists one directory a call (``listdir``); a walk is a call per
        directory, each on a worker thread."""
        storage = type(self.storage)(location=str(self.root))  # the root being listed
        pending = [prefix]
        while pending:
            directory = pending.pop()
            directories, files = await asyncio.to_thread(storage.listdir, directory)
            pending += [f"{directory}/{name}" for name in directories]
            for name in files:
                yield f"{directory}/{name}"


class PlainSync(LocalBase):
    """The floor: a plain synchronous loop, blocking the event loop, no safety at all."""

    name = "plain sync loop (floor)"

    async def put(self, key: str, data: bytes) -> None:
        (self.root / key).write_bytes(data)

    async def get(self, key: str) -> bytes:
        return (self.root / key).read_bytes()

    lists = True

    async def list_names(self, prefix: str) -> AsyncIterator[str]:
        skip = len(str(self.root)) + 1
        for directory, _, files in os.walk(self.root / prefix):
            for name in files:
                yield f"{directory[skip:]}/{name}"


class PlainAtomicSync(LocalBase):
    """The floor of an atomic replace: a temp file written and renamed over the name, in a plain
    synchronous loop. Against the plain loop it prices what the kernel charges for a new file
    per save (an inode made, the old one freed), which no adapter can avoid and keep a reader
    from ever seeing half a file."""

    name = "plain sync loop, atomic replace (floor)"

    async def put(self, key: str, data: bytes) -> None:
        self._replace(key, data)

    def _replace(self, key: str, data: bytes) -> None:
        temp = self.root / f".tmp-{key}"
        temp.write_bytes(data)
        os.replace(temp, self.root / key)

    async def get(self, key: str) -> bytes:
        return (self.root / key).read_bytes()


class ThreadedAtomic(PlainAtomicSync):
    """The same atomic replace, each put and get in a worker thread as fsspec's are here: the
    kernel's price of a new file per save when six threads create and rename in one directory
    at once (they queue on its lock), against fsspec local, which writes in place."""

    name = "atomic replace in worker threads (floor)"

    async def put(self, key: str, data: bytes) -> None:
        await asyncio.to_thread(self._replace, key, data)

    async def get(self, key: str) -> bytes:
        return await asyncio.to_thread((self.root / key).read_bytes)


def bucketry_storage(backend: str, endpoints: Endpoints, **options: Any) -> Any:
    """bucketry on ``backend``, configured as every scenario measures it."""
    from bucketry import create_storage

    if backend == "filesystem":
        return create_storage(
            "filesystem", **{"location": f"{endpoints.workdir}/bucketry", **options}
        )
    if backend == "s3":
        return create_storage(
            "s3",
            bucket="bench",
            endpoint_url=endpoints.s3,
            region=REGION,
            access_key_id=KEY,
            secret_access_key=SECRET,
            **options,
        )
    if backend == "s3+obstore":
        return create_storage(
            "s3+obstore",
            bucket="bench",
            endpoint_url=endpoints.s3,
            region=REGION,
            access_key_id=KEY,
            secret_access_key=SECRET,
            **options,
        )
    if backend == "azure+obstore":
        return create_storage(
            "azure+obstore", container="bench", connection_string=endpoints.azure, **options
        )
    if backend == "gcs":
        return create_storage("gcs", bucket="bench", emulator_host=endpoints.gcs, **options)
    if backend == "azure":
        return create_storage(
            "azure", container="bench", connection_string=endpoints.azure, **options
        )
    raise ValueError(backend)


def contenders(backend: str, endpoints: Endpoints) -> list[Contender]:
    """bucketry first, then the raw SDK it wraps, then the peers."""
    work = endpoints.workdir
    if backend == "filesystem":
        return [
            Bucketry(
                "bucketry (fsync)",
                lambda: bucketry_storage(backend, endpoints, location=f"{work}/bucketry-fsync"),
            ),
            Bucketry(
                "bucketry (no fsync)", lambda: bucketry_storage(backend, endpoints, fsync=False)
            ),
            Aiofiles(f"{work}/aiofiles"),
            FsspecLocal(f"{work}/fsspec"),
            DjangoFileSystem(f"{work}/django"),
            PlainSync(f"{work}/plain"),
            PlainAtomicSync(f"{work}/plain-atomic"),
            ThreadedAtomic(f"{work}/threaded-atomic"),
        ]
    ours = Bucketry("bucketry", lambda: bucketry_storage(backend, endpoints))
    on_obstore = Bucketry(
        "bucketry s3+obstore" if backend == "s3" else "bucketry azure+obstore",
        lambda: bucketry_storage(f"{backend}+obstore", endpoints),
    )
    unchecked = UncheckedWholeReads(
        f"{on_obstore.name}, reads' MD5 unchecked (the check's price)",
        lambda: bucketry_storage(f"{backend}+obstore", endpoints),
    )
    if backend == "s3":
        assert endpoints.s3
        return [
            ours,
            RawS3(endpoints.s3),
            S3fs(endpoints.s3),
            Obstore(endpoints.s3),
            on_obstore,
            unchecked,
        ]
    if backend == "gcs":
        assert endpoints.gcs
        return [ours, RawGCS(endpoints.gcs), Gcsfs(endpoints.gcs)]
    if backend == "azure":
        assert endpoints.azure
        return [
            ours,
            RawAzure(endpoints.azure),
            RawAzure(endpoints.azure, checked=False),
            Adlfs(endpoints.azure),
            ObstoreAzure(endpoints.azure),
            on_obstore,
            # The read-back of each upload (on by default over plain HTTP) measured apart.
            Bucketry(
                "bucketry azure+obstore, no read-back",
                lambda: bucketry_storage("azure+obstore", endpoints, verify_uploads=False),
            ),
            unchecked,
        ]
    raise ValueError(backend)
