"""``AzureStorage``: Azure Blob Storage, an adapter of azure-storage-blob's asyncio client to the
engine.

Each hook below is one Azure request; everything above a request (cutting blocks, retries, own
writes after a lost answer, damaged uploads, resumed and checked reads) is the engine's
(:mod:`bucketry.objectstore`). Staged blocks are the engine's parts, committed with Put Block
List. ``overwrite=False`` is Azure's own conditional create: ``If-None-Match: *`` on Put Blob and
on the commit. Each block and each single upload carries a Content-MD5 the service checks.
"""

from __future__ import annotations

import asyncio
import base64
import secrets
from collections import deque
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import Any
from urllib.parse import quote

from azure.core import MatchConditions
from azure.core.pipeline.transport import AioHttpTransport
from azure.storage.blob import BlobBlock, BlobProperties, ContentSettings
from azure.storage.blob._generated.models import ModifiedAccessConditions
from azure.storage.blob.aio import BlobClient, BlobPrefix, BlobServiceClient, ContainerClient

from bucketry.azure import decode_azure_metadata, encode_azure_metadata
from bucketry.backend import (
    Answer,
    BucketryError,
    BucketStorage,
    BytesReader,
    Capability,
    ConfigurationError,
    IntegrityError,
    Listed,
    NotFoundError,
    ObjectHead,
    Page,
    Part,
    Put,
    Stored,
    UnavailableError,
    content_md5,
    digest_off_the_loop,
    forbid_hidden_resends,
    plain_etag,
)
from bucketry_azure.account import SKEW, blob_sas, resolve_account
from bucketry_azure.errors import azure_errors, status, translate

__all__ = ["AzureStorage"]

MiB = 1024 * 1024
READ_PART = 4 * MiB
"""Bytes per ranged read: the most Azure sends with a Content-MD5 of the range."""
BATCH = 256
"""Sub-requests per Blob Batch: the most Azure takes."""
DELETED = (200, 202, 204, 404)
"""A sub-request's statuses that leave the blob gone."""


class _PolicyOnlyTransport(AioHttpTransport):  # type: ignore[misc]
    """The SDK's aiohttp transport, with aiohttp's own resend of idempotent requests off."""

    async def open(self) -> None:
        await super().open()
        forbid_hidden_resends(self.session)


