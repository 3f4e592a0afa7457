"""``S3Storage``: Amazon S3 and S3-compatible services, an adapter of aiobotocore to the engine.

Each hook below is one S3 request; everything above a request (multipart cutting, retries,
own writes after a lost answer, damaged uploads, resumed and checked reads) is the engine's
(:mod:`bucketry.objectstore`). ``overwrite=False`` is S3's own conditional create:
``If-None-Match: *`` on PutObject and on CompleteMultipartUpload. Every body carries a
Content-MD5, which S3 checks before it commits.
"""

from __future__ import annotations

import asyncio
import base64
import functools
from collections.abc import AsyncIterator, Mapping
from contextlib import AsyncExitStack
from typing import Any

import aioboto3
import botocore
import botocore.session
from aiobotocore.config import AioConfig
from aiobotocore.httpsession import AIOHTTPSession
from botocore.config import Config

from bucketry.backend import (
    Answer,
    BucketryError,
    BucketStorage,
    BytesReader,
    Capability,
    ConfigurationError,
    IntegrityError,
    Listed,
    ObjectHead,
    Page,
    Part,
    Put,
    Stored,
    content_md5,
    decode_header_metadata,
    encode_header_metadata,
    forbid_hidden_resends,
    md5_digest,
    md5_etag_of,
    plain_etag,
)
from bucketry_s3.errors import error_for, past_end, s3_errors, translate

__all__ = ["S3Storage"]

MiB = 1024 * 1024
GiB = 1024 * MiB
MAX_COPY_SIZE = 5 * GiB  # CopyObject's limit; larger objects are copied part by part
MAX_PARTS = 10_000
_KMS = ("aws:kms", "aws:kms:dsse")

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
# Full-object checksums S3 may return with ChecksumMode=ENABLED, as the checksum family names them.
_CHECKSUM_HEADERS = (
    ("ChecksumCRC32", "crc32"),
    ("ChecksumSHA256", "sha256"),
    ("ChecksumSHA1", "sha1"),
)


class _PolicyOnlySession(AIOHTTPSession):  # type: ignore[misc]
    """aiobotocore's HTTP session, with aiohttp's own resend of idempotent requests off."""

    async def _get_session(self, proxy_url: str | None) -> Any:
        session = await super()._get_session(proxy_url)
        forbid_hidden_resends(session)
        return session


