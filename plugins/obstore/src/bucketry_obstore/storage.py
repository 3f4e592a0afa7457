"""``ObstoreStorage``: what the obstore backends share, an adapter of obstore to the engine.

obstore does the HTTP, signing and credentials in Rust (its own retries off, so a request is
never sent by both); the engine (:mod:`bucketry.objectstore`) keeps every promise above a
request. What is obstore's own here:

- obstore sends no Content-MD5, so what a store received is judged after the fact: from an
  ETag that is an MD5 (S3), or, where ETags are opaque (Azure), from the MD5 kept as metadata
  and, over plain HTTP (``verify_uploads``), from the bytes read back;
- obstore cuts large uploads into parts itself and offers no create mode for them, so a large
  upload goes to a hidden temp object, is checked, and is then copied into place
  (:meth:`_upload_stream`): a create looks before that copy, so a large create is
  check-then-write (:meth:`_place` says why);
- listings are obstore's streams, taken a page at a time from an offset.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import AsyncIterator, Mapping
from datetime import timedelta
from typing import Any, ClassVar

import obstore

from bucketry.backend import (
    RESERVED_PREFIX,
    AlreadyExistsError,
    Answer,
    BucketryError,
    BucketStorage,
    ConfigurationError,
    IntegrityError,
    Listed,
    NotFoundError,
    ObjectHead,
    Page,
    Part,
    PartDigests,
    PreconditionFailedError,
    Put,
    Stored,
    WholeCheck,
    WriteOptions,
    md5_etag_of,
    plain_etag,
)
from bucketry_obstore.errors import past_end, translate

__all__ = ["ObstoreStorage"]

MiB = 1024 * 1024
# Attributes obstore sends as headers; every other attribute is user metadata.
_HEADER_ATTRIBUTES = {
    "Content-Disposition",
    "Content-Encoding",
    "Content-Language",
    "Content-Type",
    "Cache-Control",
    "Storage-Class",
}


class ObstoreStorage(BucketStorage):
    """Files as objects in one bucket or container, through an obstore store.

    Subclasses build the store (:meth:`_make_store`) and say how user metadata is stored.
    """

    md5_attribute: ClassVar[str | None] = None
    """A metadata key under which the MD5 of a single-request upload is stored, for stores whose
    ETags are not MD5s (Azure): whole reads and lost-answer checks compare against it."""
    verify_uploads: bool = False
    """Read back each single-request upload whose ETag is not an MD5 and compare: over plain
    HTTP nothing else notices bytes damaged on the way (over TLS, its MAC does)."""
    min_part_size = 5 * MiB  # obstore's S3 parts; Azure's blocks take any size

    container: str
    cache_control: str | None
    connect_timeout: float
    read_timeout: float

    def _keep(
        self,
        *,
        container: str,
        cache_control: str | None,
        connect_timeout: float,
        read_timeout: float,
    ) -> None:
        """The options every obstore backend has besides the engine's."""
        self.container = container
        self.cache_control = cache_control
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
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
        try:
            self._store = self._make_store()
        except (TypeError, ValueError) as exc:
            raise ConfigurationError(
                f"Cannot configure the {self.backend_name} backend: {exc}"
            ) from None
        except Exception as exc:
            raise self._translate(exc, None) from exc

    async def _disconnect(self) -> None:
        self._store = None

    def _translate(self, exc: Exception, name: str | None) -> BucketryError:
        return translate(exc, self.service_name, self.container, name)

    # -- metadata and checksums ------------------------------------------------------------------

    def _encode_metadata(self, metadata: Mapping[str, str]) -> dict[str, str]:
        return dict(metadata)

    def _decode_metadata(self, stored: Mapping[str, str]) -> dict[str, str]:
        return dict(stored)

    def _attributes(self, put: Put) -> dict[str, str]:
        attributes = self._encode_metadata(put.metadata)
        attributes["Content-Type"] = put.content_type
        if self.cache_control is not None:
            attributes["Cache-Control"] = self.cache_control
        return attributes

    def _etags_are_md5(self) -> bool:
        """Whether an ETag of 32 hex digits is the MD5 of the bytes (not under S3's KMS)."""
        return True

    def _etag_sums(self, etag: object) -> dict[str, str]:
        return md5_etag_of(plain_etag(etag)) if self._etags_are_md5() else {}

    def _stored_md5(self, result: Any) -> str | None:
        """The MD5 the store holds for an object: its ETag where that is one, else ours."""
        md5 = self._etag_sums(result.meta.get("e_tag")).get("md5")
        if md5 is None and self.md5_attribute is not None:
            value = result.attributes.get(self.md5_attribute)
            if isinstance(value, str) and md5_etag_of(value).get("md5"):
                md5 = value
        return md5

    async def _received_md5(self, key: str, etag: str | None) -> str | None:
        """The MD5 of what the store holds as version ``etag``, read back; ``None`` when that
        version is gone (replaced or deleted meanwhile: not ours to judge)."""
        options: Any = {"if_match": etag} if etag else {}
        try:
            result = await obstore.get_async(self._store, key, options=options)
        except Exception as exc:
            if isinstance(translate(exc, "", "", None), (NotFoundError, PreconditionFailedError)):
                return None
            raise
        # A large upload's read-back: obstore's buffers hashed as they come, each MiB on a
        # worker thread while the next one arrives.
        check = WholeCheck("md5", "")
        async for chunk in result.stream(min_chunk_size=MiB):
            await check.absorb(chunk)
        return await check.value()

    # -- the hooks -------------------------------------------------------------------------------

    async def _put_object(self, put: Put, body: bytes, checksum: str) -> Stored:
        attributes = self._attributes(put)
        if self.md5_attribute is not None:
            attributes[self.md5_attribute] = checksum
        result = await obstore.put_async(
            self._store,
            put.key,
            body,
            attributes=attributes,
            mode="create" if put.if_absent else "overwrite",
            use_multipart=False,
        )
        etag = plain_etag(result.get("e_tag"))
        received = self._etag_sums(etag).get("md5")
        if received is None and self.verify_uploads:
            received = await self._received_md5(put.key, result.get("e_tag"))
        return Stored(tag=etag, checksum=received)

    async def _holds(self, put: Put, sent: str, parts: list[Part] | None) -> bool:
        """Whether ``put.key`` holds what was sent: after a lost answer, was the create ours?

        Where the ETag is no MD5, the MD5 kept as metadata says what was sent, not what
        arrived: the stored bytes are hashed too. A read damaged on the way is read again;
        bytes damaged on the way in stay damaged on every read, and are removed.
        """
        try:
            head = await self._call(self._name(put.key), lambda: self._head_object(put.key))
        except NotFoundError:
            return False
        if md5_etag_of(head.etag).get("md5") and self._etags_are_md5():
            return head.etag == sent
        if head.checksums.get("md5") != sent:
            return False  # another writer's object

        async def stored_intact() -> bool:
            received = await self._received_md5(put.key, head.etag)
            if received is not None and received != sent:
                raise IntegrityError(f"{self.service_name} holds damaged bytes for {put.key!r}.")
            return received is not None

        try:
            return await self._call(self._name(put.key), stored_intact)
        except IntegrityError:
            await self._remove_damaged(str(self._name(put.key)), put.key, head.etag)
            raise

    async def _upload_stream(
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
        put = self._put(name, options)
        directory, _, _ = name.rpartition("/")
        temp = self._key((f"{directory}/" if directory else "") + RESERVED_PREFIX)
        temp += secrets.token_hex(8)
        digest = PartDigests(self.part_size)

        async def hashed() -> AsyncIterator[bytes]:
            async for chunk in chunks:
                digest.update(chunk)
                yield chunk

        async def upload() -> Any:
            return await obstore.put_async(
                self._store,
                temp,
                hashed(),
                attributes=self._attributes(put),
                mode="overwrite",
                use_multipart=True,
                chunk_size=self.part_size,
                max_concurrency=self.max_concurrency,
            )

        try:
            result = await self._once(name, upload)  # the stream can be read only once
            etag = plain_etag(result.get("e_tag"))
            sums = self._etag_sums(etag)
            if "s3-multipart" in sums:
                intact = sums["s3-multipart"] == digest.multipart_etag()
            elif "md5" in sums:
                intact = sums["md5"] == digest.whole_md5()
            elif self.verify_uploads:
                received = await self._call(name, lambda: self._received_md5(temp, etag))
                intact = received == digest.whole_md5()
            else:
                intact = True  # nothing to compare with; over HTTPS, TLS refused damaged bytes
            if not intact:
                raise IntegrityError(
                    f"{self.service_name} received damaged parts of {name!r}; nothing was "
                    "replaced. Save it again."
                )
            await self._place(name, temp, put)
        finally:
            with contextlib.suppress(Exception):
                await self._call(None, lambda: self._delete_object(temp))

    async def _place(self, name: str, temp: str, put: Put) -> None:
        """Copy the checked temp object over ``name``; for a create, only after a look finds the
        name free (not race-free). A conditional copy would be atomic, but its answer lost and
        the copy sent again would meet its own copy as "already exists", and the core would
        store the content a second time under another name: an overwriting copy is the same
        whether sent once or twice."""
        if put.if_absent and await self._exists(name):
            raise AlreadyExistsError(f"{name!r} already exists.")
        await self._call(
            name, lambda: obstore.copy_async(self._store, temp, put.key, overwrite=True)
        )

    async def _get_object(
        self, key: str, start: int, end: int | None, if_match: str | None, chunk_size: int
    ) -> Answer | None:
        options: Any = {}
        if start or end is not None:
            options["range"] = {"offset": start} if end is None else (start, end)
        if if_match:
            options["if_match"] = if_match
        try:
            result = await obstore.get_async(self._store, key, options=options)
        except Exception as exc:
            if past_end(exc):
                return None
            raise
        md5 = self._stored_md5(result)
        sums = {"md5": md5} if md5 is not None else {}
        return Answer(_body(result, chunk_size), plain_etag(result.meta.get("e_tag")), sums)

    async def _head_object(self, key: str) -> ObjectHead:
        result = await obstore.get_async(self._store, key, options={"head": True})
        meta, attributes = result.meta, result.attributes
        md5 = self._stored_md5(result)
        return ObjectHead(
            size=int(meta["size"]),
            etag=plain_etag(meta.get("e_tag")),
            content_type=attributes.get("Content-Type"),
            last_modified=meta.get("last_modified"),
            metadata=self._decode_metadata(
                {k: v for k, v in attributes.items() if k not in _HEADER_ATTRIBUTES}
            ),
            checksums={"md5": md5} if md5 is not None else {},
        )

    async def _delete_object(self, key: str, if_match: str | None = None) -> None:
        if if_match is not None:  # only if it is still that version: obstore deletes blindly
            head = await self._head_object(key)
            if head.etag != if_match:
                return
        try:
            await obstore.delete_async(self._store, key)
        except FileNotFoundError:
            return  # Azure answers 404 for a missing blob: already gone

    async def _delete_objects(self, keys: list[str]) -> None:
        try:
            await obstore.delete_async(self._store, keys)
        except FileNotFoundError:
            for key in keys:  # one was gone already: delete the rest one by one
                await self._delete_object(key)

    async def _copy_object(self, src: str, dst: str, *, if_absent: bool, size: int) -> None:
        await self._call(
            self._name(dst),
            lambda: obstore.copy_async(self._store, src, dst, overwrite=not if_absent),
        )

    async def _list_pages(self, prefix: str, delimiter: bool) -> AsyncIterator[Page]:
        """obstore lists as a stream (and on Azure takes no offset to resume one from): a level
        is one answer, a recursive listing one stream, its pages translated as they come."""
        if delimiter:
            path = prefix.rstrip("/") or None
            level = await self._call(
                prefix or None, lambda: obstore.list_with_delimiter_async(self._store, path)
            )
            yield Page([_listed(meta) for meta in level["objects"]], list(level["common_prefixes"]))
            return
        stream = obstore.list(self._store, prefix or None, chunk_size=self.list_page_size)
        while True:
            try:
                page = await self._once(prefix or None, lambda: anext(stream))
            except StopAsyncIteration:
                return
            yield Page([_listed(meta) for meta in page if str(meta["path"]).startswith(prefix)])

    def _public_base(self) -> str:
        raise NotImplementedError

    def _public_url(self, key: str) -> str:
        """The object's plain address: public only if the bucket or a CDN in front of it is."""
        from urllib.parse import quote

        return f"{self._public_base()}/{quote(key)}"

    async def _sign(self, key: str, method: str, expires: int) -> str:
        sign: Any = obstore.sign_async  # ``method`` is one of the four the core allows
        url: str = await sign(self._store, method, key, timedelta(seconds=expires))
        return url


async def _body(result: Any, chunk_size: int) -> AsyncIterator[bytes]:
    """The body in chunks of at most ``chunk_size`` bytes."""
    start, end = result.range
    if end - start <= chunk_size:
        data = bytes(await result.bytes_async())  # one chunk: one call into obstore, not two
        if data:
            yield data
        return
    async for chunk in result.stream(min_chunk_size=min(chunk_size, 8 * MiB)):
        if len(chunk) <= chunk_size:
            yield bytes(chunk)
            continue
        view = memoryview(chunk)
        for offset in range(0, len(view), chunk_size):
            yield bytes(view[offset : offset + chunk_size])


def _listed(meta: Mapping[str, Any]) -> Listed:
    return Listed(
        str(meta["path"]),
        int(meta["size"]),
        plain_etag(meta.get("e_tag")),
        meta.get("last_modified"),
    )
