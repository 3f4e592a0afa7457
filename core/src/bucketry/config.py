"""Choosing a storage: by backend name, by URL, or as an instance, under an alias.

``configure_storage`` records a storage under an alias (``"default"`` unless told otherwise) and
``get_storage`` returns it. An alias that was never configured may be set from the environment, so
an app can be pointed at another storage without code: ``BUCKETRY_STORAGE_URL`` for the default,
``BUCKETRY_STORAGE_URL_MEDIA`` for the alias ``media``.
"""

from __future__ import annotations

import os
import threading
from typing import Any

from bucketry.errors import ConfigurationError, UnknownBackendError
from bucketry.registry import load_backend
from bucketry.storage import Storage, check_options
from bucketry.urls import split_url, url_shape

__all__ = ["close_storages", "configure_storage", "create_storage", "get_storage"]

DEFAULT_ALIAS = "default"
ENVIRONMENT_VARIABLE = "BUCKETRY_STORAGE_URL"

_storages: dict[str, Storage] = {}
_lock = threading.Lock()


def _environment_variable(alias: str) -> str:
    if alias == DEFAULT_ALIAS:
        return ENVIRONMENT_VARIABLE
    return f"{ENVIRONMENT_VARIABLE}_{alias.upper().replace('-', '_')}"


def create_storage(backend: str | Storage, **options: Any) -> Storage:
    """Build a storage from a backend name and options, or a URL, without registering it.

    ``"s3"`` with ``bucket=...`` and ``"s3://bucket/prefix?region=..."`` are the two spellings;
    the URL's scheme is the backend name, and each backend parses its own URL.
    """
    if isinstance(backend, Storage):
        if options:
            raise ConfigurationError("Options cannot be given with a storage instance.")
        return backend
    if not isinstance(backend, str) or not backend:
        raise ConfigurationError(
            "configure_storage() takes a backend name, a URL or a Storage instance, "
            f"not {backend!r}."
        )
    if "://" in backend:
        scheme = split_url(backend).scheme
        if options:
            raise ConfigurationError(
                f"Options for a URL go in its query string: {scheme}://...?option=value"
            )
        try:
            return load_backend(scheme).from_url(backend)
        except UnknownBackendError:
            raise
        except (TypeError, ValueError) as exc:
            if isinstance(exc, ConfigurationError):
                raise
            raise ConfigurationError(
                f"Cannot configure storage from {url_shape(backend)!r}: {exc}"
            ) from None
    if "/" in backend or backend.startswith("."):
        raise ConfigurationError(
            f"{backend!r} looks like a path, not a backend name: use "
            f"'file://{os.path.abspath(backend)}' or configure_storage('filesystem', "
            "location=...)."
        )
    cls = load_backend(backend)
    check_options(cls, options)
    try:
        return cls(**options)
    except TypeError as exc:
        raise ConfigurationError(f"Cannot configure the {backend!r} backend: {exc}") from exc


def configure_storage(
    backend: str | Storage, *, alias: str = DEFAULT_ALIAS, **options: Any
) -> Storage:
    """Create (or take) a storage and make it the one ``get_storage(alias)`` returns.

    >>> configure_storage("filesystem", location="./uploads", base_url="/media/")  # doctest: +SKIP
    >>> configure_storage("s3://uploads/media?region=eu-west-1", alias="media")  # doctest: +SKIP
    """
    storage = create_storage(backend, **options)
    with _lock:
        _storages[alias] = storage
    return storage


def get_storage(alias: str = DEFAULT_ALIAS) -> Storage:
    """The storage configured under ``alias``, or one built from the environment on first use."""
    with _lock:
        storage = _storages.get(alias)
        if storage is not None:
            return storage
        variable = _environment_variable(alias)
        url = os.environ.get(variable)
        if not url:
            configured = ", ".join(sorted(_storages)) or "none"
            raise ConfigurationError(
                f"No storage is configured under alias {alias!r} (configured: {configured}). "
                f"Call configure_storage(..., alias={alias!r}) or set {variable} to a storage URL."
            )
        storage = _storages[alias] = create_storage(url)
        return storage


async def close_storages() -> None:
    """Close and forget every configured storage (at application shutdown, or between tests)."""
    with _lock:
        storages = list(_storages.values())
        _storages.clear()
    for storage in storages:
        await storage.aclose()
