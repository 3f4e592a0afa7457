"""``GCSStorage``: Google Cloud Storage through the JSON API on one aiohttp session, an adapter
of the object-store engine (:mod:`bucketry.objectstore`).

Everything above a request (retries, own writes after a lost answer, damaged uploads, resumed
and checked reads, names, pages) is the engine's. The adapter's own code is the requests: a
multipart (resource + media) upload; a resumable session for content over
``multipart_threshold``, in ``part_size`` chunks (:mod:`.resumable`: gcloud-aio-storage's
``force_resumable_upload`` sends the whole body in one request); a media download; the object's
JSON; a delete; a listing page; a rewrite; a V4 signature (:mod:`.signing`). What they raise is
translated in :mod:`.errors`. gcloud-aio-auth supplies access tokens and IAM signing.
``overwrite=False`` is GCS's own conditional create, ``ifGenerationMatch=0``, on every upload
path and the rewrite; every upload carries its CRC32C, which GCS checks before it commits.
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import secrets
from collections.abc import AsyncIterator, Callable, Mapping
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import quote

import aiohttp

from bucketry.backend import (
    AlreadyExistsError,
    Answer,
    BucketryError,
    BucketStorage,
    Capability,
    ConfigurationError,
    Listed,
    ObjectHead,
    Page,
    PreconditionFailedError,
    Put,
    Stored,
    WriteOptions,
    fixed_size_chunks,
    forbid_hidden_resends,
    running,
)
from bucketry_gcs.errors import GCSResponseError, UnreadableAnswer, parsed, translate
from bucketry_gcs.resumable import FinishedEarly, Session
from bucketry_gcs.signing import access_token, read_key, sign_url, signer

__all__ = ["GCSStorage"]

T = TypeVar("T")
KiB = 1024
MiB = 1024 * KiB
CHUNK_QUANTUM = 256 * KiB  # resumable chunks must be multiples of this
SCOPES = ["https://www.googleapis.com/auth/devstorage.read_write"]
DEFAULT_API_ROOT = "https://storage.googleapis.com"


class GCSStorage(BucketStorage):
    """Files as objects in one GCS bucket, optionally under a name prefix.

    Credentials: ``service_file`` (a path to a service-account JSON key) or ``service_info`` (its
    contents); otherwise application default credentials. ``emulator_host`` (or the standard
    ``STORAGE_EMULATOR_HOST`` variable) points at an emulator and sends no credentials. URL form:
    ``gs://bucket/prefix?service_file=/path/key.json``. ``max_single_put_size`` and
    ``chunk_size`` are the old names of ``multipart_threshold`` and ``part_size``, taken with a
    deprecation warning for one release.
    """

    backend_name = "gcs"
    service_name = "GCS"
    bucket_option = "bucket"
    upload_checksum = "crc32c"
    min_part_size = CHUNK_QUANTUM
    conditional_copy = True  # a rewrite takes ifGenerationMatch=0
    capabilities = frozenset(Capability)
    secret_options = frozenset({"service_info"})

    def __init__(
        self,
        *,
        bucket: str,
        prefix: str = "",
        project: str | None = None,
        service_file: str | None = None,
        service_info: str | Mapping[str, Any] | None = None,
        signing_service_account: str | None = None,
        api_root: str | None = None,
        emulator_host: str | None = None,
        custom_domain: str | None = None,
        url_protocol: str = "https",
        querystring_auth: bool = False,
        querystring_expire: int = 3600,
        cache_control: str | None = None,
        multipart_threshold: int = 8 * MiB,
        part_size: int = 8 * MiB,
        max_concurrency: int = 16,
        max_attempts: int = 5,
        retry_deadline: float = 60.0,
        list_page_size: int = 1000,
        connect_timeout: float = 10.0,
        read_timeout: float = 60.0,
        max_single_put_size: int | None = None,
        chunk_size: int | None = None,
    ) -> None:
        if not bucket:
            raise ConfigurationError("The gcs backend needs bucket=<bucket name>.")
        old = self._renamed({"max_single_put_size": max_single_put_size, "chunk_size": chunk_size})
        part_size = old.get("part_size", part_size)
        if part_size % CHUNK_QUANTUM:
            raise ConfigurationError(
                f"part_size must be a multiple of {CHUNK_QUANTUM} bytes (256 KiB), as GCS "
                "resumable uploads require."
            )
        self._setup(
            prefix=prefix,
            multipart_threshold=old.get("multipart_threshold", multipart_threshold),
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
        self.project = project
        self.service_file = service_file
        self.service_info = service_info
        self.signing_service_account = signing_service_account
        self.emulator_host = emulator_host or os.environ.get("STORAGE_EMULATOR_HOST") or None
        if self.emulator_host and "://" not in self.emulator_host:
            self.emulator_host = "http://" + self.emulator_host
        self.api_root = (api_root or self.emulator_host or DEFAULT_API_ROOT).rstrip("/")
        self.querystring_auth = querystring_auth
        self.cache_control = cache_control
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self._key_info, self._private_key = read_key(service_file, service_info)
        if self._private_key is None and not signing_service_account:
            # Nothing can sign: no key here and no service account to ask IAM to sign as.
            self.capabilities = GCSStorage.capabilities - {Capability.SIGNED_URL}
        self._session: aiohttp.ClientSession | None = None
        self._token: Any = None

    # -- session, auth, requests -----------------------------------------------------------------

    async def _connect(self) -> None:
        timeout = aiohttp.ClientTimeout(
            sock_connect=self.connect_timeout, sock_read=self.read_timeout
        )
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=self.max_concurrency), timeout=timeout
        )
        forbid_hidden_resends(self._session)
        if not self.emulator_host:
            self._token = access_token(self._key_info, self._session, SCOPES)

    async def _disconnect(self) -> None:
        session, self._session, self._token = self._session, None, None
        if session is not None:
            await session.close()

    def _translate(self, exc: Exception, name: str | None) -> BucketryError:
        return translate(exc, self.bucket, name)

    async def _send(
        self,
        method: str,
        url: str,
        *,
        ok: tuple[int, ...] = (200,),
        bucket_level: bool = False,
        built_here: bool = False,
        headers: Mapping[str, str] | None = None,
        **request: Any,
    ) -> aiohttp.ClientResponse:
        """One HTTP request; the response (open) when its status is in ``ok``, else a
        :class:`GCSResponseError` with the context its translation needs (see there). Bodies
        are bytes: aiohttp sends them as they are, and a retry sends the same object again."""
        assert self._session is not None, "connected before use by Storage._ensure_connected"
        if self._token is not None:
            headers = {"Authorization": f"Bearer {await self._token.get()}", **(headers or {})}
        response = await self._session.request(method, url, headers=headers, **request)
        if response.status in ok:
            return response
        async with response:
            body = await response.read()
        raise GCSResponseError(
            response.status, body, bucket_level=bucket_level, built_here=built_here
        )

    async def _json(self, method: str, url: str, parse: Callable[[Any], T], **request: Any) -> T:
        return await parsed(await self._send(method, url, **request), parse)

    def _object_url(self, key: str, api: str = "storage") -> str:
        bucket = quote(self.bucket, safe="")
        return f"{self.api_root}/{api}/v1/b/{bucket}/o" + (f"/{quote(key, safe='')}" if key else "")

    def _resource(self, put: Put) -> dict[str, Any]:
        resource: dict[str, Any] = {"name": put.key, "contentType": put.content_type}
        if put.metadata:
            resource["metadata"] = dict(put.metadata)
        if self.cache_control:
            resource["cacheControl"] = self.cache_control
        return resource

    # -- uploads ---------------------------------------------------------------------------------

    async def _put_object(self, put: Put, body: bytes, checksum: str) -> Stored:
        # GCS checks the resource's CRC32C against what arrived before it commits: damaged
        # bytes are refused and the previous version is never touched.
        resource = {**self._resource(put), "crc32c": checksum}
        boundary = secrets.token_hex(16)
        head = (
            f"--{boundary}\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n"
            f"{json.dumps(resource)}\r\n--{boundary}\r\n"
            f"Content-Type: {put.content_type}\r\n\r\n"
        ).encode()
        answer = await self._json(
            "POST",
            self._object_url("", "upload/storage"),
            dict,
            params={"uploadType": "multipart", **_if_absent(put)},
            headers={"Content-Type": f"multipart/related; boundary={boundary}"},
            data=head + body + f"\r\n--{boundary}--\r\n".encode(),
            bucket_level=True,
            built_here=True,
        )
        return _stored(answer, resource)

    async def _upload_stream(
        self, name: str, chunks: AsyncIterator[bytes], options: WriteOptions
    ) -> None:
        """A resumable session instead of the engine's parts: GCS takes the chunks in order and
        commits on the last one. The last chunk is the commit the engine's own-write rule
        guards, its answer what the damage rule judges; the session is cancelled on failure."""
        put = self._put(name, options)
        try:
            uri = await self._call(name, lambda: self._start_upload(put))
        except PreconditionFailedError:
            raise AlreadyExistsError(f"{name!r} already exists.") from None
        session = Session(name, uri, functools.partial(self._send, "PUT", uri))
        crc, offset, pending, answers = running("crc32c"), 0, b"", []
        try:
            async for piece in fixed_size_chunks(chunks, self.part_size):
                if pending:  # damage here (the session holds other bytes) is not asked again
                    await self._call(name, session.chunk(pending, offset), retry_integrity=False)
                    offset += len(pending)
                crc.update(piece)
                pending = piece
            sent = crc.value()
            last = session.chunk(pending, offset, offset + len(pending), sent)

            async def commit() -> None:
                answers.append(_stored(await last(), self._resource(put)))

            await self._commit(name, put, commit, lambda: self._holds(put, sent, None))
        except FinishedEarly as early:
            # GCS answers a status check with the bytes it holds; fake-gcs-server finishes the
            # session instead, storing a truncated object: damage, by the engine's rule.
            problem = f"the session finished after {early.answer.get('size')} bytes, before "
            problem += "all were sent (a status check ended it)"
            if not put.if_absent:
                problem += "; that truncated object replaced the previous version"
            answers, sent = [Stored(_generation(early.answer), None, problem)], ""
        except BaseException:
            # Cancelled under the policy (GCS answers 499) and shielded from the cancellation
            # that may have brought us here: no resumable upload stays open.
            await asyncio.shield(self._abort(name, put, uri))
            raise
        if answers:  # none: the commit's answer was lost, and its own write recognised
            await self._judge(name, put, answers[0], sent)

    async def _start_upload(self, put: Put) -> str:
        response = await self._send(
            "POST",
            self._object_url("", "upload/storage"),
            params={"uploadType": "resumable", **_if_absent(put)},
            headers={"Content-Type": "application/json; charset=UTF-8"},
            data=json.dumps(self._resource(put)).encode(),
            bucket_level=True,
            built_here=True,
        )
        response.release()
        if not response.headers.get("Location"):
            raise UnreadableAnswer("no session URI")
        return response.headers["Location"]

    async def _abort_upload(self, put: Put, upload: str) -> None:
        (await self._send("DELETE", upload, ok=(200, 204, 404, 410, 499))).release()

    # -- the other requests ----------------------------------------------------------------------

    async def _get_object(
        self, key: str, start: int, end: int | None, if_match: str | None, chunk_size: int
    ) -> Answer | None:
        params = {"alt": "media", **({"ifGenerationMatch": if_match} if if_match else {})}
        headers: dict[str, str] = {}
        if start or end is not None:
            headers["Range"] = f"bytes={start}-{'' if end is None else end - 1}"
        url = self._object_url(key, "download/storage")
        response = await self._send("GET", url, params=params, headers=headers, ok=(200, 206, 416))
        if response.status == 416:  # the range starts past the end of an existing object
            response.release()
            return None
        hashes = response.headers.get("x-goog-hash", "").split(",")  # crc32c=...,md5=...
        crc32c = dict(part.strip().partition("=")[::2] for part in hashes).get("crc32c")
        return Answer(
            _body(response, chunk_size),
            response.headers.get("x-goog-generation"),
            {"crc32c": crc32c} if crc32c else {},
        )

    async def _head_object(self, key: str) -> ObjectHead:
        def parse(item: Mapping[str, Any]) -> ObjectHead:
            # The JSON answer carries no checksum of itself; an answer about another name, or
            # without a size, was damaged in transit and is asked again.
            if item["name"] != key:
                raise UnreadableAnswer(f"the answer describes {item['name']!r}")
            crc32c = item.get("crc32c")
            return ObjectHead(**_fields(item), checksums={"crc32c": crc32c} if crc32c else {})

        return await self._json("GET", self._object_url(key), parse)

    async def _delete_object(self, key: str, if_match: str | None = None) -> None:
        params = {"ifGenerationMatch": if_match} if if_match else {}
        url = self._object_url(key)
        (await self._send("DELETE", url, params=params, ok=(200, 204, 404))).release()

    async def _list_page(self, prefix: str, delimiter: bool, token: str | None) -> Page:
        params = {"prefix": prefix, "maxResults": str(self.list_page_size)}
        params.update({"delimiter": "/"} if delimiter else {})
        params.update({"pageToken": token} if token else {})

        def parse(page: Mapping[str, Any]) -> Page:
            objects = [Listed(item["name"], **_fields(item)) for item in page.get("items", [])]
            return Page(objects, list(page.get("prefixes", [])), page.get("nextPageToken"))

        return await self._json(
            "GET", self._object_url(""), parse, params=params, bucket_level=True
        )

    async def _copy_object(self, src: str, dst: str, *, if_absent: bool, size: int) -> None:
        params = {"ifGenerationMatch": "0"} if if_absent else {}
        if if_absent and self.emulator_host:
            # fake-gcs-server ignores ifGenerationMatch on a rewrite (GCS refuses it, 412):
            # against an emulator, look first as well.
            response = await self._call(
                self._name(dst), lambda: self._send("GET", self._object_url(dst), ok=(200, 404))
            )
            response.release()
            if response.status == 200:
                raise GCSResponseError(412)
        url = f"{self._object_url(src)}/rewriteTo/b/{quote(self.bucket, safe='')}/o/"
        while True:  # a large object is rewritten in several calls, each returning a token
            # Each call under the policy, with the token so far: a failure repeats that call.
            token = await self._call(
                self._name(dst),
                functools.partial(
                    self._json,
                    "POST",
                    url + quote(dst, safe=""),
                    lambda answer: (
                        None if answer.get("done", True) else str(answer["rewriteToken"])
                    ),
                    params=params,
                    data=b"{}",
                    headers={"Content-Type": "application/json"},
                    built_here=True,
                ),
            )
            if token is None:
                return
            params = {**params, "rewriteToken": token}

    # -- addresses -------------------------------------------------------------------------------

    def _public_url(self, key: str) -> str:
        return f"{self.api_root}/{quote(self.bucket)}/{quote(key)}"

    async def _sign(self, key: str, method: str, expires: int) -> str:
        email, sign = signer(
            self._key_info,
            self._private_key,
            self.signing_service_account,
            self._session,
            self._token,
        )
        return await sign_url(
            api_root=self.api_root,
            bucket=self.bucket,
            key=key,
            method=method,
            expires=expires,
            client_email=email,
            sign=sign,
        )


def _if_absent(put: Put) -> dict[str, str]:
    # Generation 0 means "no live object": GCS refuses (412) if the name is taken.
    return {"ifGenerationMatch": "0"} if put.if_absent else {}


def _stored(answer: Mapping[str, Any], resource: Mapping[str, Any]) -> Stored:
    """What GCS says it stored. The name, type and metadata it echoes travel in the request
    body too (a damaged name would put the bytes somewhere else), so they are compared here;
    the CRC32C is the engine's to compare."""
    problems = []
    if answer.get("name", resource["name"]) != resource["name"]:
        problems.append(f"under the name {answer.get('name')!r}")
    if answer.get("contentType", resource["contentType"]) != resource["contentType"]:
        problems.append(f"as {answer.get('contentType')!r}")
    if dict(answer.get("metadata") or {}) != dict(resource.get("metadata") or {}):
        problems.append("with other metadata")
    problem = f"it stored the object {', '.join(problems)}" if problems else None
    stored_key = str(answer.get("name", resource["name"]))
    elsewhere = stored_key if stored_key != resource["name"] else None
    return Stored(_generation(answer), answer.get("crc32c"), problem, elsewhere)


def _generation(answer: Mapping[str, Any]) -> str | None:
    return str(answer["generation"]) if answer.get("generation") else None


def _fields(item: Mapping[str, Any]) -> dict[str, Any]:
    """An object resource's properties, as :class:`ObjectHead` and :class:`Listed` name them."""
    updated = item.get("updated")
    return {
        "size": int(item["size"]),  # a string; required: without it the answer is damaged
        "etag": item.get("etag"),
        "content_type": item.get("contentType"),
        "last_modified": datetime.fromisoformat(updated) if updated else None,
        "metadata": dict(item.get("metadata") or {}),
    }


async def _body(response: aiohttp.ClientResponse, chunk_size: int) -> AsyncIterator[bytes]:
    async with response:  # releases the connection even if the reader stops early
        while chunk := await response.content.read(chunk_size):
            yield chunk
