"""An object store in this process, and the engine's adapter for it: the engine's test double.

:class:`MemoryBucket` behaves as S3 does where the contract can tell (create-if-absent and
If-Match answered 412, multipart uploads whose ETag is the MD5 of the parts' MD5s, ranges, a
delimiter listing in pages, a 416 past the end) and answers with its own small exception,
:class:`ServiceError`, as an SDK would. It can be told to misbehave once per request
(:meth:`MemoryBucket.inject`): lose an answer after doing the work, refuse with a 503, damage
the bytes of a request or an answer, or break a read mid-body; and, as the emulators do, it can
store a body without checking the checksum sent with it (``checks_checksums=False``).

:class:`InMemoryObjectStore` is the complete adapter: each hook is one "request" to the bucket,
and its errors are translated in one table (:meth:`InMemoryObjectStore._translate`). It is the
smallest example of a cloud backend, and it runs the whole contract, and the lost-answer and
damaged-answer scenarios, in-process.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import MappingProxyType
from typing import ClassVar
from urllib.parse import quote

from bucketry.checksums import md5_digest, md5_hex, s3_multipart_etag
from bucketry.errors import (
    BucketryError,
    ConfigurationError,
    IntegrityError,
    NotFoundError,
    PermissionDeniedError,
    PreconditionFailedError,
    UnavailableError,
)
from bucketry.info import Capability
from bucketry.objectstore.engine import BucketStorage, md5_etag_of
from bucketry.objectstore.wire import Answer, Listed, ObjectHead, Page, Part, Put, Stored

__all__ = ["InMemoryObjectStore", "MemoryBucket", "ServiceError"]

MiB = 1024 * 1024


class ServiceError(Exception):
    """What :class:`MemoryBucket` raises: an HTTP status (``None``: the connection broke) and an
    S3-style error code."""

    def __init__(self, status: int | None, code: str = "") -> None:
        super().__init__(f"{status} {code}".strip())
        self.status, self.code = status, code


@dataclass
class _Object:
    data: bytes
    etag: str
    content_type: str
    metadata: Mapping[str, str]
    modified: datetime = field(default_factory=lambda: datetime.now(UTC))


@dataclass
class _Fault:
    kind: str
    operation: str
    key_part: str


FAULT_KINDS = ("lost_answer", "unavailable", "damage_request", "damage_answer", "break_read")


class MemoryBucket:
    """One bucket of objects, shared by every storage that names it."""

    _buckets: ClassVar[dict[str, MemoryBucket]] = {}
    _guard: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, checks_checksums: bool = True) -> None:
        self.objects: dict[str, _Object] = {}
        self.uploads: dict[str, dict[int, tuple[bytes, str]]] = {}
        self.checks_checksums = checks_checksums
        self.requests: list[tuple[str, str]] = []
        self.injected: dict[str, int] = {}
        self._faults: list[_Fault] = []
        self._ids = itertools.count(1)

    @classmethod
    def named(cls, name: str) -> MemoryBucket:
        with cls._guard:
            return cls._buckets.setdefault(name, cls())

    def inject(self, kind: str, operation: str, key_part: str = "") -> None:
        """Misbehave once, on the next ``operation`` (``put``, ``part``, ``complete``, ``get``,
        ``head``, ``delete``, ``list``, ``copy``) whose key contains ``key_part``."""
        if kind not in FAULT_KINDS:
            raise ValueError(f"No fault {kind!r}; known: {', '.join(FAULT_KINDS)}.")
        self._faults.append(_Fault(kind, operation, key_part))

    def _fault(self, operation: str, key: str) -> frozenset[str]:
        """The faults aimed at this request, one of each kind, each used up."""
        self.requests.append((operation, key))
        kinds: set[str] = set()
        for fault in list(self._faults):
            if fault.operation == operation and fault.key_part in key and fault.kind not in kinds:
                self._faults.remove(fault)
                kinds.add(fault.kind)
                self.injected[fault.kind] = self.injected.get(fault.kind, 0) + 1
        if "unavailable" in kinds:
            raise ServiceError(503, "SlowDown")
        return frozenset(kinds)

    @staticmethod
    def _flip(data: bytes) -> bytes:
        return bytes([data[0] ^ 1]) + data[1:] if data else data

    def _check(self, key: str, if_absent: bool, if_match: str | None = None) -> None:
        current = self.objects.get(key)
        if if_absent and current is not None:
            raise ServiceError(412, "PreconditionFailed")
        if if_match is not None and (current is None or current.etag != if_match):
            raise ServiceError(412, "PreconditionFailed")

    def _received(self, fault: frozenset[str], body: bytes, md5: str | None) -> bytes:
        if "damage_request" in fault:
            body = self._flip(body)
        if md5 is not None and self.checks_checksums and md5_hex(body) != md5:
            raise ServiceError(400, "BadDigest")
        return body

    # -- requests --------------------------------------------------------------------------------

    def put(self, put: Put, body: bytes, md5: str) -> str:
        fault = self._fault("put", put.key)
        body = self._received(fault, body, md5)
        self._check(put.key, put.if_absent)
        etag = md5_hex(body)
        self.objects[put.key] = _Object(body, etag, put.content_type, dict(put.metadata))
        if "lost_answer" in fault:
            raise ServiceError(None, "ConnectionReset")
        return etag

    def start(self, put: Put) -> str:
        self._fault("start", put.key)
        upload = f"upload-{next(self._ids)}"
        self.uploads[upload] = {}
        return upload

    def part(self, key: str, upload: str, number: int, body: bytes, md5: str) -> str:
        fault = self._fault("part", key)
        body = self._received(fault, body, md5)
        if upload not in self.uploads:
            raise ServiceError(404, "NoSuchUpload")
        etag = md5_hex(body)
        self.uploads[upload][number] = (body, etag)
        if "lost_answer" in fault:
            raise ServiceError(None, "ConnectionReset")
        return etag

    def complete(self, put: Put, upload: str, parts: list[tuple[int, str]]) -> str:
        fault = self._fault("complete", put.key)
        held = self.uploads.get(upload)
        if held is None:
            raise ServiceError(404, "NoSuchUpload")
        if [held.get(number, (b"", ""))[1] for number, _ in parts] != [tag for _, tag in parts]:
            raise ServiceError(400, "InvalidPart")
        if "damage_request" in fault and len(parts) > 1:
            parts = [parts[1], parts[0], *parts[2:]]  # a part list changed on the way, still valid
        self._check(put.key, put.if_absent)
        body = b"".join(held[number][0] for number, _ in parts)
        etag = s3_multipart_etag([bytes.fromhex(tag) for _, tag in parts])
        self.objects[put.key] = _Object(body, etag, put.content_type, dict(put.metadata))
        del self.uploads[upload]
        if "lost_answer" in fault:
            raise ServiceError(None, "ConnectionReset")
        return etag

    def abort(self, upload: str) -> None:
        self.uploads.pop(upload, None)

    def head(self, key: str) -> _Object:
        self._fault("head", key)
        current = self.objects.get(key)
        if current is None:
            raise ServiceError(404, "NoSuchKey")
        return current

    def get(
        self, key: str, start: int, end: int | None, if_match: str | None
    ) -> tuple[_Object, bytes, frozenset[str]]:
        fault = self._fault("get", key)
        current = self.objects.get(key)
        if current is None:
            raise ServiceError(404, "NoSuchKey")
        self._check(key, False, if_match)
        if end is not None and end - 1 < start:
            # As S3 does with "bytes=5-4": a range that names no byte is ignored, and the whole
            # object is the answer. An empty range must never be asked for.
            start, end = 0, None
        if start and start >= len(current.data):
            raise ServiceError(416, "InvalidRange")
        return current, current.data[start:end], fault

    def delete(self, key: str, if_match: str | None) -> None:
        self._fault("delete", key)
        if if_match is not None and key in self.objects:
            self._check(key, False, if_match)
        self.objects.pop(key, None)

    def delete_many(self, keys: list[str]) -> None:
        self._fault("delete", keys[0] if keys else "")
        for key in keys:
            self.objects.pop(key, None)

    def copy(self, src: str, dst: str, if_absent: bool) -> None:
        self._fault("copy", dst)
        current = self.objects.get(src)
        if current is None:
            raise ServiceError(404, "NoSuchKey")
        self._check(dst, if_absent)
        self.objects[dst] = _Object(
            current.data, current.etag, current.content_type, current.metadata
        )

    def list(self, prefix: str, delimiter: bool, token: str | None, size: int) -> Page:
        self._fault("list", prefix)
        keys = sorted(key for key in self.objects if key.startswith(prefix))
        entries: list[tuple[str, bool]] = []
        seen: set[str] = set()
        for key in keys:
            rest = key[len(prefix) :]
            if delimiter and "/" in rest:
                common = prefix + rest.split("/", 1)[0] + "/"
                if common not in seen:
                    seen.add(common)
                    entries.append((common, True))
            else:
                entries.append((key, False))
        begin = int(token or 0)
        page = entries[begin : begin + size]
        following = str(begin + size) if begin + size < len(entries) else None
        objects = []
        for key, is_common in page:
            if not is_common:
                held = self.objects[key]
                objects.append(
                    Listed(key, len(held.data), held.etag, held.modified, held.content_type)
                )
        return Page(objects, [key for key, is_common in page if is_common], following)


class InMemoryObjectStore(BucketStorage):
    """Files as objects in a :class:`MemoryBucket` of this process, through the engine.

    URL form: ``memory+objectstore://bucket/prefix``. Storages naming the same bucket share it.
    """

    backend_name = "memory+objectstore"
    service_name = "the memory bucket"
    capabilities = frozenset(Capability) - {Capability.SIGNED_URL}
    loop_bound = False

    def __init__(
        self,
        *,
        bucket: str,
        prefix: str = "",
        checks_checksums: bool = True,
        multipart_threshold: int = 8 * MiB,
        part_size: int = 8 * MiB,
        max_concurrency: int = 4,
        list_page_size: int = 1000,
        max_attempts: int = 5,
        retry_deadline: float = 60.0,
        custom_domain: str | None = None,
    ) -> None:
        if not bucket:
            raise ConfigurationError("The memory+objectstore backend needs bucket=<name>.")
        self._setup(
            prefix=prefix,
            multipart_threshold=multipart_threshold,
            part_size=part_size,
            max_concurrency=max_concurrency,
            list_page_size=list_page_size,
            max_attempts=max_attempts,
            retry_deadline=retry_deadline,
            custom_domain=custom_domain,
        )
        self.bucket = bucket
        self.checks_checksums = checks_checksums
        self.service = MemoryBucket.named(bucket)
        self.service.checks_checksums = checks_checksums

    # -- the one translation table ---------------------------------------------------------------

    def _translate(self, exc: Exception, name: str | None) -> BucketryError:
        subject = f"{name!r} in bucket {self.bucket!r}" if name else f"bucket {self.bucket!r}"
        if not isinstance(exc, ServiceError):
            return BucketryError(f"Unexpected error on {subject}: {type(exc).__name__}.")
        if exc.status == 404 and exc.code == "NoSuchUpload":
            return NotFoundError(f"The multipart upload of {subject} is gone; save it again.")
        if exc.status == 404:
            return NotFoundError(f"{subject} does not exist.")
        if exc.status == 412:
            return PreconditionFailedError(f"{subject} is not the version the request named.")
        if exc.status == 403:
            return PermissionDeniedError(f"Access to {subject} was refused.")
        if exc.code in ("BadDigest", "InvalidPart"):
            return IntegrityError(f"The memory bucket received a damaged request for {subject}.")
        if exc.status is None or exc.status >= 500:
            return UnavailableError(f"The memory bucket is failing for {subject}; try again.")
        return BucketryError(f"The memory bucket refused {subject}: {exc}.")

    # -- the hooks -------------------------------------------------------------------------------

    async def _put_object(self, put: Put, body: bytes, checksum: str) -> Stored:
        etag = self.service.put(put, body, checksum)
        return Stored(tag=etag, checksum=etag)

    async def _start_upload(self, put: Put) -> str:
        return self.service.start(put)

    async def _put_part(self, put: Put, upload: str, number: int, body: memoryview) -> Part:
        data = bytes(body)
        md5 = md5_digest(data)
        etag = self.service.part(put.key, upload, number, data, md5.hex())
        if etag != md5.hex():
            raise IntegrityError(f"The memory bucket received a damaged part {number}.")
        return Part(number, etag, len(data), md5)

    async def _complete_upload(self, put: Put, upload: str, parts: list[Part]) -> Stored:
        etag = self.service.complete(put, upload, [(part.number, part.tag) for part in parts])
        return Stored(tag=etag, checksum=etag)

    async def _abort_upload(self, put: Put, upload: str) -> None:
        self.service.abort(upload)

    async def _get_object(
        self, key: str, start: int, end: int | None, if_match: str | None, chunk_size: int
    ) -> Answer | None:
        try:
            stored, data, fault = self.service.get(key, start, end, if_match)
        except ServiceError as exc:
            if exc.status == 416:
                return None
            raise
        return Answer(
            _chunks(data, chunk_size, fault),
            stored.etag,
            MappingProxyType(md5_etag_of(stored.etag)),
        )

    async def _head_object(self, key: str) -> ObjectHead:
        stored = self.service.head(key)
        return ObjectHead(
            size=len(stored.data),
            etag=stored.etag,
            content_type=stored.content_type,
            last_modified=stored.modified,
            metadata=MappingProxyType(dict(stored.metadata)),
            checksums=MappingProxyType(md5_etag_of(stored.etag)),
        )

    async def _delete_object(self, key: str, if_match: str | None = None) -> None:
        self.service.delete(key, if_match)

    async def _list_page(self, prefix: str, delimiter: bool, token: str | None) -> Page:
        return self.service.list(prefix, delimiter, token, self.list_page_size)

    async def _delete_objects(self, keys: list[str]) -> None:
        self.service.delete_many(keys)

    async def _copy_object(self, src: str, dst: str, *, if_absent: bool, size: int) -> None:
        async def copy() -> None:
            self.service.copy(src, dst, if_absent)

        await self._call(self._name(dst), copy)

    def _public_url(self, key: str) -> str:
        return f"memory://{self.bucket}/{quote(key)}"


async def _chunks(data: bytes, size: int, fault: frozenset[str]) -> AsyncIterator[bytes]:
    for offset in range(0, max(len(data), 1), size):
        chunk = data[offset : offset + size]
        if not chunk:
            return
        if "damage_answer" in fault and offset == 0:
            chunk = MemoryBucket._flip(chunk)
        yield chunk
        if "break_read" in fault:
            raise ServiceError(None, "ConnectionReset")
