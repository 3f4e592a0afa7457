"""``GCSStorage``: Google Cloud Storage through the JSON API on one aiohttp session.

gcloud-aio-auth supplies access tokens and IAM signing; requests are made here, because the
uploads need what gcloud-aio-storage does not offer: its ``force_resumable_upload`` sends the whole
body in one request, so the chunked resumable session is written here, and every upload path
must carry ``ifGenerationMatch=0`` for ``overwrite=False``.

Uploads: up to ``max_single_put_size`` in one multipart request; larger content through a
resumable session in ``chunk_size`` chunks (multiples of 256 KiB), one chunk held in memory
besides the one being sent. The CRC32C the service returns is checked against the bytes sent, and
a full download is checked against ``x-goog-hash``; a mismatch is an :class:`IntegrityError`.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import functools
import json
import mimetypes
import os
import secrets
from collections.abc import AsyncIterator, Callable, Mapping
from datetime import datetime
from typing import Any, Self
from urllib.parse import quote

import aiohttp
import google_crc32c
from cryptography.exceptions import UnsupportedAlgorithm

from bucketry import (
    AlreadyExistsError,
    Capability,
    ConfigurationError,
    FileInfo,
    IntegrityError,
    NotFoundError,
    ReadVersion,
    RetryPolicy,
    UnavailableError,
    WriteOptions,
)
from bucketry.content import fixed_size_chunks, read_ahead
from bucketry.objectstore import ObjectStoreStorage, key_prefix, name_for_key
from bucketry.redaction import register_secrets, secret_parts
from bucketry.retry import forbid_hidden_resends
from bucketry_gcs.errors import GCSResponseError, gcs_errors
from bucketry_gcs.signing import load_private_key, local_signer, sign_url

__all__ = ["GCSStorage"]

KiB = 1024
MiB = 1024 * KiB
CHUNK_QUANTUM = 256 * KiB  # resumable chunks must be multiples of this
SCOPES = ["https://www.googleapis.com/auth/devstorage.read_write"]
DEFAULT_API_ROOT = "https://storage.googleapis.com"


_Checksum: Any = google_crc32c.Checksum  # the C extension's class carries no annotations


def _crc32c(data: bytes) -> str:
    return base64.b64encode(google_crc32c.value(data).to_bytes(4, "big")).decode()


class _Crc32c:
    """A running CRC32C, in the base64 form GCS reports."""

    def __init__(self) -> None:
        self._checksum = _Checksum()

    def update(self, data: bytes) -> None:
        self._checksum.update(data)  # the C extension takes bytes only

    def value(self) -> str:
        return base64.b64encode(self._checksum.digest()).decode()


class GCSStorage(ObjectStoreStorage):
    """Files as objects in one GCS bucket, optionally under a name prefix.

    Credentials: ``service_file`` (a path to a service-account JSON key) or ``service_info`` (its
    contents); otherwise application default credentials. ``emulator_host`` (or the standard
    ``STORAGE_EMULATOR_HOST`` variable) points at an emulator and sends no credentials. URL form:
    ``gs://bucket/prefix?service_file=/path/key.json``.
    """

    backend_name = "gcs"
    capabilities = frozenset(Capability)
    resumes_whole_reads = True
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
        max_single_put_size: int = 8 * MiB,
        chunk_size: int = 8 * MiB,
        max_concurrency: int = 16,
        max_attempts: int = 5,
        retry_deadline: float = 60.0,
        list_page_size: int = 1000,
        connect_timeout: float = 10.0,
        read_timeout: float = 60.0,
    ) -> None:
        if not bucket:
            raise ConfigurationError("The gcs backend needs bucket=<bucket name>.")
        if chunk_size < CHUNK_QUANTUM or chunk_size % CHUNK_QUANTUM:
            raise ConfigurationError(
                f"chunk_size must be a multiple of {CHUNK_QUANTUM} bytes (256 KiB), as GCS "
                "resumable uploads require."
            )
        if max_concurrency < 1 or list_page_size < 1 or max_single_put_size < 0:
            raise ConfigurationError("max_concurrency and list_page_size must be at least 1.")
        self.bucket = bucket
        self.prefix = key_prefix(prefix)
        self.project = project
        self.service_file = service_file
        self.service_info = service_info
        self.signing_service_account = signing_service_account
        self.emulator_host = emulator_host or os.environ.get("STORAGE_EMULATOR_HOST") or None
        if self.emulator_host and "://" not in self.emulator_host:
            self.emulator_host = "http://" + self.emulator_host
        self.api_root = (api_root or self.emulator_host or DEFAULT_API_ROOT).rstrip("/")
        self.custom_domain = custom_domain
        self.url_protocol = url_protocol
        self.querystring_auth = querystring_auth
        self.querystring_expire = querystring_expire
        self.cache_control = cache_control
        self.max_single_put_size = max_single_put_size
        self.chunk_size = chunk_size
        self.max_concurrency = max_concurrency
        self.max_attempts = max_attempts
        self.retry_deadline = retry_deadline
        self.retry = RetryPolicy(attempts=max_attempts, deadline=retry_deadline)
        self.list_page_size = list_page_size
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self._key_info = self._load_key_info()
        self._private_key = None
        if self._key_info and "private_key" in self._key_info:
            register_secrets(secret_parts(str(self._key_info["private_key"])))
            try:
                self._private_key = load_private_key(str(self._key_info["private_key"]))
            except (ValueError, TypeError, UnsupportedAlgorithm):
                raise ConfigurationError(
                    "The GCS service account key's private_key is not a readable RSA key in PEM "
                    "form; download the key again, or check service_file or service_info."
                ) from None
        if self._private_key is None and not self.signing_service_account:
            # Nothing can sign: no key here and no service account to ask IAM to sign as.
            self.capabilities = GCSStorage.capabilities - {Capability.SIGNED_URL}
        self._session: aiohttp.ClientSession | None = None
        self._token: Any = None

    def _load_key_info(self) -> dict[str, Any] | None:
        try:
            if self.service_info is not None:
                info = self.service_info
                return dict(json.loads(info) if isinstance(info, str) else info)
            if self.service_file:
                with open(self.service_file, encoding="utf-8") as file:
                    return dict(json.load(file))
        except (OSError, ValueError) as exc:
            raise ConfigurationError(
                f"Could not read the GCS service account key ({type(exc).__name__}); check "
                "service_file or service_info."
            ) from None
        return None

    @classmethod
    def from_url(cls, url: str) -> Self:
        return cls._from_bucket_url(url, "bucket")

    def _repr_options(self) -> dict[str, object]:
        shown = super()._repr_options()
        if self.service_info is not None:
            shown["service_info"] = "***"
        return shown

    # -- session and auth ------------------------------------------------------------------------

    async def _connect(self) -> None:
        timeout = aiohttp.ClientTimeout(
            sock_connect=self.connect_timeout, sock_read=self.read_timeout
        )
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=self.max_concurrency), timeout=timeout
        )
        forbid_hidden_resends(self._session)
        if not self.emulator_host:
            from gcloud.aio.auth import Token

            service: Any = self.service_file
            if self.service_info is not None:
                import io

                service = io.StringIO(json.dumps(self._key_info))
            self._token = Token(
                service_file=service,
                session=self._session,  # type: ignore[arg-type]  # an aiohttp session is what it wraps
                scopes=SCOPES,
            )

    async def _disconnect(self) -> None:
        session, self._session, self._token = self._session, None, None
        if session is not None:
            await session.close()

    async def _headers(self) -> dict[str, str]:
        if self._token is None:
            return {}
        with gcs_errors(self.bucket):
            access = await self._token.get()
        return {"Authorization": f"Bearer {access}"}

    async def _request(
        self,
        method: str,
        url: str,
        name: str | None,
        *,
        params: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        data: Any = None,
        ok: tuple[int, ...] = (200,),
        bucket_level: bool = False,
        retry: bool = True,
        refused_means_damaged: bool = False,
    ) -> aiohttp.ClientResponse:
        """Send a request; return the response (open) when its status is in ``ok``.

        ``bucket_level`` requests (uploads, listings) need no object to exist, so a 404 there
        can only mean the bucket is missing. With ``retry`` the request goes through the retry
        policy (a body is rewound for each attempt); chunks of a resumable session do not.
        ``refused_means_damaged`` is for bodies built here, well formed when they leave: a 400
        for one means it was damaged on the way, an IntegrityError that the policy retries.
        """
        attempt = functools.partial(
            self._send,
            method,
            url,
            name,
            params,
            headers,
            data,
            ok,
            bucket_level,
            refused_means_damaged,
        )
        return await (self._retrying(attempt) if retry else attempt())

    async def _send(
        self,
        method: str,
        url: str,
        name: str | None,
        params: dict[str, str] | None,
        headers: dict[str, str] | None,
        data: Any,
        ok: tuple[int, ...],
        bucket_level: bool,
        refused_means_damaged: bool = False,
    ) -> aiohttp.ClientResponse:
        assert self._session is not None, "connected before use by Storage._ensure_connected"
        all_headers = {**(await self._headers()), **(headers or {})}
        # Bodies are bytes: aiohttp sends them as they are, with their Content-Length, and a retry
        # sends the same object again. (A file-like body would be read through a thread pool.)
        with gcs_errors(self.bucket, name):
            response = await self._session.request(
                method, url, params=params, headers=all_headers, data=data
            )
            if response.status not in ok:
                body = await response.read()
                response.release()
                lowered = body.lower()
                if response.status == 400 and (
                    refused_means_damaged or b"crc32c" in lowered or b"md5" in lowered
                ):
                    raise IntegrityError(
                        f"GCS refused {name or 'the upload'!r}: what arrived is not what was "
                        "sent (its checksum or its form). Nothing was stored."
                    )
                missing = response.status == 404 and (bucket_level or b"bucket" in body.lower())
                raise GCSResponseError(response.status, response.reason or "", missing)
        return response

    async def _json(
        self,
        method: str,
        url: str,
        name: str | None,
        parse: Callable[[Any], Any] | None = None,
        retry: bool = True,
        **kwargs: Any,
    ) -> Any:
        """A request whose JSON answer is read, and parsed, inside the same retried attempt.

        ``retry=False`` when the caller runs it inside an attempt of its own: retries must not
        nest (they multiply, and an inner retry would hide a lost create from the outer one).
        """

        async def attempt() -> Any:
            response = await self._request(method, url, name, retry=False, **kwargs)
            with gcs_errors(self.bucket, name):
                async with response:
                    try:
                        answer = await response.json(content_type=None)
                        return parse(answer) if parse is not None else answer
                    except (ValueError, KeyError, TypeError, AttributeError):
                        # Damaged in transit: a field that does not parse. Asked again.
                        raise UnavailableError(
                            f"GCS sent an unreadable answer for {name or self.bucket!r}."
                        ) from None

        return await (self._retrying(attempt) if retry else attempt())

    # -- keys and URLs ---------------------------------------------------------------------------

    def _key(self, name: str) -> str:
        return self.prefix + name

    def _name(self, key: str) -> str | None:
        return name_for_key(key, self.prefix)

    def _object_url(self, key: str) -> str:
        return f"{self.api_root}/storage/v1/b/{quote(self.bucket, safe='')}/o/{quote(key, safe='')}"

    def _upload_url(self) -> str:
        return f"{self.api_root}/upload/storage/v1/b/{quote(self.bucket, safe='')}/o"

    def _resource(self, name: str, options: WriteOptions) -> dict[str, Any]:
        resource: dict[str, Any] = {
            "name": self._key(name),
            "contentType": options.content_type
            or mimetypes.guess_type(name)[0]
            or "application/octet-stream",
        }
        if options.metadata:
            resource["metadata"] = dict(options.metadata)
        if self.cache_control:
            resource["cacheControl"] = self.cache_control
        return resource

    def _info(self, name: str, item: Mapping[str, Any]) -> FileInfo:
        updated = item.get("updated")
        return FileInfo(
            name=name,
            size=int(item["size"]),  # a string; required: a damaged key is a damaged answer
            etag=item.get("etag"),
            content_type=item.get("contentType"),
            last_modified=datetime.fromisoformat(updated.replace("Z", "+00:00"))
            if updated
            else None,
            metadata=dict(item.get("metadata") or {}),
        )

    # -- writing ---------------------------------------------------------------------------------

    async def _write(self, name: str, chunks: AsyncIterator[bytes], options: WriteOptions) -> str:
        content = await read_ahead(chunks, self.max_single_put_size)
        if isinstance(content, bytes):
            return await self._create_retargeting(
                name, options, lambda candidate: self._put(candidate, content, options)
            )
        name = await self._claim_name(name, options)
        await self._resumable(name, content, options)
        return name

    def _preconditions(self, options: WriteOptions) -> dict[str, str]:
        # Generation 0 means "no live object": the service refuses (412) if the name is taken.
        return {} if options.overwrite else {"ifGenerationMatch": "0"}

    async def _put(self, name: str, data: bytes, options: WriteOptions) -> None:
        """One multipart (metadata + media) request, checked against the CRC32C GCS reports."""
        boundary = secrets.token_hex(16)
        sent = _crc32c(data)
        # GCS checks the resource's CRC32C against what arrived before it commits: damaged
        # bytes are refused and the previous version is never touched.
        resource = {**self._resource(name, options), "crc32c": sent}
        head = (
            f"--{boundary}\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n"
            f"{json.dumps(resource)}\r\n--{boundary}\r\n"
            f"Content-Type: {resource['contentType']}\r\n\r\n"
        ).encode()
        body = head + data + f"\r\n--{boundary}--\r\n".encode()

        async def attempt() -> None:
            result = await self._json(
                "POST",
                self._upload_url(),
                name,
                params={"uploadType": "multipart", **self._preconditions(options)},
                headers={"Content-Type": f"multipart/related; boundary={boundary}"},
                data=body,
                bucket_level=True,
                retry=False,  # this attempt is the retried unit
                refused_means_damaged=True,
            )
            # A mismatch is retried: a new name's damaged object is removed first, an overwrite's
            # is replaced by the next attempt.
            await self._verify_upload(name, result, sent, resource, options.overwrite)

        await self._create_recognising_own_write(attempt, lambda: self._holds(name, sent))

    async def _holds(self, name: str, crc32c: str) -> bool:
        try:
            item = await self._json("GET", self._object_url(self._key(name)), name)
        except NotFoundError:
            return False
        return bool(item.get("crc32c") == crc32c)

    async def _resumable(
        self, name: str, chunks: AsyncIterator[bytes | bytearray], options: WriteOptions
    ) -> None:
        resource = self._resource(name, options)
        response = await self._request(
            "POST",
            self._upload_url(),
            name,
            params={"uploadType": "resumable", **self._preconditions(options)},
            headers={"Content-Type": "application/json; charset=UTF-8"},
            data=json.dumps(resource).encode(),
            bucket_level=True,
        )
        session_uri = response.headers.get("Location", "")
        response.release()
        if not session_uri:
            raise IntegrityError(f"GCS did not open a resumable session for {name!r}.")
        checksum = _Crc32c()
        try:
            result: Any = None
            offset = 0
            pending: bytes | None = None
            async for piece in fixed_size_chunks(chunks, self.chunk_size):
                if pending is not None:
                    await self._send_chunk(name, session_uri, pending, offset, None)
                    offset += len(pending)
                checksum.update(piece)
                pending = piece
            last = pending or b""
            sent = checksum.value()
            final = {"X-Goog-Hash": f"crc32c={sent}"}
            result = await self._send_chunk(
                name, session_uri, last, offset, offset + len(last), final
            )
            await self._verify_upload(name, result, sent, resource, options.overwrite)
        except _FinishedEarly as early:
            await self._finished_early(name, early.result, options.overwrite)
        except BaseException:
            # Cancel the session (GCS answers 499), so no resumable upload stays open.
            await asyncio.shield(self._cancel_session(session_uri))
            raise

    async def _finished_early(self, name: str, result: Mapping[str, Any], overwrite: bool) -> None:
        """The session finished before every byte was sent: it stored part of the content.

        GCS answers a status check with the bytes it holds; a service that finishes the upload
        instead (fake-gcs-server does) leaves a truncated object. A create's is removed (that
        generation only); an overwrite's has already replaced the previous version, and the
        error says so.
        """
        generation = str(result.get("generation", ""))
        stored = result.get("size", "?")
        if overwrite:
            raise IntegrityError(
                f"GCS finished the upload of {name!r} after {stored} bytes, before all of them "
                f"were sent (generation {generation or '?'}): that truncated object replaced the "
                "previous version, which cannot be restored here; save it again."
            )
        await self._remove_generation(name, self._key(name), generation)
        raise IntegrityError(
            f"GCS finished the upload of {name!r} after {stored} bytes, before all of them were "
            "sent (it answered a status check by finishing the session); what it stored is "
            "removed. Save it again."
        )

    async def _send_chunk(
        self,
        name: str,
        session_uri: str,
        chunk: bytes,
        offset: int,
        total: int | None,
        final_headers: dict[str, str] | None = None,
    ) -> Any:
        """Send one chunk under the retry policy; return the object's JSON after the last one.

        After a failed attempt the chunk's fate is unknown (it may have arrived, wholly or in
        part, and only its answer been lost), so the next attempt first asks the session how many
        bytes it holds and sends only the rest; a session that already finished answers with the
        object, which is then this upload's own.
        """
        end = offset + len(chunk)
        asked = False

        async def attempt() -> Any:
            nonlocal asked
            start = offset
            if asked:
                state = await self._session_state(name, session_uri, total)
                if not isinstance(state, int):
                    if total is None:  # more chunks were still to come
                        raise _FinishedEarly(state)
                    return state
                if not offset <= state <= end:
                    raise _SessionLost(
                        f"The GCS upload session of {name!r} holds {state} bytes, but {offset} "
                        f"to {end} were sent; save it again."
                    )
                if state == end and total is None:
                    return None  # the chunk arrived; only its answer was lost
                start = state
            asked = True
            piece = chunk[start - offset :]
            if piece:
                span = f"bytes {start}-{end - 1}/{'*' if total is None else total}"
            else:
                span = f"bytes */{total}"
            response = await self._request(
                "PUT",
                session_uri,
                name,
                # The last request carries the whole object's CRC32C: GCS checks it before it
                # finalises the upload.
                headers={"Content-Range": span, **(final_headers or {})},
                data=piece,
                ok=(200, 201, 308),
                retry=False,  # this attempt is the retried unit
            )
            return await self._chunk_answer(name, response, end if total is None else None)

        try:
            return await self._retrying(attempt, retry_integrity=False)
        except _SessionLost as exc:
            raise IntegrityError(str(exc)) from None

    async def _session_state(self, name: str, session_uri: str, total: int | None) -> Any:
        """How many bytes the session holds (an ``int``), or the object's JSON if it finished."""
        response = await self._request(
            "PUT",
            session_uri,
            name,
            headers={"Content-Range": f"bytes */{'*' if total is None else total}"},
            data=b"",
            ok=(200, 201, 308),
            retry=False,
        )
        if response.status != 308:
            return await self._chunk_answer(name, response, None)
        committed = response.headers.get("Range", "")
        response.release()
        if not committed:
            return 0
        try:
            first, _, last = committed.removeprefix("bytes=").partition("-")
            if int(first) != 0:
                raise ValueError(committed)
            return int(last) + 1
        except ValueError:
            raise UnavailableError(
                f"GCS sent an unreadable upload state for {name!r}; asking again."
            ) from None

    async def _chunk_answer(
        self, name: str, response: aiohttp.ClientResponse, expected_end: int | None
    ) -> Any:
        """A chunk's answer: ``None`` for 308 (checked against ``expected_end``), else the JSON."""
        with gcs_errors(self.bucket, name):
            async with response:
                if response.status == 308:
                    committed = response.headers.get("Range", "")
                    if expected_end is not None and committed != f"bytes=0-{expected_end - 1}":
                        raise UnavailableError(
                            f"GCS acknowledged {committed or 'nothing'} of {name!r} after "
                            f"{expected_end} bytes were sent; asking it again."
                        )
                    return None
                try:
                    answer = await response.json(content_type=None)
                    if not isinstance(answer, dict):
                        raise ValueError(answer)
                    return answer
                except ValueError:
                    raise UnavailableError(
                        f"GCS sent an unreadable answer for {name!r}; asking again."
                    ) from None

    async def _cancel_session(self, session_uri: str) -> None:
        try:
            response = await self._request(
                "DELETE", session_uri, None, ok=(200, 204, 404, 499), retry=False
            )
            response.release()
        except Exception:
            pass

    async def _verify_upload(
        self,
        name: str,
        result: Mapping[str, Any],
        sent: str,
        resource: Mapping[str, Any],
        overwrite: bool,
    ) -> None:
        """Check what GCS says it stored against what was sent: bytes, and the object's name,
        type and metadata, which travel in the request body too (a damaged name would store the
        bytes somewhere else), and raise IntegrityError on a mismatch.

        Only a service that does not check the CRC32C it is sent (an emulator) can get here.
        What a create (``overwrite=False``) stored is removed; an overwrite's damaged object
        stays, and the error says so: the service replaced the previous version when it
        committed, so removing the new one would lose both."""
        stored_name = str(result.get("name", resource["name"]))
        problems = []
        if result.get("crc32c") is not None and result.get("crc32c") != sent:
            problems.append(f"CRC32C {result.get('crc32c')}, but {sent} was sent")
        if stored_name != resource["name"]:
            problems.append(f"under the name {stored_name!r}")
        if result.get("contentType", resource["contentType"]) != resource["contentType"]:
            problems.append(f"as {result.get('contentType')!r}")
        if dict(result.get("metadata") or {}) != dict(resource.get("metadata") or {}):
            problems.append("with other metadata")
        if not problems:
            return
        generation = str(result.get("generation", ""))
        if overwrite and stored_name == resource["name"]:
            raise IntegrityError(
                f"GCS stored {name!r} {'; '.join(problems)} (generation {generation or '?'}): "
                "the request was damaged on the way and this service did not check its CRC32C. "
                "That generation replaced the previous version, which cannot be restored here; "
                "save it again."
            )
        # Remove what this upload stored (only that generation), then let the caller retry.
        await self._remove_generation(name, stored_name, generation)
        raise IntegrityError(
            f"GCS stored {name!r} {'; '.join(problems)}: the request was damaged on the way. "
            "What was stored is removed; save it again."
        )

    async def _remove_generation(self, name: str, key: str, generation: str) -> None:
        """Delete what one upload stored, and only that: the generation it reported."""
        with contextlib.suppress(Exception):
            response = await self._request(
                "DELETE",
                self._object_url(key),
                name,
                params={"ifGenerationMatch": generation} if generation else None,
                ok=(200, 204, 404, 412),
            )
            response.release()

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
            await self._stat(name)
            return
        if not start and end is None:
            async for chunk in self._whole(name, chunk_size):  # resumed and pinned inside
                yield chunk
            return
        pinned = {"ifGenerationMatch": version.tag} if version is not None and version.tag else {}
        try:
            response = await self._download(
                name, {"Range": f"bytes={start}-{'' if end is None else end - 1}"}, pinned
            )
        except AlreadyExistsError:  # 412: the generation no longer matches
            if version is None:
                raise
            raise version.replaced() from None
        async with response:
            if response.status == 416:
                return  # the range starts past the end of an existing object
            if version is not None:
                version.pin(response.headers.get("x-goog-generation"))
            with gcs_errors(self.bucket, name):
                while chunk := await response.content.read(chunk_size):
                    yield chunk

    async def _whole(self, name: str, chunk_size: int) -> AsyncIterator[bytes]:
        """A whole read, resumed after a break from the next byte of the same generation (a
        precondition of every resume), and checked over every byte it yielded against the CRC32C
        of the first answer's ``x-goog-hash``."""
        first: dict[str, Any] = {}
        checksum = _Crc32c()

        async def read_from(position: int) -> AsyncIterator[bytes]:
            headers = {"Range": f"bytes={position}-"} if first else {}
            try:
                response = await self._download(name, headers, first.get("generation", {}))
            except AlreadyExistsError:  # 412: the generation no longer matches
                raise IntegrityError(
                    f"{name!r} was replaced in GCS while it was being read; read it again."
                ) from None
            async with response:
                if response.status == 416:
                    return  # the break came after the last byte
                if not first:
                    version = response.headers.get("x-goog-generation")
                    first["generation"] = {"ifGenerationMatch": version} if version else {}
                    first["crc32c"] = _hash_header(
                        response.headers.get("x-goog-hash", ""), "crc32c"
                    )
                with gcs_errors(self.bucket, name):
                    while chunk := await response.content.read(chunk_size):
                        if first["crc32c"] is not None:
                            checksum.update(chunk)
                        yield chunk

        async for chunk in self._resuming(read_from):
            yield chunk
        expected = first.get("crc32c")
        if expected is not None and checksum.value() != expected:
            raise IntegrityError(
                f"The bytes of {name!r} read from GCS do not match its CRC32C; read it again."
            )

    async def _download(
        self, name: str, headers: dict[str, str], preconditions: dict[str, str]
    ) -> aiohttp.ClientResponse:
        url = self._object_url(self._key(name)).replace("/storage/v1/", "/download/storage/v1/", 1)
        return await self._request(
            "GET",
            url,
            name,
            params={"alt": "media", **preconditions},
            headers=headers,
            ok=(200, 206, 416),
            retry=False,  # Storage.stream and _whole resume broken reads from the right byte
        )

    async def _stat(self, name: str) -> FileInfo:
        key = self._key(name)

        def parse(item: Mapping[str, Any]) -> FileInfo:
            # The JSON answer carries no checksum; an answer about another name, or without a
            # size, was damaged in transit and is asked again (``_json`` retries a ValueError).
            if item["name"] != key:
                raise ValueError(f"the answer describes {item['name']!r}")
            return self._info(name, item)

        info: FileInfo = await self._json("GET", self._object_url(key), name, parse=parse)
        return info

    # -- deleting, copying -----------------------------------------------------------------------

    async def _delete(self, name: str) -> None:
        response = await self._request(
            "DELETE", self._object_url(self._key(name)), name, ok=(200, 204, 404)
        )
        response.release()

    async def _delete_many(self, names: list[str]) -> None:
        await asyncio.gather(*(self._delete(name) for name in names))  # the connector bounds it

    async def _copy(self, src: str, dst: str, *, overwrite: bool) -> None:
        await self._stat(src)
        if not overwrite and await self._exists(dst):
            # Real GCS refuses the rewrite below with 412 anyway; emulators may not.
            raise AlreadyExistsError(f"Cannot copy to {dst!r}: it already exists.")
        url = (
            f"{self._object_url(self._key(src))}/rewriteTo/b/"
            f"{quote(self.bucket, safe='')}/o/{quote(self._key(dst), safe='')}"
        )
        params = {} if overwrite else {"ifGenerationMatch": "0"}
        while True:  # large objects are rewritten in several calls, each returning a token
            result = await self._json(
                "POST",
                url,
                dst,
                params=params,
                data=b"{}",
                headers={"Content-Type": "application/json"},
                refused_means_damaged=True,  # "{}" is well formed when it leaves
            )
            if result.get("done", True):
                return
            params = {**params, "rewriteToken": str(result["rewriteToken"])}

    # -- listing ---------------------------------------------------------------------------------

    async def _scan(self, prefix: str, recursive: bool) -> AsyncIterator[FileInfo | str]:
        url = f"{self.api_root}/storage/v1/b/{quote(self.bucket, safe='')}/o"
        params = {"prefix": self._key(prefix), "maxResults": str(self.list_page_size)}
        if not recursive:
            params["delimiter"] = "/"
        while True:
            entries, token = await self._json(
                "GET", url, prefix or None, parse=self._page, params=params, bucket_level=True
            )
            for entry in entries:
                yield entry
            if not token:
                return
            params = {**params, "pageToken": token}

    def _page(self, page: Mapping[str, Any]) -> tuple[list[FileInfo | str], str | None]:
        """One listing page: its directories and files, and the token for the next."""
        entries: list[FileInfo | str] = []
        for directory in page.get("prefixes", []):
            cleaned = self._name(directory.rstrip("/"))
            if cleaned is not None:
                entries.append(cleaned + "/")
        for item in page.get("items", []):
            name = self._name(item["name"])
            if name is not None:
                entries.append(self._info(name, item))
        return entries, page.get("nextPageToken")

    # -- addresses -------------------------------------------------------------------------------

    def _url(self, name: str) -> str:
        key = self._key(name)
        if self.custom_domain:
            return f"{self.url_protocol}://{self.custom_domain}/{quote(key)}"
        return f"{self.api_root}/{quote(self.bucket)}/{quote(key)}"

    async def _signed_url(self, name: str, expires: int, method: str) -> str:
        if self._private_key is not None and self._key_info is not None:
            email, sign = str(self._key_info["client_email"]), local_signer(self._private_key)
        else:
            email, sign = str(self.signing_service_account), self._iam_signer()
        try:
            return await sign_url(
                api_root=self.api_root,
                bucket=self.bucket,
                key=self._key(name),
                method=method,
                expires=expires,
                client_email=email,
                sign=sign,
            )
        except ValueError as exc:
            raise ConfigurationError(str(exc)) from exc

    def _iam_signer(self) -> Any:
        from gcloud.aio.auth import IamClient

        client = IamClient(session=self._session, token=self._token)  # type: ignore[arg-type]

        async def sign(payload: bytes) -> bytes:
            with gcs_errors(self.bucket):
                result = await client.sign_blob(payload, self.signing_service_account)
            return base64.b64decode(result["signedBlob"])

        return sign


class _SessionLost(Exception):
    """The upload session holds bytes this upload did not send: nothing to resume."""


class _FinishedEarly(Exception):
    """The upload session finished, storing ``result``, before all chunks were sent."""

    def __init__(self, result: Mapping[str, Any]) -> None:
        super().__init__("finished early")
        self.result = result


def _hash_header(header: str, algorithm: str) -> str | None:
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == algorithm and value:
            return value
    return None
