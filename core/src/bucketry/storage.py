"""The ``Storage`` contract every backend keeps.

The public methods (``save``, ``open``, ``stream``, ``list``, …) live here, once: they check names,
enforce ``max_size``, pick alternative names, and open the backend's client on first use. A backend
subclasses :class:`Storage` and fills in a handful of underscore primitives, the way Django's
``Storage`` asks for ``_save`` and ``_open``; what it leaves out stays an
:class:`~bucketry.errors.UnsupportedError`, and it says what it offers in ``capabilities``.
"""

from __future__ import annotations

import abc
import asyncio
import builtins
import contextlib
import difflib
import inspect
import typing
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from types import MappingProxyType, TracebackType
from typing import Any, ClassVar, Self, TypeVar
from urllib.parse import parse_qsl

from bucketry.checksums import WholeCheck
from bucketry.content import DEFAULT_CHUNK_SIZE, Content, ContentSource
from bucketry.errors import (
    AlreadyExistsError,
    ConfigurationError,
    IntegrityError,
    NotFoundError,
    UnavailableError,
    UnsafeNameError,
    UnsupportedError,
)
from bucketry.info import Capability, FileInfo
from bucketry.names import alternative_name, clean_name, clean_prefix, valid_filename
from bucketry.redaction import register_secrets, scrub, secret_parts
from bucketry.retry import RetryPolicy, RetryStats
from bucketry.urls import split_url, url_shape

__all__ = ["ReadVersion", "Storage", "WriteOptions"]

T = TypeVar("T")

DELETE_BATCH = 1000
"""Most names handed to ``_delete_many`` at once (S3's DeleteObjects limit)."""

MAX_NAME_ATTEMPTS = 16
"""How many alternative names ``save`` tries; 7 random characters rarely collide."""


@dataclass(frozen=True, slots=True)
class WriteOptions:
    """What ``_write`` needs besides the name and the bytes.

    ``retarget`` is set when the core may accept the content under another name: a backend that
    stages content before committing it (a temp file, a buffer) calls ``retarget(taken)`` for a
    fresh candidate when the name is taken, instead of raising and having the content sent again.
    """

    overwrite: bool
    content_type: str | None = None
    metadata: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    retarget: Callable[[str], str] | None = None


@dataclass(slots=True)
class ReadVersion:
    """The version of a file a read began on, carried through every resume of that read.

    A break part-way through ``stream()`` is resumed with a new ``_stream`` from the next byte;
    had the file been replaced in between, the reader would get the head of one version and the
    tail of another, each piece looking right. Every ``_stream`` call is given this object; a
    backend with ``Capability.PINNED_RESUME`` sends ``tag`` as a precondition where the service
    takes one (If-Match, a generation) and reports what each answer carries with :meth:`pin`.
    """

    name: str
    tag: str | None = None
    """The first answer's version tag (an ETag, a generation); ``None`` until it is known."""
    check: WholeCheck | None = None
    """Set by the first answer of a whole read that carries the object's checksum
    (:meth:`expect`): the core feeds it every byte the read yields, resumed ones too, and
    compares at the end, so a resumed whole read is checked as a single one is."""

    def pin(self, tag: str | None) -> None:
        """Remember the first answer's ``tag``; raise :class:`IntegrityError` when a resumed
        answer carries another one."""
        if self.tag is None:
            self.tag = tag
        elif tag != self.tag:
            raise self.replaced()

    def expect(self, algorithm: str, expected: str | None) -> None:
        """From the first answer of a whole read: the object's ``algorithm`` checksum is
        ``expected`` (in the service's form, see :mod:`bucketry.checksums`). Later answers,
        and answers without a checksum, change nothing."""
        if self.check is None and expected:
            self.check = WholeCheck(algorithm, expected)

    def replaced(self) -> IntegrityError:
        """The error for a file replaced while it was being read (a failed precondition too)."""
        return IntegrityError(f"{self.name!r} was replaced while it was being read; read it again.")


