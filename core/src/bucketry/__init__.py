"""bucketry: one async API for files on S3, GCS, Azure Blob, the local disk and memory."""

from __future__ import annotations

from bucketry.config import close_storages, configure_storage, create_storage, get_storage
from bucketry.content import Content
from bucketry.errors import (
    AlreadyExistsError,
    BucketryError,
    ConfigurationError,
    IntegrityError,
    InvalidContentError,
    NotFoundError,
    PermissionDeniedError,
    TooLargeError,
    UnavailableError,
    UnknownBackendError,
    UnsafeNameError,
    UnsupportedError,
)
from bucketry.info import Capability, FileInfo
from bucketry.registry import available_backends, load_backend
from bucketry.retry import RetryPolicy, RetryStats
from bucketry.storage import Storage, WriteOptions

__all__ = [
    "AlreadyExistsError",
    "BucketryError",
    "Capability",
    "ConfigurationError",
    "Content",
    "FileInfo",
    "IntegrityError",
    "InvalidContentError",
    "NotFoundError",
    "PermissionDeniedError",
    "RetryPolicy",
    "RetryStats",
    "Storage",
    "TooLargeError",
    "UnavailableError",
    "UnknownBackendError",
    "UnsafeNameError",
    "UnsupportedError",
    "WriteOptions",
    "available_backends",
    "close_storages",
    "configure_storage",
    "create_storage",
    "get_storage",
    "load_backend",
]
