"""The one place where HTTP statuses and aiohttp exceptions become bucketry errors."""

from __future__ import annotations

from typing import Any

import aiohttp

from bucketry import (
    AlreadyExistsError,
    BucketryError,
    ConfigurationError,
    NotFoundError,
    PermissionDeniedError,
    TooLargeError,
    UnavailableError,
)

__all__ = ["GCSResponseError", "gcs_errors"]


class GCSResponseError(Exception):
    """An unexpected status from the JSON API; carries what the translation needs."""

    def __init__(self, status: int, reason: str = "", bucket_missing: bool = False) -> None:
        super().__init__(status, reason)
        self.status = status
        self.reason = reason
        self.bucket_missing = bucket_missing


class gcs_errors:  # used as a function: ``with gcs_errors(bucket, name):``
    """Translate what the HTTP layer raises inside the block.

    Messages name the bucket and object, never a token or a key: response bodies are not echoed.
    A class, not a ``@contextmanager`` generator: it wraps every request, and a generator costs
    half a dozen more calls each time for a block that almost never raises.
    """

    __slots__ = ("bucket", "name")

    def __init__(self, bucket: str, name: str | None = None) -> None:
        self.bucket, self.name = bucket, name

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, _: Any) -> None:
        if exc is None or isinstance(exc, BucketryError):
            return  # nothing raised, or already a bucketry error: it goes on as it is
        if isinstance(exc, (GCSResponseError, aiohttp.ClientResponseError)):
            raise _translated(exc, self.bucket, self.name) from exc
        if isinstance(exc, (aiohttp.ClientError, TimeoutError)):
            raise UnavailableError(
                f"Could not reach GCS for {_subject(self.bucket, self.name)} "
                f"({type(exc).__name__}); check api_root or the emulator host, and the network."
            ) from exc


def _subject(bucket: str, name: str | None) -> str:
    return f"{name!r} in bucket {bucket!r}" if name else f"bucket {bucket!r}"


def _translated(
    exc: GCSResponseError | aiohttp.ClientResponseError, bucket: str, name: str | None
) -> BucketryError:
    status, subject = exc.status, _subject(bucket, name)
    if status == 404 and (getattr(exc, "bucket_missing", False) or name is None):
        return ConfigurationError(
            f"GCS bucket {bucket!r} does not exist; create it or fix the bucket option."
        )
    if status == 404:
        return NotFoundError(f"{subject} does not exist.")
    if status in (401, 403):
        return PermissionDeniedError(
            f"GCS refused access to {subject} (HTTP {status}); check the service account "
            "and its roles."
        )
    if status == 412:
        return AlreadyExistsError(f"{subject} already exists.")
    if status == 413:
        return TooLargeError(f"GCS rejected {subject} as too large.")
    if status in (408, 429) or status >= 500:
        return UnavailableError(f"GCS is failing for {subject} (HTTP {status}); try again.")
    return BucketryError(f"GCS error on {subject}: HTTP {status}.")