class S3Storage(BucketStorage):
    """Files as objects in one S3 bucket, optionally under a key prefix.

    URL form: ``s3://bucket/prefix?region=eu-west-1&endpoint_url=http://127.0.0.1:9000``; every
    constructor option may appear in the query.
    """

    backend_name = "s3"
    service_name = "S3"
    capabilities = frozenset(Capability)
    min_part_size = 5 * MiB  # S3 rejects smaller parts, except the last (EntityTooSmall)
    conditional_copy = False  # CopyObject has no If-None-Match: the engine looks first
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
        if addressing_style not in (None, "auto", "path", "virtual"):
            raise ConfigurationError("addressing_style must be 'auto', 'path' or 'virtual'.")
        if (access_key_id is None) != (secret_access_key is None):
            raise ConfigurationError("Pass both access_key_id and secret_access_key, or neither.")
        self._setup(
            prefix=prefix,
            multipart_threshold=multipart_threshold,
            part_size=part_size,
            max_concurrency=max_concurrency,
            list_page_size=list_page_size,
            max_attempts=max_attempts,
            retry_deadline=retry_deadline,
            custom_domain=custom_domain,
            url_protocol=url_protocol,
            querystring_expire=querystring_expire,
        )
        self.bucket = bucket
        self.region = region
        self.endpoint_url = endpoint_url
        self.access_key_id = access_key_id
        self.secret_access_key = secret_access_key
        self.session_token = session_token
        self.profile = profile
        self.addressing_style = addressing_style
        self.querystring_auth = querystring_auth
        self.cache_control = cache_control
        self.content_disposition = content_disposition
        self.content_encoding = content_encoding
        self.server_side_encryption = server_side_encryption
        self.sse_kms_key_id = sse_kms_key_id
        self.storage_class = storage_class
        self.default_acl = default_acl
        self.conditional_create = conditional_create
        self.max_pool_connections = max_pool_connections
        self.multipart_copy_threshold = multipart_copy_threshold
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
                    config=AioConfig(http_session_cls=_PolicyOnlySession, **self._config()),
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

    def _translate(self, exc: Exception, name: str | None) -> BucketryError:
        return translate(exc, self.bucket, name)

    def _verifiable_etag(self, response: Mapping[str, Any]) -> bool:
        """S3's ETag of a PUT or a part is the MD5 of the bytes it received, except under KMS,
        whether asked for here or the bucket's default: every answer names its encryption."""
        encryption = response.get("ServerSideEncryption") or self.server_side_encryption
        return encryption not in _KMS

    def _etag_sums(self, response: Mapping[str, Any]) -> dict[str, str]:
        return (
            md5_etag_of(plain_etag(response.get("ETag"))) if self._verifiable_etag(response) else {}
        )

    def _parameters(self, put: Put) -> dict[str, Any]:
        parameters: dict[str, Any] = {"Bucket": self.bucket, "Key": put.key}
        parameters["ContentType"] = put.content_type
        if put.metadata:
            parameters["Metadata"] = encode_header_metadata(put.metadata)
        for option, parameter in _OBJECT_PARAMETERS.items():
            value = getattr(self, option)
            if value is not None:
                parameters[parameter] = value
        return parameters

    # -- the hooks -------------------------------------------------------------------------------

    async def _put_object(self, put: Put, body: bytes, checksum: str) -> Stored:
        conditions = {"IfNoneMatch": "*"} if put.if_absent else {}
        # S3 checks Content-MD5 before it commits: damaged bytes are refused (BadDigest), and
        # the previous version is never touched. The engine's ETag check is for services that
        # do not.
        response = await self._client.put_object(
            Body=body, ContentMD5=content_md5(checksum), **self._parameters(put), **conditions
        )
        etag = plain_etag(response.get("ETag"))
        return Stored(tag=etag, checksum=self._etag_sums(response).get("md5"))

    async def _start_upload(self, put: Put) -> str:
        response = await self._client.create_multipart_upload(**self._parameters(put))
        return str(response["UploadId"])

    async def _put_part(self, put: Put, upload: str, number: int, body: memoryview) -> Part:
        digest = md5_digest(body)
        response = await self._client.upload_part(
            Bucket=self.bucket,
            Key=put.key,
            UploadId=upload,
            PartNumber=number,
            Body=BytesReader(body),  # from the pooled buffer, never copied whole
            ContentMD5=base64.b64encode(digest).decode(),
        )
        if self._verifiable_etag(response) and plain_etag(response["ETag"]) != digest.hex():
            # A part is only kept if completed: sending it again replaces it.
            raise IntegrityError(f"S3 received a damaged part {number} of {put.key!r}.")
        return Part(number, str(response["ETag"]), len(body), digest)

    async def _complete_upload(self, put: Put, upload: str, parts: list[Part]) -> Stored:
        conditions = {"IfNoneMatch": "*"} if put.if_absent else {}
        response = await self._client.complete_multipart_upload(
            Bucket=self.bucket,
            Key=put.key,
            UploadId=upload,
            MultipartUpload={"Parts": [{"PartNumber": p.number, "ETag": p.tag} for p in parts]},
            **conditions,
        )
        etag = plain_etag(response.get("ETag"))
        return Stored(tag=etag, checksum=self._etag_sums(response).get("s3-multipart"))

    async def _abort_upload(self, put: Put, upload: str) -> None:
        await self._client.abort_multipart_upload(Bucket=self.bucket, Key=put.key, UploadId=upload)

    async def _get_object(
        self, key: str, start: int, end: int | None, if_match: str | None, chunk_size: int
    ) -> Answer | None:
        parameters: dict[str, Any] = {"Bucket": self.bucket, "Key": key}
        if start or end is not None:
            parameters["Range"] = f"bytes={start}-{'' if end is None else end - 1}"
        else:
            parameters["ChecksumMode"] = "ENABLED"
        if if_match:
            parameters["IfMatch"] = if_match
        try:
            response = await self._client.get_object(**parameters)
        except Exception as exc:
            if past_end(exc):
                return None
            raise
        etag = response.get("ETag")
        sums = _sums(response, self._etag_sums(response))
        return Answer(_body(response["Body"], chunk_size), plain_etag(etag), sums)

    async def _head_object(self, key: str) -> ObjectHead:
        response = await self._client.head_object(Bucket=self.bucket, Key=key)
        return ObjectHead(
            size=int(response["ContentLength"]),
            etag=plain_etag(response.get("ETag")),
            content_type=response.get("ContentType"),
            last_modified=response.get("LastModified"),
            metadata=decode_header_metadata(response.get("Metadata", {})),
            checksums=self._etag_sums(response),
        )

    async def _delete_object(self, key: str, if_match: str | None = None) -> None:
        if if_match is not None:
            # A damaged create is removed only if it is still that object.
            head = await self._client.head_object(Bucket=self.bucket, Key=key)
            if plain_etag(head.get("ETag")) != if_match:
                return
        await self._client.delete_object(Bucket=self.bucket, Key=key)

    async def _delete_objects(self, keys: list[str]) -> None:
        response = await self._client.delete_objects(
            Bucket=self.bucket, Delete={"Objects": [{"Key": key} for key in keys], "Quiet": True}
        )
        errors = response.get("Errors", [])
        if errors:  # DeleteObjects reports failures per key in its body instead of raising
            first = errors[0]
            raise error_for(str(first.get("Code", "")), None, self.bucket, first.get("Key"))

    async def _copy_object(self, src: str, dst: str, *, if_absent: bool, size: int) -> None:
        """CopyObject, or above ``multipart_copy_threshold`` (5 GiB, its limit) a multipart
        upload of UploadPartCopy parts: each request under the policy, the upload aborted on
        any failure (shielded, under the policy too: a lost abort leaves billable parts)."""
        source, name = {"Bucket": self.bucket, "Key": src}, self._name(dst)
        if size <= self.multipart_copy_threshold:
            await self._call(
                name,
                lambda: self._client.copy_object(
                    Bucket=self.bucket, Key=dst, CopySource=source, MetadataDirective="COPY"
                ),
            )
            return
        head = await self._call(name, lambda: self._client.head_object(Bucket=self.bucket, Key=src))
        put = Put(
            dst,
            head.get("ContentType") or "application/octet-stream",
            decode_header_metadata(head.get("Metadata", {})),
        )
        upload = await self._call(name, lambda: self._start_upload(put))
        try:
            part_size = max(self.part_size, -(-size // MAX_PARTS))
            parts = []
            for number, offset in enumerate(range(0, size, part_size), start=1):
                last = min(offset + part_size, size) - 1
                response = await self._call(
                    name,
                    functools.partial(
                        self._client.upload_part_copy,
                        Bucket=self.bucket,
                        Key=dst,
                        UploadId=upload,
                        PartNumber=number,
                        CopySource=source,
                        CopySourceRange=f"bytes={offset}-{last}",
                    ),
                )
                etag = str(response["CopyPartResult"]["ETag"])
                parts.append(Part(number, etag, last + 1 - offset, b""))
            await self._call(name, lambda: self._complete_upload(put, upload, parts))
        except BaseException:
            await asyncio.shield(self._abort(str(name), put, upload))
            raise

    async def _list_page(self, prefix: str, delimiter: bool, token: str | None) -> Page:
        parameters: dict[str, Any] = {
            "Bucket": self.bucket,
            "Prefix": prefix,
            "MaxKeys": self.list_page_size,
        }
        if delimiter:
            parameters["Delimiter"] = "/"
        if token:
            parameters["ContinuationToken"] = token
        page = await self._client.list_objects_v2(**parameters)
        objects = [
            Listed(
                item["Key"],
                int(item["Size"]),
                plain_etag(item.get("ETag")),
                item.get("LastModified"),
            )
            for item in page.get("Contents", [])
        ]
        prefixes = [common["Prefix"] for common in page.get("CommonPrefixes", [])]
        following = page.get("NextContinuationToken") if page.get("IsTruncated") else None
        return Page(objects, prefixes, following)

    def _public_url(self, key: str) -> str:
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

    async def _sign(self, key: str, method: str, expires: int) -> str:
        return self._presign(key, expires, method)

    def _presign(self, key: str, expires: int, method: str) -> str:
        with s3_errors(self.bucket, key):
            url: str = self._signer().generate_presigned_url(
                _PRESIGN_OPERATIONS[method],
                Params={"Bucket": self.bucket, "Key": key},
                ExpiresIn=expires,
            )
        return url


async def _body(body: Any, chunk_size: int) -> AsyncIterator[bytes]:
    async with body:  # releases the connection even if the reader stops early
        while chunk := await body.read(chunk_size):
            yield chunk


def _sums(response: Mapping[str, Any], etag_sums: Mapping[str, str]) -> dict[str, str]:
    """What a GetObject answer says of the whole object, the strongest first."""
    sums = {}
    for header, algorithm in _CHECKSUM_HEADERS:
        value = str(response.get(header, ""))
        if value and "-" not in value:  # "-N": a checksum of part checksums, not of the bytes
            sums[algorithm] = value
    sums.update(etag_sums)
    return sums
