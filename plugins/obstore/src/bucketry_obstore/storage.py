"""``ObstoreStorage``: what the three obstore backends share, one request at a time.

obstore does the HTTP, signing and credentials in Rust; bucketry keeps everything it promises
above that: the name rule, the retry policy (obstore's own retries are off, so a request is never
sent by both), errors translated at one boundary, own writes recognised after a lost answer,
whole reads checked against the object's MD5 where the store reports one, and broken whole reads
resumed from the next byte of the same version.

Uploads up to ``multipart_threshold`` go in one request in obstore's create mode when the name
must be free, so the store itself refuses a taken name; larger ones stream through obstore's
multipart writer, at most ``max_concurrency`` parts of ``part_size`` in flight. obstore offers no
create mode for a multipart upload, so a large ``save(overwrite=False)`` looks before it writes
(:meth:`ObjectStoreStorage._claim_name`): race-free up to the threshold, check-then-write above it.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import mimetypes
import re
import secrets
from collections.abc import AsyncIterator, Mapping
from datetime import timedelta
from typing import Any, ClassVar
from urllib.parse import quote

import obstore
from obstore.exceptions import PreconditionError

from bucketry import (
    AlreadyExistsError,
    ConfigurationError,
    FileInfo,
    IntegrityError,
    NotFoundError,
    ReadVersion,
    RetryPolicy,
    WriteOptions,
)
from bucketry.content import read_ahead
from bucketry.names import RESERVED_PREFIX
from bucketry.objectstore import ObjectStoreStorage, key_prefix, name_for_key
from bucketry_obstore.errors import obstore_errors, status_of

__all__ = ["ObstoreStorage"]

MiB = 1024 * 1024
_MD5 = re.compile(r"[0-9a-f]{32}")
_MULTIPART_MD5 = re.compile(r"[0-9a-f]{32}-[0-9]+")
# Attributes obstore sends as headers; every other attribute is user metadata.
_HEADER_ATTRIBUTES = {
    "Content-Disposition",
    "Content-Encoding",
    "Content-Language",
    "Content-Type",
    "Cache-Control",
    "Storage-Class",
}


class ObstoreStorage(ObjectStoreStorage):
    """Files as objects in one bucket or container, through an obstore store.

    Subclasses build the store (:meth:`_make_store`) and say how user metadata is stored.
    """

    store_name: ClassVar[str] = "object store"
    """How messages name the service: ``"S3"``, ``"GCS"``, ``"Azure"``."""
    resumes_whole_reads = True
    md5_attribute: ClassVar[str | None] = None
    """A metadata key under which the MD5 of a single-request upload is stored, for stores whose
    ETags are not MD5s (Azure): whole reads and lost-answer checks compare against it."""
    verify_uploads: bool = False
    """Read back each single-request upload whose ETag is not an MD5 and compare: over plain
    HTTP nothing else notices bytes damaged on the way (over TLS, its MAC does)."""
    copies_conditionally: ClassVar[bool] = True
    """Whether the store copies to a free name atomically, keeping type and metadata."""

    def _setup(
        self,
        *,
        container: str,
        prefix: str,
        cache_control: str | None,
        multipart_threshold: int,
        part_size: int,
        max_concurrency: int,
        list_page_size: int,
        max_attempts: int,
        retry_deadline: float,
        connect_timeout: float,
        read_timeout: float,
        querystring_expire: int,
        custom_domain: str | None,
    ) -> None:
        """The options every obstore backend has, checked and kept."""
        if part_size < 5 * MiB or multipart_threshold < 1:
            raise ConfigurationError(
                "part_size must be at least 5 MiB (S3's smallest multipart part) and "
                "multipart_threshold at least 1 byte."
            )
        if max_concurrency < 1 or list_page_size < 1:
            raise ConfigurationError("max_concurrency and list_page_size must be at least 1.")
        self.container = container
        self.prefix = key_prefix(prefix)
        self.cache_control = cache_control
        self.multipart_threshold = multipart_threshold
        self.part_size = part_size
        self.max_concurrency = max_concurrency
        self.list_page_size = list_page_size
        self.max_attempts = max_attempts
        self.retry_deadline = retry_deadline
        self.retry = RetryPolicy(attempts=max_attempts, deadline=retry_deadline)
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.querystring_expire = querystring_expire
        self.custom_domain = custom_domain
        self._store: Any = None

    # -- the store -------------------------------------------------------------------------------

    def _make_store(self) -> Any:
        raise NotImplementedError

    def _client_options(self, endpoint: str | None) -> Any:
        options: dict[str, Any] = {
            "connect_timeout": timedelta(seconds=self.connect_timeout),
            "timeout": timedelta(seconds=self.read_timeout),
        }
        if endpoint is not None and endpoint.startswith("http://"):
            options["allow_http"] = True
        return options

    # bucketry's RetryPolicy retries; obstore's own retries would multiply with it.
    _NO_RETRIES: ClassVar[Any] = {
        "max_retries": 0,
        "retry_timeout": timedelta(seconds=0),
    }

    async def _connect(self) -> None:
        # Building a store opens no connection; a bad option is reported here, translated.
        with obstore_errors(self.store_name, self.container):
            try:
                self._store = self._make_store()
            except (TypeError, ValueError) as exc:
                raise ConfigurationError(
                    f"Cannot configure the {self.backend_name} backend: {exc}"
                ) from None

    async def _disconnect(self) -> None:
        self._store = None

    # -- keys and metadata -----------------------------------------------------------------------

    def _key(self, name: str) -> str:
        return self.prefix + name

    def _name(self, key: str) -> str | None:
        return name_for_key(key, self.prefix)

    def _encode_metadata(self, metadata: Mapping[str, str]) -> dict[str, str]:
        return dict(metadata)

    def _decode_metadata(self, stored: Mapping[str, str]) -> dict[str, str]:
        return dict(stored)

    def _attributes(self, name: str, options: WriteOptions) -> dict[str, str]:
        attributes = self._encode_metadata(options.metadata)
        attributes["Content-Type"] = options.content_type or _guess_type(name)
        if self.cache_control is not None:
            attributes["Cache-Control"] = self.cache_control
        return attributes

    def _etags_are_md5(self) -> bool:
        """Whether an ETag of 32 hex digits is the MD5 of the bytes (not under S3's KMS)."""
        return True

    def _md5_etag(self, etag: object) -> str | None:
        """``etag`` unquoted if it is the MD5 of the object's bytes, else ``None``."""
        plain = _plain_etag(etag)
        if plain is not None and _MD5.fullmatch(plain) and self._etags_are_md5():
            return plain
        return None

    def _errors(self, name: str | None = None) -> Any:
        return obstore_errors(self.store_name, self.container, name)

    # -- writing ---------------------------------------------------------------------------------

    async def _write(self, name: str, chunks: AsyncIterator[bytes], options: WriteOptions) -> str:
        content = await read_ahead(chunks, self.multipart_threshold)
        if isinstance(content, bytes):
            return await self._create_retargeting(
                name, options, lambda candidate: self._put(candidate, content, options)
            )
        name = await self._claim_name(name, options)
        await self._put_multipart(name, content, options)
        return name

    async def _put(self, name: str, data: bytes, options: WriteOptions) -> None:
        sent_md5 = hashlib.md5(data, usedforsecurity=False).hexdigest()
        attributes = self._attributes(name, options)
        if self.md5_attribute is not None:
            attributes[self.md5_attribute] = sent_md5
        mode: Any = "overwrite" if options.overwrite else "create"

        async def attempt() -> None:
            with self._errors(name):
                result = await obstore.put_async(
                    self._store,
                    self._key(name),
                    data,
                    attributes=attributes,
                    mode=mode,
                    use_multipart=False,
                )
            etag = self._md5_etag(result.get("e_tag"))
            if etag is not None:
                received: str | None = etag
            elif self.verify_uploads:
                received = await self._received_md5(name, result.get("e_tag"))
            else:
                return
            if received == sent_md5:
                return
            if not options.overwrite:
                # A new name: what the damaged request created is removed, and sent again.
                stored = _plain_etag(result.get("e_tag"))
                if stored is not None:
                    await self._remove_if(name, stored)
                raise IntegrityError(
                    f"{self.store_name} received different bytes for {name!r} than were sent."
                )
            # The store committed the damaged bytes over the previous version; deleting would
            # lose both. Sending it again (the policy does) replaces the damage.
            raise IntegrityError(
                f"{self.store_name} stored damaged bytes for {name!r} in place of the previous "
                "version, which the store replaced on accepting the request and which cannot be "
                "restored here (obstore sends no Content-MD5 for the store to check); save it "
                "again."
            )

        if options.overwrite:
            await self._retrying(attempt)
        else:
            await self._create_recognising_own_write(attempt, lambda: self._holds(name, data))

    async def _holds(self, name: str, data: bytes) -> bool:
        """Whether ``name`` holds exactly ``data``: after a lost answer, was the create ours?"""
        sent_md5 = hashlib.md5(data, usedforsecurity=False).hexdigest()
        try:
            result = await self._retrying(lambda: self._get(name, {"head": True}))
        except NotFoundError:
            return False
        if int(result.meta["size"]) != len(data):
            return False
        etag = result.meta.get("e_tag")
        md5_etag = self._md5_etag(etag)
        if md5_etag is not None:
            return md5_etag == sent_md5
        if self.md5_attribute is None or result.attributes.get(self.md5_attribute) != sent_md5:
            return False  # another writer's object

        # Our MD5 says what was sent, not what arrived: hash what is stored. A read damaged on
        # the way is read again; bytes damaged on the way in stay damaged on every read.
        async def stored_intact() -> bool:
            received = await self._received_md5(name, etag)
            if received is not None and received != sent_md5:
                raise IntegrityError(f"{self.store_name} holds damaged bytes for {name!r}.")
            return received is not None

        try:
            return await self._retrying(stored_intact, retry_integrity=True)
        except IntegrityError:
            await self._remove_if(name, _plain_etag(etag) or "")
            raise

    async def _received_md5(self, name: str, etag: str | None) -> str | None:
        """The MD5 of what the store holds as version ``etag``, read back."""
        options: Any = {"if_match": etag} if etag else {}
        try:
            result = await self._get(name, options)
            # A large upload's read-back: obstore's buffers hashed as they come, not copied
            # into bytes first, each MiB on a worker thread while the next one arrives.
            digest = _OverlappedMD5()
            with self._errors(name):
                async for chunk in result.stream(min_chunk_size=MiB):
                    await digest.update(chunk)
            return await digest.hexdigest()
        except (NotFoundError, AlreadyExistsError):
            return None  # replaced or deleted meanwhile: not ours to judge

    def _stored_md5(self, result: Any) -> str | None:
        """The MD5 the store holds for an object: its ETag where that is one, else ours."""
        etag = self._md5_etag(result.meta.get("e_tag"))
        if etag is not None:
            return etag
        if self.md5_attribute is not None:
            value = result.attributes.get(self.md5_attribute)
            if isinstance(value, str) and _MD5.fullmatch(value):
                return value
        return None

    async def _remove_if(self, name: str, etag: str) -> None:
        """Delete what a damaged create stored, only if it is still that object."""
        try:
            info = await self._stat(name)
            if info.etag == etag:
                await self._delete(name)
        except Exception:  # best effort: the IntegrityError that follows is what matters
            return

    async def _put_multipart(
        self, name: str, chunks: AsyncIterator[bytes], options: WriteOptions
    ) -> None:
        """Upload to a hidden temp object, check it, then copy it into place inside the store.

        obstore sends no Content-MD5 with a part, and a part damaged on the way is committed
        with the rest: written straight to ``name``, an overwrite would lose the previous version
        to damaged bytes. So the upload goes to ``.bucketry-tmp-…`` beside it (a name no listing
        shows and no caller can use), is checked (S3: its ETag against the MD5s of the parts as
        sent; Azure over plain HTTP: read back), and only then copied over ``name``. A failed
        or cancelled upload is aborted by obstore; the temp object is always deleted.
        """
        directory, _, _ = name.rpartition("/")
        temp = f"{directory}/" if directory else ""
        temp += f"{RESERVED_PREFIX}{secrets.token_hex(8)}"
        digest = _PartDigest(self.part_size)

        async def hashed() -> AsyncIterator[bytes]:
            async for chunk in chunks:
                digest.update(chunk)
                yield chunk

        try:
            with self._errors(name):
                result = await obstore.put_async(
                    self._store,
                    self._key(temp),
                    hashed(),
                    attributes=self._attributes(name, options),
                    mode="overwrite",
                    use_multipart=True,
                    chunk_size=self.part_size,
                    max_concurrency=self.max_concurrency,
                )
            etag = _plain_etag(result.get("e_tag")) if self._etags_are_md5() else None
            if etag is not None and _MULTIPART_MD5.fullmatch(etag):
                intact = etag == digest.multipart_etag()
            elif etag is not None and _MD5.fullmatch(etag):
                intact = etag == digest.whole_md5()
            elif self.verify_uploads:
                intact = await self._received_md5(temp, result.get("e_tag")) == digest.whole_md5()
            else:
                intact = True  # nothing to compare with; over HTTPS, TLS refused damaged bytes
            if not intact:
                raise IntegrityError(
                    f"{self.store_name} received damaged parts of {name!r}; nothing was replaced. "
                    "Save it again."
                )

            async def copy() -> None:
                with self._errors(name):
                    await obstore.copy_async(
                        self._store, self._key(temp), self._key(name), overwrite=True
                    )

            await self._retrying(copy)
        finally:
            with contextlib.suppress(Exception):
                await self._retrying(lambda: self._delete(temp))

    # -- reading ---------------------------------------------------------------------------------

    async def _get(self, name: str, options: Any) -> Any:
        with self._errors(name):
            return await obstore.get_async(self._store, self._key(name), options=options)

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
        result = await self._ranged(name, start, end, version)
        if result is None:
            return
        async for chunk in self._body(name, result, chunk_size):
            yield chunk

    async def _ranged(
        self, name: str, start: int, end: int | None, version: ReadVersion | None
    ) -> Any:
        """One ranged GET of the pinned version; ``None`` when ``start`` is at or past the end
        of an existing file."""
        options: dict[str, Any] = {"range": {"offset": start} if end is None else (start, end)}
        if version is not None and version.tag:
            options["if_match"] = version.tag
        try:
            # Not under the policy here: the core resumes a broken range read (_resuming).
            result = await self._get(name, options)
        except AlreadyExistsError as exc:
            if version is not None and (
                isinstance(exc.__cause__, PreconditionError) or status_of(exc) == 412
            ):
                raise version.replaced() from None
            raise
        except Exception as exc:
            if _past_end(exc):
                await self._stat(name)  # start is past the end: nothing to read
                return None
            raise
        if version is not None:
            version.pin(result.meta.get("e_tag"))
        return result

    async def _whole(self, name: str, chunk_size: int) -> AsyncIterator[bytes]:
        """A whole read, resumed after a break from the next byte of the same version (its ETag
        is a precondition of every resume), and checked over every byte against the object's MD5
        where its ETag is one."""
        first: dict[str, Any] = {}

        async def read_from(position: int) -> AsyncIterator[bytes]:
            if not first:
                result = await self._get(name, {})  # a failure is resumed below, under the policy
                first["etag"] = result.meta.get("e_tag")
                first["md5"] = self._stored_md5(result)
                first["hash"] = _OverlappedMD5()
            else:
                options: dict[str, Any] = {"range": {"offset": position}}
                if first["etag"]:
                    options["if_match"] = first["etag"]
                try:
                    result = await self._get(name, options)
                except AlreadyExistsError as exc:
                    if isinstance(exc.__cause__, PreconditionError) or status_of(exc) == 412:
                        raise IntegrityError(
                            f"{name!r} was replaced in {self.store_name} while it was being "
                            "read; read it again."
                        ) from None
                    raise
                except Exception as exc:
                    if _past_end(exc):
                        return  # the break came after the last byte
                    raise
            async for chunk in self._body(name, result, chunk_size):
                if first["md5"] is not None:
                    await first["hash"].update(chunk)
                yield chunk

        async for chunk in self._resuming(read_from):
            yield chunk
        if first.get("md5") is not None and await first["hash"].hexdigest() != first["md5"]:
            raise IntegrityError(
                f"The bytes of {name!r} read from {self.store_name} do not match its MD5."
            )

    async def _body(self, name: str, result: Any, chunk_size: int) -> AsyncIterator[bytes]:
        """The body in chunks of at most ``chunk_size`` bytes."""
        start, end = result.range
        if end - start <= chunk_size:
            # One chunk: one call into obstore, not a stream's two.
            with self._errors(name):
                data = bytes(await result.bytes_async())
            if data:
                yield data
            return
        stream = result.stream(min_chunk_size=min(chunk_size, 8 * MiB))
        while True:
            with self._errors(name):
                try:
                    chunk = await anext(stream)
                except StopAsyncIteration:
                    return
            if len(chunk) <= chunk_size:
                yield bytes(chunk)
                continue
            view = memoryview(chunk)
            for offset in range(0, len(view), chunk_size):
                yield bytes(view[offset : offset + chunk_size])

    async def _stat(self, name: str) -> FileInfo:
        result = await self._retrying(lambda: self._get(name, {"head": True}))
        meta, attributes = result.meta, result.attributes
        return FileInfo(
            name=name,
            size=int(meta["size"]),
            etag=_plain_etag(meta.get("e_tag")),
            content_type=attributes.get("Content-Type"),
            last_modified=meta.get("last_modified"),
            metadata=self._decode_metadata(
                {k: v for k, v in attributes.items() if k not in _HEADER_ATTRIBUTES}
            ),
        )

    # -- deleting, copying -----------------------------------------------------------------------

    async def _delete(self, name: str) -> None:
        async def attempt() -> None:
            with self._errors(name):
                try:
                    await obstore.delete_async(self._store, self._key(name))
                except FileNotFoundError:
                    return  # Azure answers 404 for a missing blob: already gone

        await self._retrying(attempt)

    async def _delete_many(self, names: list[str]) -> None:
        keys = [self._key(name) for name in names]

        async def attempt() -> None:
            with self._errors():
                try:
                    await obstore.delete_async(self._store, keys)
                except FileNotFoundError:
                    for key in keys:  # one was gone already: delete the rest one by one
                        name = self._name(key)
                        if name is not None:
                            await self._delete(name)

        await self._retrying(attempt)

    async def _copy(self, src: str, dst: str, *, overwrite: bool) -> None:
        await self._stat(src)  # a missing source is NotFoundError, whatever the store answers
        if not overwrite and not self.copies_conditionally and await self._exists(dst):
            raise AlreadyExistsError(f"Cannot copy to {dst!r}: it already exists.")
        conditional = not overwrite and self.copies_conditionally

        async def attempt() -> None:
            with self._errors(dst):
                await obstore.copy_async(
                    self._store, self._key(src), self._key(dst), overwrite=not conditional
                )

        await self._retrying(attempt)

    # -- listing ---------------------------------------------------------------------------------

    async def _scan(self, prefix: str, recursive: bool) -> AsyncIterator[FileInfo | str]:
        key = self._key(prefix)
        if not recursive:
            # One request per page is obstore's; the whole level is read under one retry.
            result = await self._retrying(lambda: self._list_level(key))
            for common in result["common_prefixes"]:
                directory = self._name(common.rstrip("/"))
                if directory is not None:
                    yield directory + "/"
            for meta in result["objects"]:
                info = self._listed(meta)
                if info is not None:
                    yield info
            return
        stream = obstore.list(self._store, key or None, chunk_size=self.list_page_size)
        while True:
            with self._errors(prefix or None):
                try:
                    page = await anext(stream)
                except StopAsyncIteration:
                    return
            for meta in page:
                info = self._listed(meta)
                if info is not None and info.name.startswith(prefix):
                    yield info

    async def _list_level(self, key: str) -> Any:
        with self._errors(key or None):
            return await obstore.list_with_delimiter_async(self._store, key.rstrip("/") or None)

    def _listed(self, meta: Mapping[str, Any]) -> FileInfo | None:
        name = self._name(str(meta["path"]))
        if name is None:
            return None
        return FileInfo(
            name=name,
            size=int(meta["size"]),
            etag=_plain_etag(meta.get("e_tag")),
            last_modified=meta.get("last_modified"),
        )

    # -- addresses -------------------------------------------------------------------------------

    def _url(self, name: str) -> str:
        """The object's plain address: public only if the bucket or a CDN in front of it is."""
        if self.custom_domain:
            return f"https://{self.custom_domain.rstrip('/')}/{quote(self._key(name))}"
        return f"{self._public_base()}/{quote(self._key(name))}"

    def _public_base(self) -> str:
        raise NotImplementedError

    async def _signed_url(self, name: str, expires: int, method: str) -> str:
        with self._errors(name):
            sign: Any = obstore.sign_async  # ``method`` is one of the four the core allows
            url: str = await sign(self._store, method, self._key(name), timedelta(seconds=expires))
        return url


def _plain_etag(etag: object) -> str | None:
    text = str(etag or "").strip('"')
    return text or None


def _past_end(exc: BaseException) -> bool:
    """Whether a ranged GET failed because its start is at or past the end: the store's 416, or
    obstore's own check of the range it was answered."""
    cause = exc.__cause__ or exc
    if status_of(cause) == 416:
        return True
    text = str(cause)
    return "Range" in text and ("not satisfiable" in text or "out of bounds" in text)


def _guess_type(name: str) -> str:
    return mimetypes.guess_type(name)[0] or "application/octet-stream"


class _PartDigest:
    """The MD5 of each ``part_size`` piece of a stream as obstore cuts it into parts, and of the
    whole: S3's ETag of a multipart object is the MD5 of the parts' MD5s, then ``-N``."""

    def __init__(self, part_size: int) -> None:
        self._part_size = part_size
        self._parts: list[bytes] = []
        self._part = hashlib.md5(usedforsecurity=False)
        self._filled = 0
        self._whole = hashlib.md5(usedforsecurity=False)

    def update(self, chunk: bytes) -> None:
        self._whole.update(chunk)
        view = memoryview(chunk)
        while view:
            room = self._part_size - self._filled
            piece, view = view[:room], view[room:]
            self._part.update(piece)
            self._filled += len(piece)
            if self._filled == self._part_size:
                self._parts.append(self._part.digest())
                self._part, self._filled = hashlib.md5(usedforsecurity=False), 0

    def multipart_etag(self) -> str:
        parts = self._parts + ([self._part.digest()] if self._filled else [])
        combined = hashlib.md5(b"".join(parts), usedforsecurity=False).hexdigest()
        return f"{combined}-{len(parts)}"

    def whole_md5(self) -> str:
        return self._whole.hexdigest()


class _OverlappedMD5:
    """The MD5 of a read, a large chunk hashed on a worker thread while the next one arrives.

    hashlib lets go of the GIL on large buffers, so with two cores checking costs little time:
    hashed inline, a 512 MiB read from moto ran at 315 MB/s against obstore's 614 unchecked.
    Chunks are hashed in order (each waits for the one before); small ones inline, where a
    thread hop would cost more than the hash.
    """

    def __init__(self) -> None:
        self._hash = hashlib.md5(usedforsecurity=False)
        self._pending: asyncio.Future[None] | None = None

    async def update(self, chunk: bytes | obstore.Bytes) -> None:
        if self._pending is not None:
            await self._pending
            self._pending = None
        if len(chunk) < _OVERLAP_FROM:
            self._hash.update(chunk)
        else:
            loop = asyncio.get_running_loop()
            self._pending = loop.run_in_executor(None, self._hash.update, chunk)

    async def hexdigest(self) -> str:
        if self._pending is not None:
            await self._pending
            self._pending = None
        return self._hash.hexdigest()


_OVERLAP_FROM = MiB
