"""``BucketryStorage``: any bucketry backend behind ``django.core.files.storage.Storage``.

Configured like any Django storage::

    STORAGES = {
        "default": {
            "BACKEND": "bucketry_django.BucketryStorage",
            "OPTIONS": {"backend": "s3", "bucket": "media", "region": "eu-west-1"},
        },
    }
    # or "OPTIONS": {"url": "s3://media/uploads?region=eu-west-1"}
    # or no OPTIONS at all: BUCKETRY_STORAGE (a URL or an options dict) in settings, else the
    # BUCKETRY_STORAGE_URL environment variable.

Names stay Django's: ``save`` returns the name actually used, which is decided race-free by the
backend's create-if-absent (``stem_<7 random>.ext`` when taken), not by Django's exists-then-write
``get_available_name``.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from django.conf import settings
from django.contrib.staticfiles.storage import ManifestFilesMixin
from django.core.exceptions import ImproperlyConfigured, SuspiciousFileOperation
from django.core.files.base import ContentFile, File
from django.core.files.storage import Storage as DjangoStorage
from django.utils import timezone
from django.utils.deconstruct import deconstructible

from bucketry import ConfigurationError, Storage, UnsafeNameError, create_storage
from bucketry.names import alternative_name, clean_name
from bucketry.sync import SyncStorage
from bucketry_django.files import READ_AHEAD, RangeReader, SpooledWriteFile, StreamingFile

__all__ = [
    "BucketryStaticStorage",
    "BucketryStorage",
    "ManifestBucketryStaticStorage",
    "SuspiciousName",
]

T = TypeVar("T")


class SuspiciousName(SuspiciousFileOperation, UnsafeNameError):  # type: ignore[misc]
    """An unsafe file name, as Django reports it: a 400 and a ``django.security`` log entry.

    Also an :class:`~bucketry.UnsafeNameError`, for code that catches bucketry's errors.
    """


@deconstructible(path="bucketry_django.BucketryStorage")
class BucketryStorage(DjangoStorage):  # type: ignore[misc]
    """A Django storage whose files live in a bucketry backend.

    ``OPTIONS``: ``backend`` plus that backend's options, or ``url``; ``overwrite`` (default
    ``False``) replaces files of the same name instead of choosing a new one.
    """

    default_overwrite = False
    url_setting = "MEDIA_URL"
    """The setting whose absolute URL prefixes a backend's relative ``url()`` (``/media/x``)."""

    def __init__(
        self,
        backend: str | None = None,
        *,
        url: str | None = None,
        overwrite: bool | None = None,
        **options: Any,
    ) -> None:
        self._bucketry_backend = backend
        self._bucketry_url = url
        self._bucketry_options = options
        self.overwrite = self.default_overwrite if overwrite is None else overwrite
        self._sync: SyncStorage | None = None

    # -- the bucketry storage, behind its sync portal --------------------------------------------

    @property
    def bucketry(self) -> Storage:
        """The wrapped bucketry storage (created on first use, from the options or settings)."""
        return self.sync.storage

    @property
    def sync(self) -> SyncStorage:
        """The wrapped storage's blocking API (:class:`bucketry.sync.SyncStorage`)."""
        if self._sync is None:
            self._sync = SyncStorage(self._create())
        return self._sync

    def _create(self) -> Storage:
        try:
            if self._bucketry_backend or self._bucketry_url:
                if self._bucketry_url:
                    return create_storage(self._bucketry_url)
                return create_storage(str(self._bucketry_backend), **self._bucketry_options)
            configured = getattr(settings, "BUCKETRY_STORAGE", None) or os.environ.get(
                "BUCKETRY_STORAGE_URL"
            )
            if isinstance(configured, dict):
                options = dict(configured)
                return create_storage(str(options.pop("backend")), **options)
            if isinstance(configured, str):
                return create_storage(configured)
        except (ConfigurationError, KeyError) as exc:
            raise ImproperlyConfigured(f"bucketry storage: {exc}") from exc
        raise ImproperlyConfigured(
            "BucketryStorage needs OPTIONS (backend=... or url=...), the BUCKETRY_STORAGE setting, "
            "or the BUCKETRY_STORAGE_URL environment variable."
        )

    def _call(self, work: Callable[[Storage], Awaitable[T]]) -> T:
        sync = self.sync
        try:
            return sync.run(work)
        except UnsafeNameError as exc:
            if isinstance(exc, SuspiciousName):
                raise
            raise SuspiciousName(str(exc)) from exc

    def close(self) -> None:
        """Close the backend's client and stop the portal (tests, or a clean shutdown)."""
        if self._sync is not None:
            self._sync.close()

    # -- attributes Django code reads ------------------------------------------------------------

    @property
    def base_url(self) -> str | None:
        base = getattr(self.bucketry, "base_url", None)
        return None if base is None else str(base)

    @property
    def location(self) -> str:
        location = getattr(self.bucketry, "location", None)
        if location is None:
            raise AttributeError("This backend has no local location.")
        return os.path.abspath(str(location))

    @property
    def base_location(self) -> str:
        return str(getattr(self.bucketry, "location", ""))

    # -- Django's API ------------------------------------------------------------------------------

    def save(self, name: Any, content: Any, max_length: int | None = None) -> str:
        """Store ``content``; the name returned is free, decided atomically by the backend.

        ``content`` is any Django ``File`` (``ContentFile``, uploads), a file object (binary or
        text), ``bytes`` or ``str``; text is stored as UTF-8, as ``FileSystemStorage`` does.
        """
        if name is None:
            name = content.name
        name = _name(name)
        if isinstance(content, (bytes, bytearray, str)):
            content = ContentFile(content, name)
        elif not hasattr(content, "chunks"):
            content = File(content, name)
        name = self.get_available_name(name, max_length=max_length)
        body: Any = _DjangoContent(content)
        if _size(content) <= SMALL_CONTENT:
            # Read here, in the caller's thread, which may block: the portal then gets bytes,
            # and no chunk needs a trip to a worker thread of its own.
            body = body.read_all()
        return self._call(
            lambda storage: storage.save(
                name,
                body,
                content_type=getattr(content, "content_type", None),
                overwrite=self.overwrite,
                max_length=max_length,
            )
        )

    def _save(self, name: str, content: Any) -> str:
        return str(self.save(name, content))

    def _cleaned(self, name: Any) -> str:
        try:
            return clean_name(_name(name).replace("\\", "/"))
        except UnsafeNameError as exc:
            raise SuspiciousName(str(exc)) from exc

    def get_available_name(self, name: Any, max_length: int | None = None) -> str:
        """The name, cleaned and fitted to ``max_length`` exactly as Django fits it (the file
        root is cut; ``SuspiciousFileOperation`` when nothing of it is left), with a random
        suffix unless ``overwrite``.

        Whether the name is free is not checked here: it is decided when the file is written
        (create-if-absent), since checking first is the race Django's default has.
        """
        cleaned = self._cleaned(name)
        if not (max_length and len(cleaned) > max_length):
            return cleaned  # what Django's loop returns for a name that fits; no check it lacks
        try:
            return str(super().get_available_name(cleaned, max_length=max_length))
        except SuspiciousFileOperation as exc:
            if isinstance(exc, SuspiciousName):
                raise
            raise SuspiciousName(str(exc)) from exc

    def is_name_available(self, name: str, max_length: int | None = None) -> bool:
        # Only the length: whether the name is taken is the backend's atomic create's to decide.
        return not (max_length and len(name) > max_length)

    def get_alternative_name(self, file_root: str, file_ext: str) -> str:
        if self.overwrite:
            return f"{file_root}{file_ext}"
        return str(alternative_name(f"{file_root}{file_ext}"))

    def open(self, name: Any, mode: str = "rb", *, encoding: str | None = None) -> File:
        """``"rb"`` and ``"r"`` read in ranges (``encoding`` for text, UTF-8 by default);
        ``"wb"`` and ``"w"`` give a file whose content replaces ``name`` when it is closed."""
        return self._open(_name(name), mode, encoding=encoding)

    def _open(self, name: str, mode: str = "rb", encoding: str | None = None) -> File:
        if mode.replace("t", "") in ("w", "wb"):
            cleaned = self._cleaned(name)
            return SpooledWriteFile(
                cleaned,
                mode,
                lambda spool: self._call(
                    lambda storage: storage.save(cleaned, spool, overwrite=True)
                ),
                encoding,
            )
        if mode.replace("t", "") not in ("r", "rb"):
            raise ValueError(
                f"BucketryStorage opens files with 'rb', 'r', 'wb' or 'w', not {mode!r}: object "
                "stores cannot append to or update a file in place."
            )

        async def first(storage: Storage) -> tuple[int, bytes]:
            """A small file whole, in one request (checked whole, where the backend checks);
            for a larger one, its size, and its bytes are read in ranges later."""
            chunks: list[bytes] = []
            total = 0
            stream = storage.stream(name, chunk_size=READ_AHEAD)
            try:
                async for chunk in stream:
                    chunks.append(chunk)
                    total += len(chunk)
                    if total > READ_AHEAD:
                        break
                else:
                    return total, b"".join(chunks)
            finally:
                await stream.aclose()  # type: ignore[attr-defined]
            return (await storage.stat(name)).size, b""

        size, head = self._call(first)

        def fetch(start: int, end: int) -> bytes:
            async def read(storage: Storage) -> bytes:
                parts = [chunk async for chunk in storage.stream(name, start=start, end=end)]
                return b"".join(parts)

            return self._call(read)

        return StreamingFile(
            RangeReader(size, fetch, head=head),
            self._cleaned(name),
            size,
            mode=mode,
            encoding=encoding,
            reopen=lambda again: self._open(name, again, encoding),
        )

    def delete(self, name: Any) -> None:
        if not name:
            raise ValueError("The name must be given to delete().")
        self._call(lambda storage: storage.delete(_name(name)))

    def exists(self, name: Any) -> bool:
        return bool(self._call(lambda storage: storage.exists(_name(name))))

    def listdir(self, path: Any) -> tuple[list[str], list[str]]:
        return self._call(lambda storage: storage.listdir(_name(path)))

    def size(self, name: Any) -> int:
        return int(self._call(lambda storage: storage.size(_name(name))))

    def url(self, name: Any) -> str:
        if name is None:
            raise ValueError("The name must be given to url().")
        try:
            address = self.bucketry.url(_name(name))
        except UnsafeNameError as exc:
            raise SuspiciousName(str(exc)) from exc
        base = getattr(settings, self.url_setting, None) or ""
        if address.startswith("/") and base.startswith("http"):
            return str(base.rstrip("/") + address)
        return address

    def get_modified_time(self, name: Any) -> datetime:
        info = self._call(lambda storage: storage.stat(_name(name)))
        if info.last_modified is None:
            raise NotImplementedError("This backend does not report modification times.")
        return _django_time(info.last_modified)

    def get_created_time(self, name: Any) -> datetime:
        return self._local_time(name, "st_ctime", "creation")

    def get_accessed_time(self, name: Any) -> datetime:
        return self._local_time(name, "st_atime", "access")

    def _local_time(self, name: Any, field: str, what: str) -> datetime:
        """Times only a local file system keeps (object stores record modification only)."""
        try:
            path = self.path(name)
        except NotImplementedError:
            raise NotImplementedError(
                f"This backend does not report {what} times; only get_modified_time()."
            ) from None
        moment = datetime.fromtimestamp(getattr(os.stat(path), field), UTC)
        return _django_time(moment)

    def path(self, name: Any) -> str:
        local = getattr(self.bucketry, "path", None)
        if local is None:
            raise NotImplementedError("This backend doesn't support absolute paths.")
        try:
            return str(local(_name(name)))
        except UnsafeNameError as exc:
            raise SuspiciousName(str(exc)) from exc

    def __repr__(self) -> str:
        return f"BucketryStorage({self.bucketry!r})"