class Storage(metaclass=abc.ABCMeta):
    """An async file storage. Use it as ``async with storage:`` or call :meth:`aclose` when done.

    Names are relative and ``/``-separated; the core cleans every name (see :mod:`bucketry.names`)
    before a backend sees it. A storage opens its backend client on first use and keeps it until
    :meth:`aclose`; clients are never created per call.

    Subclasses implement ``_write``, ``_stream``, ``_stat``, ``_delete`` and ``_scan``, may override
    ``_exists``, ``_copy``, ``_move``, ``_url``, ``_signed_url`` and the ``_connect`` and
    ``_disconnect`` hooks, and declare ``capabilities`` honestly.
    """

    backend_name: ClassVar[str] = ""
    """The entry-point name this backend is registered under, for messages and URLs."""
    capabilities: frozenset[Capability] = frozenset()
    """The optional parts of the contract this backend keeps (an instance may narrow them)."""
    signed_put_headers: ClassVar[Mapping[str, str]] = MappingProxyType({})
    """Headers a client must send with a ``signed_url(method="PUT")`` upload (Azure wants
    ``x-ms-blob-type``); browsers and scripts using a signed upload URL should add them."""
    loop_bound: ClassVar[bool] = True
    """Whether the backend's client belongs to the event loop it was opened on (an aiohttp
    session does). :class:`~bucketry.sync.SyncStorage` then runs every call on one loop of its
    own; a backend without such a client (local files, memory) is run in the caller's thread,
    where blocking is allowed (:func:`blocking_allowed`)."""
    secret_options: ClassVar[frozenset[str]] = frozenset()
    """Constructor options that hold secrets; they are never shown in ``repr``."""

    retry: RetryPolicy = RetryPolicy()
    """How requests to the backend are retried; assign a new policy to change it."""

    _connected: bool = False
    _connect_lock: asyncio.Lock | None = None
    _retry_stats: RetryStats | None = None

    @property
    def retry_stats(self) -> RetryStats:
        """Calls, retries and give-ups of this storage's retry policy so far."""
        if self._retry_stats is None:
            self._retry_stats = RetryStats()
        return self._retry_stats

    async def _retrying(self, operation: Callable[[], Awaitable[T]], **options: Any) -> T:
        """Run one backend request under this storage's retry policy."""
        return await self.retry.call(operation, stats=self.retry_stats, **options)

    # -- construction ----------------------------------------------------------------------------

    @classmethod
    def from_options(cls, options: Mapping[str, str]) -> Self:
        """Build a storage from string options (a URL's query, ``--option key=value``).

        Each value is converted to the type the constructor annotates (``int``, ``float``,
        ``bool``, ``str``); an unknown or badly typed option raises :class:`ConfigurationError`.
        """
        return cls(**_coerce_options(cls, options))

    @classmethod
    def from_url(cls, url: str) -> Self:
        """Build a storage from ``scheme://netloc/path?option=value``.

        The default reads only the query; backends override it to give ``netloc`` and ``path`` a
        meaning (a bucket and a prefix, a directory, …).
        """
        options = dict(parse_qsl(split_url(url).query, keep_blank_values=True))
        return cls.from_options(options)

    @classmethod
    def _from_bucket_url(cls, url: str, bucket_option: str) -> Self:
        """``scheme://bucket/prefix?option=value``: the URL shape of every object store."""
        parts = split_url(url)
        if not parts.netloc:
            raise ConfigurationError(
                f"A {parts.scheme}:// URL names its {bucket_option}: "
                f"{parts.scheme}://{bucket_option}/prefix, not {url_shape(url)!r}."
            )
        options = dict(parse_qsl(parts.query, keep_blank_values=True))
        options.setdefault("prefix", parts.path.strip("/"))
        return cls.from_options({bucket_option: parts.netloc, **options})

    def __repr__(self) -> str:
        shown = ", ".join(f"{key}={value!r}" for key, value in self._repr_options().items())
        return f"{type(self).__name__}({shown})"

    def _repr_options(self) -> dict[str, object]:
        """Options worth showing in ``repr``; secrets are masked however a subclass names them."""
        shown: dict[str, object] = {}
        for key in inspect.signature(type(self).__init__).parameters:
            if key == "self" or not hasattr(self, key):
                continue
            value = getattr(self, key)
            if key in self.secret_options and value is not None:
                value = "***"
            elif isinstance(value, str):
                value = scrub(value)  # a SAS inside account_url, a password inside a URL
            shown[key] = value
        return shown

    # -- lifecycle -------------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        await self._ensure_connected()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the backend client. The storage may be used again: it reconnects on demand."""
        if self._connected:
            self._connected = False
            await self._disconnect()

    async def _ensure_connected(self) -> None:
        if self._connected:
            return
        if self._connect_lock is None:
            self._connect_lock = asyncio.Lock()
        async with self._connect_lock:
            if not self._connected:
                await self._connect()
                self._connected = True

    def __setattr__(self, name: str, value: Any) -> None:
        # Secrets are registered as they are given, before any request, URL or error can show
        # them: a presigned URL needs no connection, and an SDK may log while it is built. For
        # strings of key=value pairs (a connection string), each secret value is registered too,
        # so a key is redacted wherever it is quoted alone.
        if name in type(self).secret_options and isinstance(value, str):
            register_secrets(secret_parts(value))
        super().__setattr__(name, value)

    async def _connect(self) -> None:  # noqa: B027 (optional: most backends open a client)
        """Create the backend's client; called once, before the first operation."""

    async def _disconnect(self) -> None:  # noqa: B027 (optional, as _connect)
        """Close what ``_connect`` opened."""

    # -- capabilities ------------------------------------------------------------------------------

    def supports(self, capability: Capability | str) -> bool:
        """Whether this backend keeps the optional part of the contract named ``capability``."""
        return Capability(capability) in self.capabilities

    def _require(self, capability: Capability, what: str) -> None:
        if capability not in self.capabilities:
            raise UnsupportedError(
                f"The {self.backend_name or type(self).__name__} backend does not support {what} "
                f"(capability {capability.value!r}); check storage.supports() before calling it."
            )

    # -- names -----------------------------------------------------------------------------------

    def get_valid_name(self, name: str) -> str:
        """Make an untrusted file name (an upload's) safe and boring, as Django does.

        ``save`` does not call this: names given to ``save`` are stored as given or rejected.
        """
        return valid_filename(name)

    async def get_available_name(self, name: str, max_length: int | None = None) -> str:
        """A name like ``name`` that is free right now (``stem_<7 random>.ext`` if taken).

        Advisory only: another writer may take it a moment later. ``save(overwrite=False)`` is the
        race-free way to get a free name.
        """
        name = clean_name(name)
        if max_length is not None and len(name) > max_length:
            name = alternative_name(name, max_length)
        for _ in range(MAX_NAME_ATTEMPTS):
            if not await self.exists(name):
                return name
            name = alternative_name(name, max_length)
        raise AlreadyExistsError(f"Could not find a free name like {name!r}.")

    # -- the public contract ---------------------------------------------------------------------

    async def save(
        self,
        name: str,
        content: Content,
        *,
        content_type: str | None = None,
        metadata: Mapping[str, str] | None = None,
        overwrite: bool = False,
        max_size: int | None = None,
        max_length: int | None = None,
        rename: bool = True,
    ) -> str:
        """Store ``content`` under ``name`` and return the name it was stored under.

        ``content`` is bytes-like, a binary file, an async file-like object or an async iterable of
        bytes; it is streamed in chunks. With ``overwrite=False`` (the default) a taken name is
        never replaced: the content goes under ``stem_<7 random>.ext`` instead, decided atomically
        by the backend. ``max_size`` is enforced while streaming: past it, the upload is abandoned,
        nothing is stored and :class:`TooLargeError` is raised. ``max_length`` bounds the length of
        the returned name, as in Django. ``rename=False`` (with ``overwrite=False``) creates
        exactly ``name`` or raises :class:`AlreadyExistsError`: an exclusive create, as
        ``open(name, "x")`` (race-free where the backend declares ``conditional-create``).
        """
        name = clean_name(name)
        user_metadata = self._check_metadata(metadata)
        if max_length is not None and len(name) > max_length:
            if overwrite or not rename:
                raise UnsafeNameError(f"Name {name!r} is longer than max_length={max_length}.")
            name = alternative_name(name, max_length)
        source = ContentSource(content)
        await self._ensure_connected()

        def retarget(taken: str) -> str:
            return alternative_name(taken, max_length)

        if overwrite:
            options = WriteOptions(True, content_type, user_metadata)
            return await self._write(name, source.chunks(max_size), options)

        if not rename:
            if Capability.CONDITIONAL_CREATE not in self.capabilities and await self._exists(name):
                raise AlreadyExistsError(f"{name!r} already exists.")
            options = WriteOptions(False, content_type, user_metadata)
            return await self._write(name, source.chunks(max_size), options)
        if Capability.CONDITIONAL_CREATE not in self.capabilities:
            # Without an atomic create-if-absent this is check-then-write: not race-free.
            name = await self.get_available_name(name, max_length)
        options = WriteOptions(False, content_type, user_metadata, retarget)
        for _ in range(MAX_NAME_ATTEMPTS):
            try:
                return await self._write(name, source.chunks(max_size), options)
            except AlreadyExistsError:
                if not await source.rewind():
                    raise AlreadyExistsError(
                        f"{name!r} was taken by another writer while this upload streamed, and "
                        "the content can only be read once; save it again, or pass bytes or a "
                        "seekable file so bucketry can retry under another name."
                    ) from None
                name = retarget(name)
        raise AlreadyExistsError(f"Could not find a free name like {name!r}.")

    async def open(self, name: str) -> bytes:
        """Return the whole content of ``name``. Use :meth:`stream` for large files.

        Nothing is returned until every byte has arrived and, where the backend checks one, the
        checksum matched; a damaged read is read again under the retry policy.
        """

        cleaned = clean_name(name)
        await self._ensure_connected()

        async def read() -> bytes:
            parts: builtins.list[bytes] = []
            version = ReadVersion(cleaned)
            chunks = self._resuming(version, 0, None, DEFAULT_CHUNK_SIZE, restart=parts.clear)
            async with _closing(chunks):
                async for chunk in chunks:
                    parts.append(chunk)
            return b"".join(parts)

        # Breaks are the resume loop's (it spends the policy on them); damage is read again.
        return await self._retrying(read, retry_integrity=True, retry_unavailable=False)

    async def stream(
        self,
        name: str,
        *,
        start: int | None = None,
        end: int | None = None,
        chunk_size: int | None = None,
    ) -> AsyncIterator[bytes]:
        """Yield the bytes of ``name`` from ``start`` up to, not including, ``end``.

        Offsets follow Python slicing on a file of known size: a range past the end is cut short,
        not an error. A missing file raises :class:`NotFoundError` on the first iteration.
        """
        name = clean_name(name)
        first = 0 if start is None else start
        if first < 0 or (end is not None and end < 0):
            raise ValueError("stream() offsets must be non-negative; use stat() for the size.")
        size = chunk_size or DEFAULT_CHUNK_SIZE
        await self._ensure_connected()
        chunks = self._resuming(ReadVersion(name), first, end, size)
        # A reader that stops early closes the backend's read now (its file, its connection, the
        # ranges it has in flight), not whenever the garbage collector finds it.
        async with _closing(chunks):
            async for chunk in chunks:
                yield chunk

    async def _resuming(
        self,
        version: ReadVersion,
        start: int,
        end: int | None,
        chunk_size: int,
        *,
        restart: Callable[[], object] | None = None,
    ) -> AsyncIterator[bytes]:
        """The one resume loop: yield what ``_stream`` yields; when the read breaks
        (``UnavailableError``), read again from the next byte of the same version, as often as
        the retry policy allows.

        A whole read whose first answer carried the object's checksum (``version.check``) is
        checked at its end over every byte it yielded. A whole read without one is never
        stitched from ranges when the caller can take it again from the start (``restart``,
        which ``open`` passes to drop what it collected): it is read again from byte 0.
        """
        position, resumes = start, 0
        whole = start == 0 and end is None
        while True:
            try:
                async with _closing(
                    self._stream(version.name, position, end, chunk_size, version)
                ) as chunks:
                    async for chunk in chunks:
                        position += len(chunk)
                        if version.check is not None:
                            await version.check.absorb(chunk)
                        yield chunk
                break
            except UnavailableError:
                resumes += 1
                self.retry_stats.by_error["stream-resume"] = (
                    self.retry_stats.by_error.get("stream-resume", 0) + 1
                )
                if resumes >= self.retry.attempts:
                    raise
                self.retry_stats.retries += 1
                await asyncio.sleep(self.retry.delay(resumes - 1))
                if whole and restart is not None and version.check is None:
                    restart()
                    position = 0
        if version.check is not None and whole:
            await version.check.verify(version.name, self.backend_name or type(self).__name__)

    async def delete(self, name: str) -> None:
        """Remove ``name``. Deleting a file that does not exist is not an error."""
        name = clean_name(name)
        await self._ensure_connected()
        await self._delete(name)

    async def delete_prefix(self, prefix: str) -> int:
        """Delete every file under the directory ``prefix`` and return how many were deleted.

        Batched where the backend can (S3's DeleteObjects takes 1000 keys a request). The root
        itself is refused: emptying a whole storage should not be one typo away.
        """
        cleaned = clean_prefix(prefix)
        if not cleaned:
            raise UnsafeNameError("delete_prefix() needs a directory; it will not empty the root.")
        await self._ensure_connected()
        deleted = 0
        batch: builtins.list[str] = []
        async for entry in self._scan(cleaned, recursive=True):
            if isinstance(entry, FileInfo):
                batch.append(entry.name)
                if len(batch) >= DELETE_BATCH:
                    await self._delete_many(batch)
                    deleted, batch = deleted + len(batch), []
        if batch:
            await self._delete_many(batch)
        return deleted + len(batch)

    async def exists(self, name: str) -> bool:
        """Whether a file is stored under ``name``."""
        name = clean_name(name)
        await self._ensure_connected()
        return await self._exists(name)

    async def size(self, name: str) -> int:
        """The size of ``name`` in bytes."""
        return (await self.stat(name)).size

    async def stat(self, name: str) -> FileInfo:
        """Name, size, etag, content type, modification time and metadata of ``name``."""
        name = clean_name(name)
        await self._ensure_connected()
        return await self._stat(name)

    async def copy(self, src: str, dst: str, *, overwrite: bool = False) -> str:
        """Copy ``src`` to ``dst`` and return ``dst``.

        With ``overwrite=False`` an existing ``dst`` raises :class:`AlreadyExistsError`: unlike
        ``save``, a copy has an explicit destination and is never renamed.
        """
        src, dst = clean_name(src), clean_name(dst)
        await self._ensure_connected()
        if src == dst:
            # Copying a file onto itself changes nothing (S3 refuses the request outright).
            await self._stat(src)
            if not overwrite:
                raise AlreadyExistsError(f"{dst!r} already exists (it is the file copied).")
            return dst
        await self._copy(src, dst, overwrite=overwrite)
        return dst

    async def move(self, src: str, dst: str, *, overwrite: bool = False) -> str:
        """Move ``src`` to ``dst`` and return ``dst``; ``overwrite`` as for :meth:`copy`."""
        src, dst = clean_name(src), clean_name(dst)
        if src == dst:
            await self.stat(src)  # a move onto itself only has to prove the file is there
            return dst
        await self._ensure_connected()
        await self._move(src, dst, overwrite=overwrite)
        return dst

    def url(self, name: str) -> str:
        """The public address of ``name`` (it is not checked that the file exists)."""
        name = clean_name(name)
        self._require(Capability.PUBLIC_URL, "url()")
        return self._url(name)

    async def signed_url(
        self, name: str, *, expires: int | timedelta = 3600, method: str = "GET"
    ) -> str:
        """An address that grants ``method`` on ``name`` to anyone holding it, until it expires."""
        name = clean_name(name)
        self._require(Capability.SIGNED_URL, "signed_url()")
        seconds = int(expires.total_seconds()) if isinstance(expires, timedelta) else int(expires)
        if seconds <= 0:
            raise ValueError("signed_url() needs a positive expiry.")
        method = method.upper()
        if method not in {"GET", "PUT", "HEAD", "DELETE"}:
            raise ValueError(f"signed_url() cannot sign {method!r}; use GET, PUT, HEAD or DELETE.")
        await self._ensure_connected()
        return await self._signed_url(name, seconds, method)

    async def listdir(self, path: str = "") -> tuple[builtins.list[str], builtins.list[str]]:
        """The directories and the files directly inside ``path``, each as sorted base names."""
        prefix = clean_prefix(path)
        await self._ensure_connected()
        dirs: builtins.list[str] = []
        files: builtins.list[str] = []
        async for entry in self._scan(prefix, recursive=False):
            if isinstance(entry, FileInfo):
                files.append(entry.name[len(prefix) :])
            else:
                dirs.append(entry[len(prefix) :].rstrip("/"))
        return sorted(dirs), sorted(files)

    async def list(self, prefix: str = "", *, recursive: bool = True) -> AsyncIterator[FileInfo]:
        """Yield every file under the directory ``prefix``, page by page as the backend lists.

        ``prefix`` names a directory: ``"a/b"`` lists ``a/b/...`` and never ``a/b_c/...``. With
        ``recursive=False`` only files directly inside it are yielded. Order is unspecified.
        """
        cleaned = clean_prefix(prefix)
        await self._ensure_connected()
        async for entry in self._scan(cleaned, recursive=recursive):
            if isinstance(entry, FileInfo):
                yield entry

    def _check_metadata(self, metadata: Mapping[str, str] | None) -> Mapping[str, str]:
        if not metadata:
            return MappingProxyType({})
        self._require(Capability.METADATA, "user metadata")
        for key, value in metadata.items():
            if not isinstance(key, str) or not isinstance(value, str):
                raise TypeError("Metadata keys and values must be str.")
            if not key.isascii() or not key or not key.replace("-", "").replace("_", "").isalnum():
                raise ValueError(
                    f"Metadata key {key!r} must be ASCII letters, digits, '-' and '_' so that "
                    "every backend can store it."
                )
        return MappingProxyType({key.lower(): value for key, value in metadata.items()})

    # -- what a backend implements ---------------------------------------------------------------

    @abc.abstractmethod
    async def _write(self, name: str, chunks: AsyncIterator[bytes], options: WriteOptions) -> str:
        """Store the chunks under ``name`` and return the name used.

        If ``options.overwrite`` is false the backend must create the file only if the name is
        free, atomically; when it is taken, call ``options.retarget(name)`` for another candidate
        (if that is cheap for the backend) or raise :class:`AlreadyExistsError`. On any exception,
        including one raised by ``chunks`` and cancellation, nothing may be left behind.
        """
        raise NotImplementedError(f"{type(self).__name__} must implement _write().")

    @abc.abstractmethod
    def _stream(
        self, name: str, start: int, end: int | None, chunk_size: int, version: ReadVersion
    ) -> AsyncIterator[bytes]:
        """Yield bytes ``start`` up to ``end`` (``None``: to the end) of ``name``.

        ``version`` is the read this call belongs to, the same object on every resume of it: a
        backend with ``Capability.PINNED_RESUME`` pins it (:meth:`ReadVersion.pin`), and one
        whose answers carry the object's checksum arms it on a whole read
        (:meth:`ReadVersion.expect`). A backend that keeps neither promise ignores it.
        """
        raise NotImplementedError(f"{type(self).__name__} must implement _stream().")

    @abc.abstractmethod
    async def _stat(self, name: str) -> FileInfo:
        """Return the file's info or raise :class:`NotFoundError`."""
        raise NotImplementedError(f"{type(self).__name__} must implement _stat().")

    @abc.abstractmethod
    async def _delete(self, name: str) -> None:
        """Remove the file; succeed quietly if it does not exist."""
        raise NotImplementedError(f"{type(self).__name__} must implement _delete().")

    @abc.abstractmethod
    def _scan(self, prefix: str, recursive: bool) -> AsyncIterator[FileInfo | str]:
        """Yield files under ``prefix`` (``""`` or ending in ``/``).

        With ``recursive=False``, yield only files directly inside it, plus each subdirectory once
        as a ``str`` ending in ``/`` (the full prefix, e.g. ``"a/b/"``).
        """
        raise NotImplementedError(f"{type(self).__name__} must implement _scan().")

    async def _delete_many(self, names: builtins.list[str]) -> None:
        """Delete up to :data:`DELETE_BATCH` files; backends with a batch call override this."""
        for name in names:
            await self._delete(name)

    async def _exists(self, name: str) -> bool:
        try:
            await self._stat(name)
        except NotFoundError:
            return False
        return True

    async def _copy(self, src: str, dst: str, *, overwrite: bool) -> None:
        """Copy by streaming through this process; backends that can copy in place override it."""
        info = await self._stat(src)
        options = WriteOptions(overwrite, info.content_type, info.metadata)
        chunks = self._resuming(ReadVersion(src), 0, None, DEFAULT_CHUNK_SIZE)
        await self._write(dst, chunks, options)

    async def _move(self, src: str, dst: str, *, overwrite: bool) -> None:
        await self._copy(src, dst, overwrite=overwrite)
        await self._delete(src)

    def _url(self, name: str) -> str:
        raise UnsupportedError(f"{type(self).__name__} does not implement url().")

    async def _signed_url(self, name: str, expires: int, method: str) -> str:
        raise UnsupportedError(f"{type(self).__name__} does not implement signed_url().")


