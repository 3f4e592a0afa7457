"""bucketry: one async API for files on S3, GCS, Azure Blob, the local disk and memory."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

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
    PreconditionFailedError,
    TooLargeError,
    UnavailableError,
    UnknownBackendError,
    UnsafeNameError,
    UnsupportedError,
)
from bucketry.info import Capability, FileInfo
from bucketry.registry import available_backends, load_backend
from bucketry.retry import RetryPolicy, RetryStats
from bucketry.storage import ReadVersion, Storage, WriteOptions

try:
    __version__ = version("bucketry-core")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"

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
    "PreconditionFailedError",
    "ReadVersion",
    "RetryPolicy",
    "RetryStats",
    "Storage",
    "TooLargeError",
    "UnavailableError",
    "UnknownBackendError",
    "UnsafeNameError",
    "UnsupportedError",
    "WriteOptions",
    "__version__",
    "available_backends",
    "close_storages",
    "configure_storage",
    "create_storage",
    "get_storage",
    "load_backend",
]