@deconstructible(path="bucketry_django.BucketryStaticStorage")
class BucketryStaticStorage(BucketryStorage):
    """For ``STORAGES["staticfiles"]``: ``collectstatic`` publishes to any bucketry backend.

    Files of the same name are replaced (``overwrite=True`` by default, as collectstatic
    expects), ``url()`` is prefixed by ``STATIC_URL`` when that is absolute and the backend's
    address is a path, and a directory "exists" while something is stored under it, so
    ``collectstatic --clear`` can walk and empty an object store as it does a directory tree.
    """

    default_overwrite = True
    url_setting = "STATIC_URL"

    def exists(self, name: Any) -> bool:
        name = _name(name)
        if not name.strip("/"):
            return True  # the storage root, which --clear starts from
        if super().exists(name):
            return True
        directories, files = self.listdir(name)
        return bool(directories or files)


@deconstructible(path="bucketry_django.ManifestBucketryStaticStorage")
class ManifestBucketryStaticStorage(ManifestFilesMixin, BucketryStaticStorage):  # type: ignore[misc]
    """:class:`BucketryStaticStorage` with hashed names (``app.3f2a9c.css``) and the
    ``staticfiles.json`` manifest stored in the backend, as ``ManifestStaticFilesStorage``."""


def _name(name: Any) -> str:
    """A name as Django code passes it: ``str`` or any ``os.PathLike``."""
    if isinstance(name, os.PathLike):
        return str(os.fspath(name))
    if not isinstance(name, str):
        raise SuspiciousName(f"A file name must be a str or a path, not {type(name).__name__}.")
    return name