@contextlib.asynccontextmanager
async def _closing(chunks: AsyncIterator[bytes]) -> AsyncIterator[AsyncIterator[bytes]]:
    """``contextlib.aclosing`` for any async iterator: one without ``aclose`` is left alone."""
    try:
        yield chunks
    finally:
        close = getattr(chunks, "aclose", None)
        if close is not None:
            await close()


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _coerce_options(cls: type[Storage], options: Mapping[str, str]) -> dict[str, Any]:
    """Turn string options into constructor arguments, by the constructor's annotations."""
    try:
        hints = typing.get_type_hints(cls.__init__)
    except Exception:  # unresolvable annotations: pass strings through unchanged
        hints = {}
    check_options(cls, options)
    return {
        key: _coerce(cls.__name__, key, raw, hints.get(key, str)) for key, raw in options.items()
    }


def check_options(cls: type[Storage], options: Mapping[str, object]) -> None:
    """Refuse an option the backend does not take, naming the valid ones and the closest:
    the keyword form and the URL form of a storage are checked alike."""
    parameters = inspect.signature(cls.__init__).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        return
    accepted = [name for name in parameters if name != "self"]
    for key in options:
        if key not in accepted:
            close = difflib.get_close_matches(key, accepted, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise ConfigurationError(
                f"{cls.__name__} has no option {key!r}.{hint} Valid options: {', '.join(accepted)}."
            )


def _coerce(owner: str, key: str, raw: str, hint: Any) -> Any:
    kinds = set(typing.get_args(hint)) or {hint}
    if raw.lower() in {"none", "null"} and type(None) in kinds:
        return None
    for kind in (bool, int, float):
        if kind in kinds:
            try:
                if kind is bool:
                    lowered = raw.lower()
                    if lowered not in _TRUE | _FALSE:
                        raise ValueError(raw)
                    return lowered in _TRUE
                return int(raw, 0) if kind is int else float(raw)
            except ValueError:
                raise ConfigurationError(
                    f"{owner} option {key}={raw!r} is not a valid {kind.__name__}."
                ) from None
    return raw
