"""``S3Storage``: Amazon S3 and S3-compatible services through one aiobotocore client.

Uploads stream: content up to ``multipart_threshold`` goes in one PutObject; anything larger goes
as a multipart upload cut into ``part_size`` parts, at most ``max_concurrency`` in flight, so memory
stays near ``(max_concurrency + 1) * part_size`` for any object size. A failed or cancelled
multipart upload is aborted, so no parts are left behind to bill for.

``overwrite=False`` is a real conditional create: ``If-None-Match: *`` on PutObject and on
CompleteMultipartUpload, so S3 itself refuses to replace an existing key (412) and the core picks
another name.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import mimetypes
import re
import zlib
from collections.abc import AsyncIterator, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any, Self
from urllib.parse import quote

import aioboto3
import botocore
import botocore.session
from aiobotocore.config import AioConfig
from aiobotocore.httpsession import AIOHTTPSession
from botocore.config import Config
from botocore.exceptions import ClientError

from bucketry import (
    AlreadyExistsError,
    Capability,
    ConfigurationError,
    FileInfo,
    IntegrityError,
    NotFoundError,
    ReadVersion,
    RetryPolicy,
    WriteOptions,
)
from bucketry.content import BytesReader, read_ahead
from bucketry.metadata import decode_header_metadata, encode_header_metadata
from bucketry.objectstore import ObjectStoreStorage, key_prefix, name_for_key
from bucketry.parts import upload_parts
from bucketry.retry import forbid_hidden_resends
from bucketry_s3.errors import error_code, error_for, s3_errors

__all__ = ["S3Storage"]

_MD5_ETAG = re.compile(r"[0-9a-f]{32}")

MiB = 1024 * 1024
GiB = 1024 * MiB
MIN_PART_SIZE = 5 * MiB  # S3 rejects smaller parts, except the last (EntityTooSmall)
MAX_COPY_SIZE = 5 * GiB  # CopyObject's limit; larger objects are copied part by part

_OBJECT_PARAMETERS = {
    "cache_control": "CacheControl",
    "content_disposition": "ContentDisposition",
    "content_encoding": "ContentEncoding",
    "server_side_encryption": "ServerSideEncryption",
    "sse_kms_key_id": "SSEKMSKeyId",
    "storage_class": "StorageClass",
    "default_acl": "ACL",
}
_PRESIGN_OPERATIONS = {
    "GET": "get_object",
    "PUT": "put_object",
    "HEAD": "head_object",
    "DELETE": "delete_object",
}


class _PolicyOnlySession(AIOHTTPSession):  # type: ignore[misc]
    """aiobotocore's HTTP session, with aiohttp's own resend of idempotent requests off."""

    async def _get_session(self, proxy_url: str | None) -> Any:
        session = await super()._get_session(proxy_url)
        forbid_hidden_resends(session)
        return session


class S3Storage(ObjectStoreStorage):
    """Files as objects in one S3 bucket, optionally under a key prefix.

    URL form: ``s3://bucket/prefix?region=eu-west-1&endpoint_url=http://127.0.0.1:9000``; every
    constructor option may appear in the query.
    """

    backend_name = "s3"
    capabilities = frozenset(Capability)
    resumes_whole_reads = True
    secret_options = frozenset({"access_key_id", "secret_access_key", "session_token"})

    def __init__(
        self,
        *,
        bucket: str,
        prefix: str = "",
        region: str | None = None,
        endpoint_url: str | None = None,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        session_token: str | None = None,
        profile: str | None = None,
        addressing_style: str | None = None,
        custom_domain: str | None = None,
        url_protocol: str = "https",
        querystring_auth: bool = True,
        querystring_expire: int = 3600,
        cache_control: str | None = None,
        content_disposition: str | None = None,
        content_encoding: str | None = None,
        server_side_encryption: str | None = None,
        sse_kms_key_id: str | None = None,
        storage_class: str | None = None,
        default_acl: str | None = None,
        conditional_create: bool = True,
        multipart_threshold: int = 8 * MiB,
        part_size: int = 8 * MiB,
        max_concurrency: int = 3,
        max_pool_connections: int = 32,
        multipart_copy_threshold: int = MAX_COPY_SIZE,
        list_page_size: int = 1000,
        max_attempts: int = 5,
        retry_deadline: float = 60.0,
        connect_timeout: float = 10.0,
        read_timeout: float = 60.0,
    ) -> None:
        if not bucket:
            raise ConfigurationError("The s3 backend needs bucket=<bucket name>.")
        if part_size < MIN_PART_SIZE or multipart_threshold < MIN_PART_SIZE:
            raise ConfigurationError(
                f"part_size and multipart_threshold must be at least {MIN_PART_SIZE} bytes "
                "(S3's smallest multipart part)."
            )
        if max_concurrency < 1 or list_page_size < 1:
            raise ConfigurationError("max_concurrency and list_page_size must be at least 1.")
        if addressing_style not in (None, "auto", "path", "virtual"):
            raise ConfigurationError("addressing_style must be 'auto', 'path' or 'virtual'.")
        if (access_key_id is None) != (secret_access_key is None):
            raise ConfigurationError("Pass both access_key_id and secret_access_key, or neither.")
        self.bucket = bucket
        self.prefix = key_prefix(prefix)
        self.region = region
        self.endpoint_url = endpoint_url
        self.access_key_id = access_key_id
        self.secret_access_key = secret_access_key
        self.session_token = session_token
        self.profile = profile
        self.addressing_style = addressing_style
        self.custom_domain = custom_domain
        self.url_protocol = url_protocol
        self.querystring_auth = querystring_auth
        self.querystring_expire = querystring_expire
        self.cache_control = cache_control
        self.content_disposition = content_disposition
        self.content_encoding = content_encoding
        self.server_side_encryption = server_side_encryption
        self.sse_kms_key_id = sse_kms_key_id
        self.storage_class = storage_class
        self.default_acl = default_acl
        self.conditional_create = conditional_create
        self.multipart_threshold = multipart_threshold
        self.part_size = part_size
        self.max_concurrency = max_concurrency
        self.max_pool_connections = max_pool_connections
        self.multipart_copy_threshold = multipart_copy_threshold
        self.list_page_size = list_page_size
        self.max_attempts = max_attempts
        self.retry_deadline = retry_deadline
        self.retry = RetryPolicy(attempts=max_attempts, deadline=retry_deadline)
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        if not conditional_create:
            # For S3-compatible services without If-None-Match: the core falls back to
            # check-then-write, which is not race-free, and the suite reports it as unsupported.
            self.capabilities = S3Storage.capabilities - {Capability.CONDITIONAL_CREATE}
        self._client: Any = None
        self._stack: AsyncExitStack | None = None
        self._presigner: Any = None
        self._unsigned: Any = None

    @classmethod
    def from_url(cls, url: str) -> Self:
        return cls._from_bucket_url(url, "bucket")

    # -- client ----------------------------------------------------------------------------------

    def _config(self) -> dict[str, Any]:
        s3: dict[str, Any] = {}
        if self.addressing_style:
            s3["addressing_style"] = self.addressing_style
        return {
            "signature_version": "s3v4",
            "s3": s3,
            "max_pool_connections": self.max_pool_connections,
            # bucketry's RetryPolicy retries; the SDK's own retries would multiply with it.
            "retries": {"mode": "standard", "total_max_attempts": 1},
            "connect_timeout": self.connect_timeout,
            "read_timeout": self.read_timeout,
        }

    def _aio_config(self) -> AioConfig:
        return AioConfig(http_session_cls=_PolicyOnlySession, **self._config())

    def _credentials(self) -> dict[str, Any]:
        return {
            "aws_access_key_id": self.access_key_id,
            "aws_secret_access_key": self.secret_access_key,
            "aws_session_token": self.session_token,
        }

    async def _connect(self) -> None:
        session = aioboto3.Session(profile_name=self.profile, region_name=self.region)
        stack = AsyncExitStack()
        with s3_errors(self.bucket):
            self._client = await stack.enter_async_context(
                session.client(
                    "s3",
                    endpoint_url=self.endpoint_url,
                    config=self._aio_config(),
                    **self._credentials(),
                )
            )
        self._stack = stack

    async def _disconnect(self) -> None:
        stack, self._stack, self._client = self._stack, None, None
        if stack is not None:
            await stack.aclose()

    def _signer(self) -> Any:
        """A synchronous botocore client used only to sign URLs: signing needs no network."""
        if self._presigner is None:
            session = botocore.session.Session(profile=self.profile)
            with s3_errors(self.bucket):
                self._presigner = session.create_client(
                    "s3",
                    region_name=self.region or "us-east-1",
                    endpoint_url=self.endpoint_url,
                    config=Config(**self._config()),
                    **self._credentials(),
                )
        return self._presigner

    # -- keys ------------------------------------------------------------------------------------

    def _key(self, name: str) -> str:
        return self.prefix + name

    def _name(self, key: str) -> str | None:
        return name_for_key(key, self.prefix)

    def _put_parameters(self, name: str, options: WriteOptions) -> dict[str, Any]:
        parameters: dict[str, Any] = {
            "ContentType": options.content_type
            or mimetypes.guess_type(name)[0]
            or "application/octet-stream"
        }
        if options.metadata:
            parameters["Metadata"] = encode_header_metadata(options.metadata)
        for option, parameter in _OBJECT_PARAMETERS.items():
            value = getattr(self, option)
            if value is not None:
                parameters[parameter] = value
        return parameters

    async def _request(self, name: str | None, operation: str, **parameters: Any) -> Any:
        """One S3 call under the retry policy, translated; a file body is rewound per attempt."""
        method = getattr(self._client, operation)

        async def attempt() -> Any:
            rewind = getattr(parameters.get("Body"), "seek", None)
            if rewind is not None:
                rewind(0)
            with s3_errors(self.bucket, name):
                return await method(**parameters)

        return await self._retrying(attempt)

    def _verifiable_etag(self) -> bool:
        """S3's ETag of a PUT or a part is the MD5 of the bytes it received, except under KMS."""
        return self.server_side_encryption not in ("aws:kms", "aws:kms:dsse")

    def _check_received(self, name: str, response: Mapping[str, Any], sent_md5: str) -> str | None:
        """The ETag S3 reports if it is not the MD5 of what was sent (the bytes were damaged)."""
        etag = str(response.get("ETag", "")).strip('"')
        if self._verifiable_etag() and etag and etag != sent_md5:
            return etag
        return None

    async def _remove_damaged(self, name: str, etag: str) -> None:
        """Delete the object a damaged PUT created, only if it is still that object."""
        with contextlib.suppress(Exception):
            info = await self._stat(name)
            if info.etag == etag:
                await self._request(name, "delete_object", Bucket=self.bucket, Key=self._key(name))

    # -- writing ---------------------------------------------------------------------------------

    async def _write(self, name: str, chunks: AsyncIterator[bytes], options: WriteOptions) -> str:
        content = await read_ahead(chunks, self.multipart_threshold)
        if isinstance(content, bytes):
            return await self._create_retargeting(
                name, options, lambda candidate: self._put(candidate, content, options)
            )
        name = await self._claim_name(name, options)
        await self._multipart(name, content, options)
        return name

    async def _put(self, name: str, data: bytes, options: WriteOptions) -> None:
        parameters = self._put_parameters(name, options)
        if not options.overwrite:
            parameters["IfNoneMatch"] = "*"
        digest = hashlib.md5(data, usedforsecurity=False)
        sent_md5 = digest.hexdigest()
        # S3 checks Content-MD5 before it commits: damaged bytes are refused (BadDigest), and the
        # previous version is never touched. The ETag check below is for services that do not.
        parameters["ContentMD5"] = base64.b64encode(digest.digest()).decode()

        async def attempt() -> None:
            with s3_errors(self.bucket, name):
                response = await self._client.put_object(
                    Bucket=self.bucket, Key=self._key(name), Body=data, **parameters
                )
            damaged = self._check_received(name, response, sent_md5)
            if damaged is None:
                return
            if not options.overwrite:
                # A new name: what the damaged request created is removed, and sent again.
                await self._remove_damaged(name, damaged)
                raise IntegrityError(f"S3 received different bytes for {name!r} than were sent.")
            # An overwrite the service committed has already replaced the previous version;
            # deleting would lose both. Sending it again (the policy does) replaces the damage.
            raise IntegrityError(
                f"S3 stored damaged bytes for {name!r} (ETag {damaged}, not the MD5 of what was "
                "sent) in place of the previous version, which the service replaced on "
                "accepting the request and which cannot be restored here (this service does not "
                "check Content-MD5); save it again."
            )

        await self._create_recognising_own_write(attempt, lambda: self._holds(name, sent_md5))

    async def _holds(self, name: str, etag: str) -> bool:
        try:
            return (await self._stat(name)).etag == etag
        except NotFoundError:
            return False

    @asynccontextmanager
    async def _multipart_upload(
        self, name: str, options: WriteOptions
    ) -> AsyncIterator[tuple[str, str]]:
        """Open a multipart upload for ``name``; abort it if the block fails or is cancelled."""
        key = self._key(name)
        created = await self._request(
            name,
            "create_multipart_upload",
            Bucket=self.bucket,
            Key=key,
            **self._put_parameters(name, options),
        )
        upload_id = created["UploadId"]
        try:
            yield key, upload_id
        except BaseException:
            # Shielded, so a cancelled save still aborts and leaves no billable parts behind.
            await asyncio.shield(self._abort(key, upload_id))
            raise

    async def _complete(
        self, name: str, key: str, upload_id: str, parts: list[dict[str, Any]], overwrite: bool
    ) -> None:
        conditions = {} if overwrite else {"IfNoneMatch": "*"}

        async def attempt() -> None:
            with s3_errors(self.bucket, name):
                await self._client.complete_multipart_upload(
                    Bucket=self.bucket,
                    Key=key,
                    UploadId=upload_id,
                    MultipartUpload={"Parts": parts},
                    **conditions,
                )

        # A completion whose answer was lost and which is sent again finds the upload gone
        # (NoSuchUpload) or, with If-None-Match, the object there: if it is ours, it worked.
        await self._create_recognising_own_write(
            attempt,
            lambda: self._holds(name, _multipart_etag(parts)),
            lost_answer=(AlreadyExistsError, NotFoundError),
        )

    async def _multipart(
        self, name: str, chunks: AsyncIterator[bytes | bytearray], options: WriteOptions
    ) -> None:
        async with self._multipart_upload(name, options) as (key, upload_id):
            parts = await self._upload_parts(name, key, upload_id, chunks)
            await self._complete(name, key, upload_id, parts, options.overwrite)

    async def _upload_parts(
        self, name: str, key: str, upload_id: str, chunks: AsyncIterator[bytes | bytearray]
    ) -> list[dict[str, Any]]:
        async def send(number: int, body: memoryview) -> dict[str, Any]:
            digest = hashlib.md5(body, usedforsecurity=False)
            sent_md5 = digest.hexdigest()

            async def attempt() -> dict[str, Any]:
                with s3_errors(self.bucket, name):
                    response = await self._client.upload_part(
                        Bucket=self.bucket,
                        Key=key,
                        UploadId=upload_id,
                        PartNumber=number,
                        Body=BytesReader(body),  # from the pooled buffer, never copied whole
                        ContentMD5=base64.b64encode(digest.digest()).decode(),
                    )
                if self._check_received(name, response, sent_md5) is not None:
                    # A part is only kept if completed: sending it again replaces it.
                    raise IntegrityError(f"S3 received a damaged part {number} of {name!r}.")
                return {"PartNumber": number, "ETag": response["ETag"]}

            return await self._retrying(attempt)

        return await upload_parts(chunks, self.part_size, self.max_concurrency, send)

    async def _abort(self, key: str, upload_id: str) -> None:
        """Abort under the retry policy: an abort lost to one failure would leave billable parts."""
        with contextlib.suppress(Exception):
            await self._request(
                None, "abort_multipart_upload", Bucket=self.bucket, Key=key, UploadId=upload_id
            )

    # -- reading ---------------------------------------------------------------------------------

    async def _stream(
        self,
        name: str,
        start: int,
        end: int | None,
        chunk_size: int,
        version: ReadVersion | None = None,
    ) -> AsyncIterator[bytes]:
        if end is not None and end <= start:
            await self._stat(name)  # an empty range of a missing file is still missing
            return
        if not start and end is None:
            async for chunk in self._whole(name, chunk_size):  # resumed and pinned inside
                yield chunk
            return
        last = "" if end is None else str(end - 1)
        pinned = {"IfMatch": version.tag} if version is not None and version.tag else {}
        try:
            response = await self._get(name, Range=f"bytes={start}-{last}", **pinned)
        except AlreadyExistsError:  # S3's 412: the ETag no longer matches
            if version is None:
                raise
            raise version.replaced() from None
        if response is None:
            return
        if version is not None:
            version.pin(str(response.get("ETag", "")))
        async for chunk in self._body(name, response, chunk_size):
            yield chunk

    async def _whole(self, name: str, chunk_size: int) -> AsyncIterator[bytes]:
        """A whole read, resumed after a break from the next byte of the same version (its ETag
        is a precondition of every resume), and checked over every byte it yielded against the
        object's stored CRC32/SHA checksum or its MD5 ETag."""
        first: dict[str, Any] = {}

        async def read_from(position: int) -> AsyncIterator[bytes]:
            if not first:
                response = await self._get(name, ChecksumMode="ENABLED")
                if response is None:
                    return
                first["etag"] = str(response.get("ETag", ""))
                first["check"] = _WholeObjectCheck.of(response, self._verifiable_etag())
            else:
                try:
                    response = await self._get(
                        name, Range=f"bytes={position}-", IfMatch=first["etag"]
                    )
                except AlreadyExistsError:  # S3's 412: the ETag no longer matches
                    raise IntegrityError(
                        f"{name!r} was replaced in S3 while it was being read; read it again."
                    ) from None
                if response is None:
                    return  # the break came after the last byte
            async for chunk in self._body(name, response, chunk_size):
                first["check"].update(chunk)
                yield chunk

        async for chunk in self._resuming(read_from):
            yield chunk
        check: _WholeObjectCheck | None = first.get("check")
        if check is not None and not check.matches():
            raise IntegrityError(
                f"The bytes of {name!r} read from S3 do not match its {check.algorithm}."
            )

    async def _get(self, name: str, **parameters: Any) -> Any:
        """One GetObject; ``None`` when a range starts past the end of an existing object."""
        try:
            with s3_errors(self.bucket, name):
                return await self._client.get_object(
                    Bucket=self.bucket, Key=self._key(name), **parameters
                )
        except Exception as exc:
            cause = exc.__cause__
            if isinstance(cause, ClientError) and error_code(cause) == "InvalidRange":
                await self._stat(name)  # start is past the end: nothing to read
                return None
            raise

    async def _body(self, name: str, response: Any, chunk_size: int) -> AsyncIterator[bytes]:
        body = response["Body"]
        async with body:  # releases the connection even if the reader stops early
            while True:
                with s3_errors(self.bucket, name):
                    chunk = await body.read(chunk_size)
                if not chunk:
                    return
                yield chunk

    async def _stat(self, name: str) -> FileInfo:
        response = await self._request(name, "head_object", Bucket=self.bucket, Key=self._key(name))
        return FileInfo(
            name=name,
            size=int(response["ContentLength"]),
            etag=str(response.get("ETag", "")).strip('"') or None,
            content_type=response.get("ContentType"),
            last_modified=response.get("LastModified"),
            metadata=decode_header_metadata(response.get("Metadata", {})),
        )

    # -- deleting, copying -----------------------------------------------------------------------

    async def _delete(self, name: str) -> None:
        await self._request(name, "delete_object", Bucket=self.bucket, Key=self._key(name))

    async def _delete_many(self, names: list[str]) -> None:
        response = await self._request(
            None,
            "delete_objects",
            Bucket=self.bucket,
            Delete={"Objects": [{"Key": self._key(n)} for n in names], "Quiet": True},
        )
        errors = response.get("Errors", [])
        if errors:  # DeleteObjects reports failures per key in its body instead of raising
            first = errors[0]
            raise error_for(str(first.get("Code", "")), None, self.bucket, first.get("Key"))

    async def _copy(self, src: str, dst: str, *, overwrite: bool) -> None:
        info = await self._stat(src)
        if not overwrite and await self._exists(dst):
            # CopyObject has no If-None-Match: this check and the copy are two requests.
            raise AlreadyExistsError(f"Cannot copy to {dst!r}: it already exists.")
        source = {"Bucket": self.bucket, "Key": self._key(src)}
        if info.size <= self.multipart_copy_threshold:
            await self._request(
                src,
                "copy_object",
                Bucket=self.bucket,
                Key=self._key(dst),
                CopySource=source,
                MetadataDirective="COPY",
            )
            return
        await self._multipart_copy(dst, source, info)

    async def _multipart_copy(self, dst: str, source: dict[str, str], info: FileInfo) -> None:
        options = WriteOptions(True, info.content_type, info.metadata)
        part_size = max(self.part_size, -(-info.size // 10000))  # S3 allows 10000 parts
        async with self._multipart_upload(dst, options) as (key, upload_id):
            parts = []
            for number, offset in enumerate(range(0, info.size, part_size), start=1):
                last = min(offset + part_size, info.size) - 1
                response = await self._request(
                    dst,
                    "upload_part_copy",
                    Bucket=self.bucket,
                    Key=key,
                    UploadId=upload_id,
                    PartNumber=number,
                    CopySource=source,
                    CopySourceRange=f"bytes={offset}-{last}",
                )
                parts.append({"PartNumber": number, "ETag": response["CopyPartResult"]["ETag"]})
            await self._complete(dst, key, upload_id, parts, overwrite=True)

    # -- listing ---------------------------------------------------------------------------------

    async def _scan(self, prefix: str, recursive: bool) -> AsyncIterator[FileInfo | str]:
        parameters: dict[str, Any] = {
            "Bucket": self.bucket,
            "Prefix": self._key(prefix),
            "MaxKeys": self.list_page_size,
        }
        if not recursive:
            parameters["Delimiter"] = "/"
        while True:  # one ListObjectsV2 page per request, each under the retry policy
            page = await self._request(prefix or None, "list_objects_v2", **parameters)
            for common in page.get("CommonPrefixes", []):
                directory = self._name(common["Prefix"].rstrip("/"))
                if directory is not None:
                    yield directory + "/"
            for item in page.get("Contents", []):
                name = self._name(item["Key"])
                if name is not None:
                    yield FileInfo(
                        name=name,
                        size=int(item["Size"]),
                        etag=str(item.get("ETag", "")).strip('"') or None,
                        last_modified=item.get("LastModified"),
                    )
            token = page.get("NextContinuationToken")
            if not page.get("IsTruncated") or not token:
                return
            parameters["ContinuationToken"] = token

    # -- addresses -------------------------------------------------------------------------------

    def _url(self, name: str) -> str:
        key = self._key(name)
        if self.custom_domain:
            return f"{self.url_protocol}://{self.custom_domain}/{quote(key)}"
        if self.querystring_auth:
            return self._presign(key, self.querystring_expire, "GET")
        if self._unsigned is None:
            self._unsigned = botocore.session.Session().create_client(
                "s3",
                region_name=self.region or "us-east-1",
                endpoint_url=self.endpoint_url,
                config=Config(signature_version=botocore.UNSIGNED, s3=self._config()["s3"]),
            )
        url: str = self._unsigned.generate_presigned_url(
            "get_object", Params={"Bucket": self.bucket, "Key": key}
        )
        return url

    async def _signed_url(self, name: str, expires: int, method: str) -> str:
        return self._presign(self._key(name), expires, method)

    def _presign(self, key: str, expires: int, method: str) -> str:
        with s3_errors(self.bucket, key):
            url: str = self._signer().generate_presigned_url(
                _PRESIGN_OPERATIONS[method],
                Params={"Bucket": self.bucket, "Key": key},
                ExpiresIn=expires,
            )
        return url


class _WholeObjectCheck:
    """A running checksum of a whole read, compared with the one the first answer carried."""

    def __init__(self, algorithm: str, expected: str, hasher: Any) -> None:
        self.algorithm, self._expected, self._hasher = algorithm, expected, hasher

    @classmethod
    def of(cls, response: Mapping[str, Any], md5_etag: bool) -> _WholeObjectCheck:
        crc = str(response.get("ChecksumCRC32", ""))
        if crc and "-" not in crc:  # "-N": a checksum of part checksums, not of the bytes
            return cls("CRC32", crc, _Crc32())
        for header, algorithm in (("ChecksumSHA256", "sha256"), ("ChecksumSHA1", "sha1")):
            value = str(response.get(header, ""))
            if value and "-" not in value:
                return cls(algorithm.upper(), value, _Base64Digest(hashlib.new(algorithm)))
        etag = str(response.get("ETag", "")).strip('"')
        if md5_etag and _MD5_ETAG.fullmatch(etag):
            return cls("MD5", etag, _HexDigest(hashlib.md5(usedforsecurity=False)))
        # Multipart objects without a full-object checksum: S3 gives nothing to check against.
        return cls("no checksum", "", None)

    def update(self, chunk: bytes) -> None:
        if self._hasher is not None:
            self._hasher.update(chunk)

    def matches(self) -> bool:
        return self._hasher is None or self._hasher.value() == self._expected


class _Crc32:
    def __init__(self) -> None:
        self._value = 0

    def update(self, chunk: bytes) -> None:
        self._value = zlib.crc32(chunk, self._value)

    def value(self) -> str:
        return base64.b64encode(self._value.to_bytes(4, "big")).decode()


class _Base64Digest:
    def __init__(self, hasher: Any) -> None:
        self.update, self._hasher = hasher.update, hasher

    def value(self) -> str:
        return base64.b64encode(self._hasher.digest()).decode()


class _HexDigest:
    def __init__(self, hasher: Any) -> None:
        self.update, self._hasher = hasher.update, hasher

    def value(self) -> str:
        return str(self._hasher.hexdigest())


def _multipart_etag(parts: list[dict[str, Any]]) -> str:
    """S3's ETag of a completed multipart upload: MD5 of the parts' binary MD5s, then ``-N``."""
    digests = b"".join(bytes.fromhex(str(part["ETag"]).strip('"')) for part in parts)
    return f"{hashlib.md5(digests, usedforsecurity=False).hexdigest()}-{len(parts)}"