def _django_time(moment: datetime) -> datetime:
    """Aware in UTC when ``USE_TZ``, naive local time otherwise, as Django expects."""
    if settings.USE_TZ:
        return moment
    naive: datetime = timezone.make_naive(moment, timezone.get_default_timezone())
    return naive


SMALL_CONTENT = 256 * 1024
"""Content up to this size is read whole in the caller's thread before it is stored."""


def _size(content: Any) -> int:
    try:
        return int(content.size)
    except (AttributeError, TypeError, ValueError, OSError):
        return SMALL_CONTENT + 1  # unknown: streamed


class _DjangoContent:
    """A Django ``File`` read chunk by chunk (``chunks()`` never loads it whole); text chunks
    are stored as UTF-8."""

    def __init__(self, file: Any) -> None:
        self._file = file

    def read_all(self) -> bytes:
        if hasattr(self._file, "seek") and self._file.seekable():
            self._file.seek(0)
        return b"".join(_as_bytes(chunk) for chunk in self._file.chunks())

    def __aiter__(self) -> Any:
        return self._chunks()

    async def _chunks(self) -> Any:
        if hasattr(self._file, "seek") and self._file.seekable():
            self._file.seek(0)
        iterator = iter(self._file.chunks())
        while True:
            chunk = await asyncio.to_thread(next, iterator, None)
            if chunk is None:
                return
            yield _as_bytes(chunk)


def _as_bytes(chunk: Any) -> bytes:
    if isinstance(chunk, str):
        return chunk.encode("utf-8")
    return chunk if isinstance(chunk, bytes) else bytes(chunk)
