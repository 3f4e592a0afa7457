"""``BucketStorage``: the object-store engine every cloud backend is an adapter of.

The engine keeps every promise the contract makes of an object store, once:

- **uploads**: content up to ``multipart_threshold`` in one request, larger content as parts of
  ``part_size`` (``max_concurrency`` in flight, from reused buffers), aborted on any failure;
  ``overwrite=False`` as the service's own create-if-absent; a taken name retargeted while the
  content is in hand, or moved off before a long upload (:meth:`_claim_name`);
- **own writes**: a create whose answer was lost, sent again by the policy, finds the name
  taken; the engine then asks whether what is stored is what it sent (:meth:`_holds`), and if
  so the create succeeded;
- **damage**: what the service says it received is compared with what was sent; a damaged
  create is removed (that version only) and sent again; a damaged overwrite that the service
  committed is never deleted (that would lose the previous version too) and is sent again,
  with an error that says so if the policy runs out;
- **reads**: ranges and whole reads in one ``_stream``; the version of the first answer pins
  every resume, and a whole read's checksum is armed for the core to check;
- **one boundary**: every request runs through :meth:`_call`, which applies the retry policy
  and translates the SDK's exceptions with the adapter's :meth:`_translate`; a body is
  translated as it is read (:meth:`_body`). A failed precondition is a
  :class:`~bucketry.errors.PreconditionFailedError` there, and the engine says what it means
  where it sent the precondition.

An adapter implements the hooks below, each one request in its SDK's terms, and nothing else.
The in-memory adapter (:mod:`bucketry.objectstore.memory`) is the smallest complete one.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import functools
import mimetypes
import warnings
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Mapping
from typing import Any, ClassVar, Self, TypeVar
from urllib.parse import quote

from bucketry.checksums import computable, running, s3_multipart_etag
from bucketry.content import read_ahead
from bucketry.errors import (
    AlreadyExistsError,
    BucketryError,
    ConfigurationError,
    IntegrityError,
    NotFoundError,
    PreconditionFailedError,
)
from bucketry.info import FileInfo
from bucketry.objectstore.keys import key_prefix, name_for_key
from bucketry.objectstore.wire import Answer, Listed, ObjectHead, Page, Part, Put, Stored
from bucketry.parts import upload_parts
from bucketry.retry import RetryPolicy
from bucketry.storage import ReadVersion, Storage, WriteOptions

__all__ = ["BucketStorage", "md5_etag_of", "plain_etag"]

T = TypeVar("T")
MiB = 1024 * 1024

_RENAMED = {
    "max_single_put_size": "multipart_threshold",
    "chunk_size": "part_size",
    "block_size": "part_size",
    "expiration_secs": "querystring_expire",
}
"""Options one backend spelled its own way, and the one name every backend now takes."""


class BucketStorage(Storage):
    """A :class:`Storage` kept as objects in a bucket or container, under a key prefix.

    Adapters call :meth:`_setup` from their constructor with the options every object store
    has, implement the abstract hooks, and may override the optional ones.
    """

    bucket_option: ClassVar[str] = "bucket"
    """The constructor option a URL's host names: ``s3://<bucket>/<prefix>``."""
    service_name: ClassVar[str] = "the object store"
    """How messages name the service: ``"S3"``, ``"GCS"``, ``"Azure"``."""
    upload_checksum: ClassVar[str] = "md5"
    """The checksum the engine computes over what it sends (:mod:`bucketry.checksums`) and
    compares with what the service says it received: ``"md5"`` (S3, Azure), ``"crc32c"``
    (GCS)."""
    min_part_size: ClassVar[int] = 1
    """The service's smallest part but the last (S3's is 5 MiB)."""
    conditional_copy: ClassVar[bool] = True
    """Whether ``_copy_object(if_absent=True)`` is atomic; otherwise a copy looks first."""

    prefix: str
    multipart_threshold: int
    part_size: int
    max_concurrency: int
    list_page_size: int
    custom_domain: str | None
    url_protocol: str
    querystring_expire: int

    def _setup(
        self,
        *,
        prefix: str,
        multipart_threshold: int,
        part_size: int,
        max_concurrency: int,
        list_page_size: int,
        max_attempts: int,
        retry_deadline: float,
        custom_domain: str | None = None,
        url_protocol: str = "https",
        querystring_expire: int = 3600,
    ) -> None:
        """Check and keep the options every object store has; build the retry policy."""
        if part_size < self.min_part_size or multipart_threshold < 1:
            raise ConfigurationError(
                f"part_size must be at least {self.min_part_size} bytes ({self.service_name}'s "
                "smallest part) and multipart_threshold at least 1 byte."
            )
        if max_concurrency < 1 or list_page_size < 1:
            raise ConfigurationError("max_concurrency and list_page_size must be at least 1.")
        if max_attempts < 1:
            raise ConfigurationError("max_attempts must be at least 1.")
        self.prefix = key_prefix(prefix)
        self.multipart_threshold = multipart_threshold
        self.part_size = part_size
        self.max_concurrency = max_concurrency
        self.list_page_size = list_page_size
        self.retry = RetryPolicy(attempts=max_attempts, deadline=retry_deadline)
        self.custom_domain = custom_domain
        self.url_protocol = url_protocol
        self.querystring_expire = querystring_expire

    @property
    def max_attempts(self) -> int:
        """The retry policy's attempts: one setting, whether given here or as ``retry``."""
        return self.retry.attempts

    @property
    def retry_deadline(self) -> float | None:
        return self.retry.deadline

    @staticmethod
    def _renamed(old: Mapping[str, Any]) -> dict[str, Any]:
        """Options given under an old name, under the one name, with a deprecation warning."""
        renamed: dict[str, Any] = {}
        for key, value in old.items():
            if value is None:
                continue
            warnings.warn(
                f"The {key!r} option is now {_RENAMED[key]!r}, the same name on every backend; "
                f"{key!r} will be removed in the next release.",
                DeprecationWarning,
                stacklevel=3,
            )
            renamed[_RENAMED[key]] = value
        return renamed

    @classmethod
    def from_url(cls, url: str) -> Self:
        """``scheme://<bucket>/<prefix>?option=value``."""
        return cls._from_bucket_url(url, cls.bucket_option)

    # -- the hooks an adapter implements ---------------------------------------------------------

    @abc.abstractmethod
    def _translate(self, exc: Exception, name: str | None) -> BucketryError:
        """The bucketry error for an exception of the SDK (one table, in the adapter's errors
        module). A failed precondition must be :class:`PreconditionFailedError`."""

    @abc.abstractmethod
    async def _put_object(self, put: Put, body: bytes, checksum: str) -> Stored:
        """Store ``body`` in one request. ``checksum`` is its ``upload_checksum``: send it for
        the service to check before it commits, where the service takes one."""

    @abc.abstractmethod
    async def _get_object(
        self, key: str, start: int, end: int | None, if_match: str | None, chunk_size: int
    ) -> Answer | None:
        """Open a read of bytes ``start`` to ``end`` (``None``: to the end) of version
        ``if_match`` (any, if ``None``); ``None`` when ``start`` is at or past the end."""

    @abc.abstractmethod
    async def _head_object(self, key: str) -> ObjectHead:
        """The object's properties, or the SDK's "not found"."""

    @abc.abstractmethod
    async def _delete_object(self, key: str, if_match: str | None = None) -> None:
        """Delete the object (of version ``if_match`` only, if given); a missing one is fine."""

    async def _list_page(self, prefix: str, delimiter: bool, token: str | None) -> Page:
        """One page of keys under ``prefix`` from ``token`` (``None``: the first); with
        ``delimiter``, one level, with its common prefixes. Required, unless the adapter's
        SDK lists as a stream and it overrides :meth:`_list_pages` instead."""
        raise NotImplementedError(f"{type(self).__name__} must implement _list_page().")

    async def _list_pages(self, prefix: str, delimiter: bool) -> AsyncIterator[Page]:
        """Every page of keys under ``prefix``: one :meth:`_list_page` request per page, each
        under the policy, each from the token of the one before."""
        token = None
        while True:
            page = await self._call(
                prefix or None, functools.partial(self._list_page, prefix, delimiter, token)
            )
            yield page
            token = page.token
            if not token:
                return

    # Multipart uploads: S3's parts, Azure's blocks. An adapter whose service cuts parts itself
    # overrides :meth:`_upload_stream` instead.

    async def _start_upload(self, put: Put) -> str:
        """Open a multipart upload; return its id."""
        raise NotImplementedError(f"{type(self).__name__} must implement _start_upload().")

    async def _put_part(self, put: Put, upload: str, number: int, body: memoryview) -> Part:
        """Send part ``number`` (from 1); ``body`` is a view of a buffer reused once this
        returns. A service that reports a part's MD5 has it checked here (raise
        :class:`IntegrityError` for a damaged part: the policy sends it again)."""
        raise NotImplementedError(f"{type(self).__name__} must implement _put_part().")

    async def _complete_upload(self, put: Put, upload: str, parts: list[Part]) -> Stored:
        """Commit the parts, under ``put.if_absent``."""
        raise NotImplementedError(f"{type(self).__name__} must implement _complete_upload().")

    async def _abort_upload(self, put: Put, upload: str) -> None:
        """Drop an unfinished upload's parts (a service that keeps none needs nothing here)."""

    # Optional hooks.

    async def _copy_object(self, src: str, dst: str, *, if_absent: bool, size: int) -> None:
        """Copy inside the service; without it, copies stream through this process.

        The one hook that may take several requests (a copy polled until done, one rewritten or
        copied part by part): it sends each through :meth:`_call`, so a failure repeats that
        request, not the whole copy, and the engine runs the hook itself under no policy."""
        raise NotImplementedError

    async def _sign(self, key: str, method: str, expires: int) -> str:
        """A signed URL for ``method`` on ``key``."""
        raise NotImplementedError(f"{type(self).__name__} does not sign URLs.")

    def _public_url(self, key: str) -> str:
        """The plain address of ``key`` (public only if the bucket or a CDN is)."""
        raise NotImplementedError(f"{type(self).__name__} has no public URL.")

    async def _delete_objects(self, keys: list[str]) -> None:
        """Delete up to 1000 keys in one request (S3's DeleteObjects); without it, the engine
        deletes them one by one, several at a time."""
        raise NotImplementedError

    def _damage(self, stored: Stored, sent: str) -> str | None:
        """What is wrong with a commit's answer: its checksum, or what the adapter found."""
        if stored.problem:
            return stored.problem
        if stored.checksum is not None and stored.checksum != sent:
            algorithm = self.upload_checksum.upper()
            return f"it received {algorithm} {stored.checksum}, but {sent} was sent"
        return None

    async def _holds(self, put: Put, sent: str, parts: list[Part] | None) -> bool:
        """After a lost answer: whether the object at ``put.key`` is the one this upload sent.

        The default compares the checksums the service shows (a single upload's
        ``upload_checksum``, S3's multipart ETag) with what was sent; an adapter that can tell
        its own commit another way (Azure's block list) overrides it.
        """
        try:
            head = await self._call(self._name(put.key), lambda: self._head_object(put.key))
        except NotFoundError:
            return False
        if parts is None:
            return head.checksums.get(self.upload_checksum) == sent
        return head.checksums.get("s3-multipart") == s3_multipart_etag([p.md5 for p in parts])

    # -- the boundary ----------------------------------------------------------------------------

    async def _call(
        self, name: str | None, request: Callable[[], Awaitable[T]], **policy: Any
    ) -> T:
        """Run one request under the retry policy, its SDK's exceptions translated: the one way
        the engine reaches the service."""

        return await self._retrying(lambda: self._once(name, request), **policy)

    async def _once(self, name: str | None, request: Callable[[], Awaitable[T]]) -> T:
        """One request, translated, not retried: for reads the core's resume loop retries."""
        try:
            return await request()
        except (BucketryError, StopAsyncIteration):
            raise
        except Exception as exc:
            raise self._translate(exc, name) from exc

    async def _body(self, name: str, chunks: AsyncIterator[bytes]) -> AsyncGenerator[bytes, None]:
        """A body as it is read, with the SDK's exceptions translated; closed when done."""
        try:
            while True:
                try:
                    chunk = await anext(chunks)
                except StopAsyncIteration:
                    return
                except BucketryError:
                    raise
                except Exception as exc:
                    raise self._translate(exc, name) from exc
                yield chunk
        finally:
            close = getattr(chunks, "aclose", None)
            if close is not None:
                with contextlib.suppress(Exception):
                    await close()

    # -- keys ------------------------------------------------------------------------------------

    def _key(self, name: str) -> str:
        return self.prefix + name

    def _name(self, key: str) -> str | None:
        return name_for_key(key, self.prefix)

    def _put(self, name: str, options: WriteOptions) -> Put:
        content_type = (
            options.content_type or mimetypes.guess_type(name)[0] or "application/octet-stream"
        )
        return Put(self._key(name), content_type, options.metadata, not options.overwrite)

    # -- writing ---------------------------------------------------------------------------------

    async def _write(self, name: str, chunks: AsyncIterator[bytes], options: WriteOptions) -> str:
        content = await read_ahead(chunks, self.multipart_threshold)
        if isinstance(content, bytes):
            while True:  # the content is in hand: a taken name is retried under the next one
                try:
                    await self._put_once(name, content, options)
                except AlreadyExistsError:
                    if options.retarget is None:
                        raise
                    name = options.retarget(name)
                    continue
                return name
        name = await self._claim_name(name, options)
        await self._upload_stream(name, content, options)
        return name

    async def _claim_name(self, name: str, options: WriteOptions) -> str:
        """Before a long upload that cannot change its name later, move off a taken name.

        A cheap look, not a guarantee: the upload's own create-if-absent stays the arbiter.
        """
        if not options.overwrite and options.retarget is not None:
            while await self._exists(name):
                name = options.retarget(name)
        return name

    async def _put_once(self, name: str, data: bytes, options: WriteOptions) -> None:
        put = self._put(name, options)
        sum_ = running(self.upload_checksum)
        sum_.update(data)
        sent = sum_.value()

        async def attempt() -> None:
            stored = await self._put_object(put, data, sent)
            await self._judge(name, put, stored, sent)

        await self._commit(name, put, attempt, lambda: self._holds(put, sent, None))

    async def _judge(self, name: str, put: Put, stored: Stored, sent: str) -> None:
        """The failed-overwrite rule, after a commit whose answer shows damage."""
        problem = self._damage(stored, sent)
        if problem is None:
            return
        if put.if_absent or (stored.key is not None and stored.key != put.key):
            # A new name: what the damaged request created is removed (that version only), and
            # the policy sends the content again.
            await self._remove_damaged(name, stored.key or put.key, stored.tag)
            raise IntegrityError(
                f"{self.service_name} received different bytes for {name!r} than were sent "
                f"({problem}); what it stored is removed."
            )
        # An overwrite the service committed has already replaced the previous version; deleting
        # it would lose both. Sending it again (the policy does) replaces the damage.
        raise IntegrityError(
            f"{self.service_name} stored damaged bytes for {name!r} ({problem}): they replaced the "
            "previous version when the service accepted the request, and that version cannot be "
            "restored here (the service did not check the checksum sent); save it again."
        )

    async def _commit(
        self,
        name: str,
        put: Put,
        attempt: Callable[[], Awaitable[None]],
        holds: Callable[[], Awaitable[bool]],
    ) -> None:
        """Run a commit (a create-if-absent put, a completion) under the policy.

        If an attempt's answer was lost after the service stored the object, the next attempt
        finds the name taken (or, for a completion, the upload gone: ``NotFoundError``).
        ``holds()`` then says whether what is stored is what was sent; if so the commit
        succeeded and is not a clash with another writer. Only a second attempt can meet its
        own write: every resend is the policy's (see :func:`~bucketry.retry.forbid_hidden_resends`).
        """
        attempts = 0

        async def counted() -> None:
            nonlocal attempts
            attempts += 1
            try:
                await self._once(name, attempt)
            except PreconditionFailedError:
                if not put.if_absent:
                    raise
                raise AlreadyExistsError(f"{name!r} already exists.") from None

        try:
            await self._call(name, counted)
        except (AlreadyExistsError, NotFoundError):
            if attempts > 1 and await holds():
                return
            raise

    async def _remove_damaged(self, name: str, key: str, tag: str | None) -> None:
        """Delete what a damaged create stored, only if it is still that version.

        One request, inside the attempt the policy is already running (the policy sends the
        create again after it). A removal that fails is said, not retried into a misjudgement:
        left under the name, the damaged object would make the next attempt find the name
        taken by something this writer does not recognise as its own.
        """
        try:
            if tag is None:
                raise BucketryError("the service named no version to remove")
            await self._once(name, lambda: self._delete_object(key, if_match=tag))
        except NotFoundError:
            return
        except BucketryError as exc:
            raise BucketryError(
                f"{self.service_name} stored damaged bytes for {name!r}, and they could not be "
                f"removed ({exc}); delete {name!r} and save it again."
            ) from exc

    async def _upload_stream(
        self, name: str, chunks: AsyncIterator[bytes], options: WriteOptions
    ) -> None:
        """A large upload as parts, committed under ``overwrite``; aborted on any failure."""
        put = self._put(name, options)
        upload = await self._call(name, lambda: self._start_upload(put))
        try:

            async def send(number: int, body: memoryview) -> Part:
                return await self._call(name, lambda: self._put_part(put, upload, number, body))

            parts = await upload_parts(chunks, self.part_size, self.max_concurrency, send)

            answers: list[Stored] = []

            async def complete() -> None:
                answers.append(await self._complete_upload(put, upload, parts))

            await self._commit(name, put, complete, lambda: self._holds(put, "", parts))
            if answers:
                # Judged once committed, outside the policy: a completion cannot be sent again
                # (the upload is gone), and the parts were read from a stream that is spent.
                sent = s3_multipart_etag([part.md5 for part in parts])
                await self._judge(name, put, answers[-1], sent)
        except BaseException:
            # Aborted under the policy (an abort lost to one failure would leave billable
            # parts), shielded from the cancellation that may have brought us here.
            await asyncio.shield(self._abort(name, put, upload))
            raise

    async def _abort(self, name: str, put: Put, upload: str) -> None:
        with contextlib.suppress(Exception):
            await self._call(name, lambda: self._abort_upload(put, upload))

    # -- reading ---------------------------------------------------------------------------------

    async def _stream(
        self, name: str, start: int, end: int | None, chunk_size: int, version: ReadVersion
    ) -> AsyncIterator[bytes]:
        if end is not None and end <= start:
            await self._stat(name)  # an empty range of a missing file is still missing
            return
        key = self._key(name)
        try:
            # Not under the policy: the core's resume loop reads again from the next byte.
            answer = await self._once(
                name, lambda: self._get_object(key, start, end, version.tag, chunk_size)
            )
        except PreconditionFailedError:
            raise version.replaced() from None
        if answer is None:
            await self._stat(name)  # start is past the end of an existing file: nothing to read
            return
        version.pin(answer.tag)
        if start == 0 and end is None:
            for algorithm, value in answer.checksums.items():
                if computable(algorithm):
                    version.expect(algorithm, value)
                    break
        # Closed as soon as the reader stops (its connection, ranges it has in flight), not when
        # the garbage collector finds it.
        async with contextlib.aclosing(self._body(name, answer.chunks)) as body:
            try:
                async for chunk in body:
                    yield chunk
            except PreconditionFailedError:  # a later range of the read named its version
                raise version.replaced() from None

    async def _stat(self, name: str) -> FileInfo:
        key = self._key(name)
        return _file_info(name, await self._call(name, lambda: self._head_object(key)))

    # -- deleting, copying, listing ----------------------------------------------------------------

    async def _delete(self, name: str) -> None:
        key = self._key(name)
        with contextlib.suppress(NotFoundError):
            await self._call(name, lambda: self._delete_object(key))

    async def _delete_many(self, names: list[str]) -> None:
        if _overrides(self, "_delete_objects"):
            keys = [self._key(name) for name in names]
            await self._call(None, lambda: self._delete_objects(keys))
            return
        semaphore = asyncio.Semaphore(self.max_concurrency * 4)

        async def delete(name: str) -> None:
            async with semaphore:
                await self._delete(name)

        await asyncio.gather(*(delete(name) for name in names))

    async def _copy(self, src: str, dst: str, *, overwrite: bool) -> None:
        if not _overrides(self, "_copy_object"):
            await super()._copy(src, dst, overwrite=overwrite)  # through this process
            return
        info = await self._stat(src)
        if not overwrite and not self.conditional_copy and await self._exists(dst):
            raise AlreadyExistsError(f"Cannot copy to {dst!r}: it already exists.")
        source, target = self._key(src), self._key(dst)
        conditional = not overwrite and self.conditional_copy
        try:  # each of the hook's requests is under the policy: the hook as a whole is not
            await self._once(
                dst,
                lambda: self._copy_object(source, target, if_absent=conditional, size=info.size),
            )
        except PreconditionFailedError:
            raise AlreadyExistsError(f"Cannot copy to {dst!r}: it already exists.") from None

    async def _scan(self, prefix: str, recursive: bool) -> AsyncIterator[FileInfo | str]:
        pages = self._list_pages(self._key(prefix), not recursive)
        async for page in pages:
            for common in page.prefixes:
                directory = self._name(common.rstrip("/"))
                if directory is not None:
                    yield directory + "/"
            for listed in page.objects:
                info = self._listed(listed)
                if info is not None:
                    yield info

    def _listed(self, listed: Listed) -> FileInfo | None:
        name = self._name(listed.key)
        return None if name is None else _file_info(name, listed)

    # -- addresses -------------------------------------------------------------------------------

    def _url(self, name: str) -> str:
        key = self._key(name)
        if self.custom_domain:
            return f"{self.url_protocol}://{self.custom_domain.rstrip('/')}/{quote(key)}"
        return self._public_url(key)

    async def _signed_url(self, name: str, expires: int, method: str) -> str:
        key = self._key(name)
        return await self._once(name, lambda: self._sign(key, method, expires))


def _file_info(name: str, found: ObjectHead | Listed) -> FileInfo:
    """What ``stat`` and ``list`` say of a file, from a HEAD or a listing's entry."""
    return FileInfo(
        name=name,
        size=found.size,
        etag=found.etag,
        content_type=found.content_type,
        last_modified=found.last_modified,
        metadata=found.metadata,
    )


def _overrides(storage: BucketStorage, hook: str) -> bool:
    """Whether the adapter implements an optional hook."""
    return getattr(type(storage), hook) is not getattr(BucketStorage, hook)


def plain_etag(etag: object) -> str | None:
    """An ETag as a value: without its quotes, ``None`` when there is none."""
    text = str(etag or "").strip('"')
    return text or None


def md5_etag_of(etag: str | None) -> dict[str, str]:
    """What an ETag says of the bytes: ``{"md5": etag}`` when it is 32 hex digits (a single
    upload on S3-like services), ``{"s3-multipart": etag}`` when it is ``<md5>-N``."""
    text = plain_etag(etag) or ""
    if len(text) == 32 and all(c in "0123456789abcdef" for c in text):
        return {"md5": text}
    head, dash, count = text.partition("-")
    if dash and count.isdigit() and len(head) == 32:
        return {"s3-multipart": text}
    return {}