class AzureStorage(BucketStorage):
    """Files as block blobs in one container, optionally under a name prefix.

    Credentials, in order of precedence: ``connection_string``; ``account_url`` with
    ``account_key`` or ``sas_token``; a ``credential`` object (any azure-identity credential);
    otherwise azure-identity's ``DefaultAzureCredential`` when ``bucketry[azure-identity]`` is
    installed. URL form: ``azure://container/prefix?account_url=...&account_key=...``.
    ``url()`` is the plain blob URL, or a read SAS valid ``querystring_expire`` seconds when that
    is given (and an account key is).
    """

    backend_name = "azure"
    service_name = "Azure"
    bucket_option = "container"
    upload_checksum = "md5"
    capabilities = frozenset(Capability)
    signed_put_headers = MappingProxyType({"x-ms-blob-type": "BlockBlob"})
    secret_options = frozenset({"connection_string", "account_key", "sas_token", "credential"})

    def __init__(
        self,
        *,
        container: str,
        prefix: str = "",
        connection_string: str | None = None,
        account_url: str | None = None,
        account_name: str | None = None,
        account_key: str | None = None,
        sas_token: str | None = None,
        credential: Any = None,
        api_version: str | None = None,
        custom_domain: str | None = None,
        url_protocol: str = "https",
        querystring_expire: int = 0,
        cache_control: str | None = None,
        multipart_threshold: int = 8 * MiB,
        part_size: int = 4 * MiB,
        max_concurrency: int = 8,
        list_page_size: int = 5000,
        copy_timeout: float = 600.0,
        max_attempts: int = 5,
        retry_deadline: float = 60.0,
        connect_timeout: float = 10.0,
        read_timeout: float = 60.0,
        max_single_put_size: int | None = None,
        block_size: int | None = None,
        expiration_secs: int | None = None,
    ) -> None:
        if not container:
            raise ConfigurationError("The azure backend needs container=<container name>.")
        old = {"max_single_put_size": max_single_put_size, "block_size": block_size}
        sizes = {"multipart_threshold": multipart_threshold, "part_size": part_size}
        sizes |= {"querystring_expire": querystring_expire}
        sizes |= self._renamed(old | {"expiration_secs": expiration_secs})
        self._setup(
            prefix=prefix,
            max_concurrency=max_concurrency,
            list_page_size=list_page_size,
            max_attempts=max_attempts,
            retry_deadline=retry_deadline,
            custom_domain=custom_domain,
            url_protocol=url_protocol,
            **sizes,
        )
        self.container = container
        self.connection_string = connection_string
        self.account_url = account_url
        self.account_name = account_name
        self.account_key = account_key
        self.credential = credential
        self.api_version = api_version
        self.cache_control = cache_control
        self.copy_timeout = copy_timeout
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self._where = resolve_account(connection_string, account_url, account_name, account_key)
        self._account = self._where.name
        self.sas_token = sas_token or self._where.sas_token
        if self._where.key is None and self.credential is None:
            # Without an account key (or a token credential for user delegation) nothing can sign.
            self.capabilities = AzureStorage.capabilities - {Capability.SIGNED_URL}
        self._service: BlobServiceClient | None = None
        self._client: ContainerClient | None = None
        self._owned_credential: Any = None

    # -- client ----------------------------------------------------------------------------------

    async def _connect(self) -> None:
        options: dict[str, Any] = {
            "max_single_put_size": self.multipart_threshold,  # upload_blob: one Put Blob
            # bucketry's RetryPolicy retries; the SDK's own retries would multiply with it.
            "retry_total": 0,
            "transport": _PolicyOnlyTransport(
                connection_timeout=self.connect_timeout, read_timeout=self.read_timeout
            ),
            "connection_timeout": self.connect_timeout,
            "read_timeout": self.read_timeout,
        }
        if self.api_version:
            options["api_version"] = self.api_version
        with azure_errors(self.container, configuring=True):
            if self.connection_string:
                service = BlobServiceClient.from_connection_string(
                    self.connection_string, **options
                )
            else:
                service = BlobServiceClient(
                    self._where.endpoint, credential=self._credential(), **options
                )
        self._service = service
        self._client = service.get_container_client(self.container)

    def _credential(self) -> Any:
        if self.account_key:
            return {"account_name": self._account, "account_key": self.account_key}
        if self.sas_token:
            return self.sas_token.lstrip("?")
        if self.credential is not None:
            return self.credential
        try:
            from azure.identity.aio import DefaultAzureCredential
        except ImportError:
            raise ConfigurationError(
                "No Azure credential given: pass connection_string, account_key, sas_token or "
                'credential, or pip install "bucketry[azure-identity]" to use '
                "DefaultAzureCredential."
            ) from None
        self._owned_credential = DefaultAzureCredential()
        return self._owned_credential

    async def _disconnect(self) -> None:
        service, self._service, self._client = self._service, None, None
        if service is not None:
            await service.close()
        credential, self._owned_credential = self._owned_credential, None
        if credential is not None:
            await credential.close()

    @property
    def _container(self) -> ContainerClient:
        assert self._client is not None, "connected before use by Storage._ensure_connected"
        return self._client

    def _blob(self, key: str) -> BlobClient:
        return self._container.get_blob_client(key)

    def _translate(self, exc: Exception, name: str | None) -> BucketryError:
        return translate(exc, self.container, name)

    def _written(self, put: Put) -> dict[str, Any]:
        """How a Put Blob or a commit describes the blob, and its condition."""
        settings = ContentSettings(content_type=put.content_type, cache_control=self.cache_control)
        condition = MatchConditions.IfMissing if put.if_absent else None
        metadata = encode_azure_metadata(put.metadata)
        return {"content_settings": settings, "metadata": metadata, "match_condition": condition}

    # -- the hooks -------------------------------------------------------------------------------

    async def _put_object(self, put: Put, body: bytes, checksum: str) -> Stored:
        # The Content-MD5 the service checks before it commits, as the engine computed it (the
        # SDK's validate_content would hash the body a second time, on the event loop).
        md5 = content_md5(checksum)
        answer = await self._blob(put.key).upload_blob(
            body, overwrite=not put.if_absent, headers={"Content-MD5": md5}, **self._written(put)
        )
        received = answer.get("content_md5")
        return Stored(tag=str(answer["etag"]), checksum=bytes(received).hex() if received else None)

    async def _start_upload(self, put: Put) -> str:
        """No request: block ids carry this random token, so racing writers never mix blocks.

        Uncommitted blocks of a failed upload cannot be deleted through the API; the service
        discards them when the blob is next committed, or after a week.
        """
        return secrets.token_hex(8)

    async def _put_part(self, put: Put, upload: str, number: int, body: memoryview) -> Part:
        block_id = f"{upload}-{number:08d}"  # the SDK base64-encodes ids itself
        # A large block is hashed on a worker thread while other blocks are on the wire (the
        # SDK's validate_content hashes on the event loop, holding up every block in flight).
        md5 = await digest_off_the_loop(body)
        answer = await self._blob(put.key).stage_block(
            block_id, BytesReader(body), length=len(body), transactional_content_md5=md5
        )
        if answer.get("content_md5") not in (None, md5):
            raise IntegrityError(f"Azure received a damaged block {number} of {put.key!r}.")
        return Part(number, block_id, len(body), md5)

    async def _complete_upload(self, put: Put, upload: str, parts: list[Part]) -> Stored:
        answer = await self._blob(put.key).commit_block_list(
            [BlobBlock(block_id=part.tag) for part in parts],
            validate_content=True,  # the block list itself travels with a Content-MD5
            **self._written(put),
        )
        return Stored(tag=str(answer["etag"]))  # its Content-MD5 is the block list's

    async def _holds(self, put: Put, sent: str, parts: list[Part] | None) -> bool:
        """A blob committed from exactly this upload's block ids (its random token) is this
        upload's, whoever else writes the same name; a single put is told by its MD5."""
        if parts is None:
            return await super()._holds(put, sent, parts)
        blob = self._blob(put.key)
        try:
            committed, _ = await self._call(self._name(put.key), blob.get_block_list)
        except NotFoundError:
            return False
        return [block.id for block in committed] == [part.tag for part in parts]

    async def _get_object(
        self, key: str, start: int, end: int | None, if_match: str | None, chunk_size: int
    ) -> Answer | None:
        """The first range, read and checked here; the rest as ranges of ``READ_PART`` bytes,
        ``max_concurrency`` at a time, as the answer's body is read.

        The SDK's downloader asks for one range after another, so a large read waited for every
        round trip in turn (82 MB/s from Azurite, against 465 for obstore's parallel reads). Each
        range is checked against the Content-MD5 Azure computes for it (:meth:`_read_range`) and
        names the first range's ETag, so a blob replaced during the read is never stitched from
        two versions. The whole object's checksum is the blob's Content-MD5, which the service
        computed on Put Blob (a blob committed from blocks has none).

        Up to ``max_concurrency`` ranges are in flight while the one before is yielded; the
        engine closes the body as soon as its reader stops, which cancels the ranges in flight.
        """
        blob, name = self._blob(key), self._name(key) or key
        try:
            headers, data = await self._read_range(blob, name, start, end, if_match)
        except Exception as exc:
            if status(exc) == 416:  # start is at or past the end
                return None
            raise
        tag, whole = headers.get("ETag"), headers.get("x-ms-blob-content-md5")
        content_range = headers.get("Content-Range")  # "bytes 0-4194303/536870912"
        total = int(content_range.rsplit("/", 1)[1]) if content_range else start + len(data)
        stop = total if end is None else min(end, total)

        async def fetch(offset: int) -> bytes:
            # Named by the first range's ETag: a 412 is the engine's "replaced while read".
            return (await self._read_range(blob, name, offset, stop, tag))[1]

        async def chunks(data: bytes) -> AsyncIterator[bytes]:
            ahead: deque[asyncio.Task[bytes]] = deque()
            offsets = iter(range(start + len(data), stop, READ_PART))
            try:
                while True:
                    for offset in offsets:  # keep the window full while this range is yielded
                        ahead.append(asyncio.ensure_future(fetch(offset)))
                        if len(ahead) >= self.max_concurrency:
                            break
                    view = memoryview(data)
                    for at in range(0, len(view), chunk_size):
                        yield bytes(view[at : at + chunk_size])
                    if not ahead:
                        return
                    data = await ahead.popleft()
            finally:  # the read failed, stopped early or was cancelled: nothing left running
                for task in ahead:
                    task.cancel()
                if ahead:
                    await asyncio.gather(*ahead, return_exceptions=True)

        return Answer(chunks(data), tag, {"md5": base64.b64decode(whole).hex()} if whole else {})

    async def _read_range(
        self, blob: BlobClient, name: str, offset: int, end: int | None, etag: str | None
    ) -> tuple[Mapping[str, str], bytes]:
        """Up to ``READ_PART`` bytes from ``offset`` (the answer's headers and its bytes),
        checked against the Content-MD5 Azure computes for them; given ``etag``, of that version
        only.

        Made with the SDK's generated client, not its downloader: the downloader hashes each
        range on the event loop (where four 4 MiB ranges in flight queue behind one another), or,
        without its check, retries a broken body by itself three times a second apart, below the
        retry policy. Here a break is the core's to resume, and a large range is hashed on a
        worker thread (hashlib lets go of the GIL), a small one inline.
        """
        last = offset + READ_PART if end is None else min(end, offset + READ_PART)
        headers, body = await blob._client.blob.download(
            range=f"bytes={offset}-{last - 1}",
            range_get_content_md5=True,
            modified_access_conditions=ModifiedAccessConditions(if_match=etag),
            cls=lambda answer, body, _: (answer.http_response.headers, body),
        )
        data = b"".join([chunk async for chunk in body])
        if base64.b64encode(await digest_off_the_loop(data)).decode() != headers.get("Content-MD5"):
            raise IntegrityError(
                f"A range of {name!r} read from Azure does not match its Content-MD5; "
                "read it again."
            )
        return headers, data

    async def _head_object(self, key: str) -> ObjectHead:
        properties = await self._blob(key).get_blob_properties()
        md5 = properties.content_settings.content_md5  # Put Blob's: how a lost put is told
        return ObjectHead(**_described(properties), checksums={"md5": md5.hex()} if md5 else {})

    async def _delete_object(self, key: str, if_match: str | None = None) -> None:
        condition: dict[str, Any] = {
            "etag": if_match,
            "match_condition": MatchConditions.IfNotModified,
        }
        await self._blob(key).delete_blob(**(condition if if_match else {}))

    async def _delete_objects(self, keys: list[str]) -> None:
        """One Blob Batch request per ``BATCH`` blobs; one by one for what it refuses.

        Azurite answers the asyncio client's batch with 400 for every sub-request, so the
        fallback is exercised in the tests; real Azure takes the batch.
        """
        refused: list[str] = []
        for at in range(0, len(keys), BATCH):
            batch = keys[at : at + BATCH]
            try:
                answers = await self._container.delete_blobs(*batch, raise_on_any_failure=False)
                codes = [answer.status_code async for answer in answers]
            except Exception:  # whatever the batch did not confirm goes one by one
                codes = []
            if len(codes) != len(batch):  # it said nothing of some: all go one by one
                codes = [0] * len(batch)
            refused += [k for k, c in zip(batch, codes, strict=True) if c not in DELETED]
        limit = asyncio.Semaphore(self.max_concurrency * 4)

        async def delete(key: str) -> None:
            async with limit:
                try:
                    await self._blob(key).delete_blob()
                except Exception as exc:
                    if status(exc) != 404:
                        raise

        await asyncio.gather(*(delete(key) for key in refused))

    async def _list_page(self, prefix: str, delimiter: bool, token: str | None) -> Page:
        size = self.list_page_size
        listing: Any = (
            self._container.walk_blobs(prefix, delimiter="/", results_per_page=size)  # one level
            if delimiter
            else self._container.list_blobs(prefix, results_per_page=size)
        )
        pages = listing.by_page(continuation_token=token)
        page = await anext(pages, None)
        items = [item async for item in page] if page is not None else []
        return Page(
            [Listed(key=item.name, **_described(item)) for item in items if _is_blob(item)],
            [str(item.name) for item in items if not _is_blob(item)],
            pages.continuation_token or None,
        )

    async def _copy_object(self, src: str, dst: str, *, if_absent: bool, size: int) -> None:
        """Copy Blob, then its status polled until done (a large copy runs in the background)."""
        source, target = self._blob(src).url, self._blob(dst)
        if self._where.key is not None:  # a short read SAS: works with any credential kind
            source += "?" + blob_sas(self._where, self.container, src, "GET", 600)
        condition = MatchConditions.IfMissing if if_absent else None
        name = self._name(dst)
        copy = await self._call(
            name,
            lambda: target.start_copy_from_url(
                source, requires_sync=False, match_condition=condition
            ),
        )
        state, loop = copy.get("copy_status"), asyncio.get_running_loop()
        deadline = loop.time() + self.copy_timeout
        while state == "pending":  # each poll under the policy: a failed one is asked again
            if loop.time() > deadline:
                await self._call(name, lambda: target.abort_copy(str(copy["copy_id"])))
                raise UnavailableError(
                    f"Copying {src!r} to {dst!r} did not finish in {self.copy_timeout} s; "
                    "it was aborted. Raise copy_timeout for very large blobs."
                )
            await asyncio.sleep(0.2)
            state = (await self._call(name, target.get_blob_properties)).copy.status
        if state != "success":
            raise UnavailableError(
                f"Azure could not copy {src!r} to {dst!r} (copy status {state!r}); try again."
            )

    # -- addresses -------------------------------------------------------------------------------

    def _url(self, name: str) -> str:
        if self.custom_domain:  # it stands for the account: the path names the container
            domain = f"{self.url_protocol}://{self.custom_domain.rstrip('/')}"
            return f"{domain}/{quote(self.container)}/{quote(self._key(name))}"
        return super()._url(name)

    def _blob_url(self, key: str) -> str:
        return f"{self._where.endpoint}/{quote(self.container)}/{quote(key)}"

    def _public_url(self, key: str) -> str:
        if not self.querystring_expire or self._where.key is None:
            return self._blob_url(key)
        sas = blob_sas(self._where, self.container, key, "GET", self.querystring_expire)
        return f"{self._blob_url(key)}?{sas}"

    async def _sign(self, key: str, method: str, expires: int) -> str:
        lent = None
        if self._where.key is None:  # a user-delegation SAS, signed with a key the service lends
            assert self._service is not None
            now = datetime.now(UTC)
            lent = await self._service.get_user_delegation_key(
                now - SKEW, now + timedelta(seconds=expires)
            )
        sas = blob_sas(self._where, self.container, key, method, expires, lent)
        return f"{self._blob_url(key)}?{sas}"

    def _repr_options(self) -> dict[str, object]:
        shown = super()._repr_options()
        shown.pop("credential", None)  # objects may print their own secrets
        return shown


def _described(properties: BlobProperties) -> dict[str, Any]:
    """What a properties call and a listing both say of a blob."""
    return {
        "size": int(properties.size),
        "etag": plain_etag(properties.etag),
        "content_type": properties.content_settings.content_type,
        "last_modified": properties.last_modified,
        "metadata": decode_azure_metadata(properties.metadata or {}),
    }


def _is_blob(item: BlobProperties | BlobPrefix) -> bool:
    return not isinstance(item, BlobPrefix)
