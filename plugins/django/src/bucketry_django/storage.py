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
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import urljoin

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.files.base import File
from django.core.files.storage import Storage as DjangoStorage
from django.core.files.utils import validate_file_name
from django.utils import timezone
from django.utils.deconstruct import deconstructible

from bucketry import ConfigurationError, Storage, create_storage
from bucketry.names import alternative_name, clean_name
from bucketry_django.files import RangeReader, StreamingFile
from bucketry_django.portal import Portal

__all__ = ["BucketryStorage"]

T = TypeVar("T")


@deconstructible(path="bucketry_django.BucketryStorage")
class BucketryStorage(DjangoStorage):  # type: ignore[misc]
    """A Django storage whose files live in a bucketry backend.

    ``OPTIONS``: ``backend`` plus that backend's options, or ``url``; ``overwrite`` (default
    ``False``) replaces files of the same name instead of choosing a new one.
    """

    def __init__(
        self,
        backend: str | None = None,
        *,
        url: str | None = None,
        overwrite: bool = False,
        **options: Any,
    ) -> None:
        self._backend_name = backend
        self._url = url
        self._options = options
        self.overwrite = overwrite
        self._storage: Storage | None = None
        self._portal = Portal()

    # -- the bucketry storage, on the portal's loop ------------------------------------------------

    @property
    def bucketry(self) -> Storage:
        """The wrapped bucketry storage (created on first use, from the options or settings)."""
        if self._storage is None:
            self._storage = self._create()
            self._portal.stop_at_exit(self._storage.aclose)
        return self._storage

    def _create(self) -> Storage:
        try:
            if self._backend_name or self._url:
                if self._url:
                    return create_storage(self._url)
                return create_storage(str(self._backend_name), **self._options)
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
        storage = self.bucketry
        return self._portal.call(lambda: work(storage))

    def close(self) -> None:
        """Close the backend's client and stop the portal (tests, or a clean shutdown)."""
        storage, self._storage = self._storage, None
        self._portal.stop(storage.aclose if storage is not None else None)

    # -- Django's API ------------------------------------------------------------------------------

    def save(self, name: str | None, content: Any, max_length: int | None = None) -> str:
        """Store ``content``; the name returned is free, decided atomically by the backend."""
        if name is None:
            name = content.name
        if not hasattr(content, "chunks"):
            content = File(content, name)
        validate_file_name(name, allow_relative_path=True)
        name = self.get_available_name(name, max_length=max_length)
        stored = self._call(
            lambda storage: storage.save(
                name,
                _DjangoContent(content),
                content_type=getattr(content, "content_type", None),
                overwrite=self.overwrite,
                max_length=max_length,
            )
        )
        validate_file_name(stored, allow_relative_path=True)
        return stored

    def _save(self, name: str, content: Any) -> str:
        return str(self.save(name, content))

    def get_available_name(self, name: str, max_length: int | None = None) -> str:
        """The name itself, cleaned and fitted to ``max_length``.

        Whether it is free is decided when it is written (create-if-absent), not here: checking
        first is the race Django's default has.
        """
        name = clean_name(name.replace("\\", "/"))
        if max_length is not None and len(name) > max_length:
            name = alternative_name(name, max_length)
        return name

    def get_alternative_name(self, file_root: str, file_ext: str) -> str:
        return alternative_name(f"{file_root}{file_ext}")

    def _open(self, name: str, mode: str = "rb") -> StreamingFile:
        if any(flag in mode for flag in "wax+"):
            raise ValueError(
                f"BucketryStorage opens files for reading only, not {mode!r}; use save()."
            )
        info = self._call(lambda storage: storage.stat(name))

        def fetch(start: int, end: int) -> bytes:
            async def read(storage: Storage) -> bytes:
                parts = [chunk async for chunk in storage.stream(name, start=start, end=end)]
                return b"".join(parts)

            return self._call(read)

        return StreamingFile(RangeReader(info.size, fetch), info.name, info.size)

    def delete(self, name: str) -> None:
        if not name:
            raise ValueError("The name must be given to delete().")
        self._call(lambda storage: storage.delete(name))

    def exists(self, name: str) -> bool:
        return bool(self._call(lambda storage: storage.exists(name)))

    def listdir(self, path: str) -> tuple[list[str], list[str]]:
        return self._call(lambda storage: storage.listdir(path))

    def size(self, name: str) -> int:
        return int(self._call(lambda storage: storage.size(name)))

    def url(self, name: str | None) -> str:
        if name is None:
            raise ValueError("The name must be given to url().")
        address = self.bucketry.url(name)
        base = getattr(settings, "MEDIA_URL", None) or ""
        return (
            urljoin(base, address)
            if address.startswith("/") and base.startswith("http")
            else address
        )

    def get_modified_time(self, name: str) -> datetime:
        info = self._call(lambda storage: storage.stat(name))
        if info.last_modified is None:
            raise NotImplementedError("This backend does not report modification times.")
        return _django_time(info.last_modified)

    def get_created_time(self, name: str) -> datetime:
        raise NotImplementedError("bucketry backends report modification times only.")

    def get_accessed_time(self, name: str) -> datetime:
        raise NotImplementedError("bucketry backends report modification times only.")

    def path(self, name: str) -> str:
        local = getattr(self.bucketry, "path", None)
        if local is None:
            raise NotImplementedError("This backend doesn't support absolute paths.")
        return str(local(name))

    def __repr__(self) -> str:
        return f"BucketryStorage({self.bucketry!r})"


def _django_time(moment: datetime) -> datetime:
    """Aware in UTC when ``USE_TZ``, naive local time otherwise, as Django expects."""
    if settings.USE_TZ:
        return moment
    naive: datetime = timezone.make_naive(moment, timezone.get_default_timezone())
    return naive


class _DjangoContent:
    """A Django ``File`` read chunk by chunk (``chunks()`` never loads it whole)."""

    def __init__(self, file: Any) -> None:
        self._file = file

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
            yield chunk if isinstance(chunk, bytes) else bytes(chunk)
