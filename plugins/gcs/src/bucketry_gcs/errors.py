"""The one place where HTTP statuses and aiohttp exceptions become bucketry errors."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

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


@contextmanager
def gcs_errors(bucket: str, name: str | None = None) -> Iterator[None]:
    """Translate what the HTTP layer raises inside the block.

    Messages name the bucket and object, never a token or a key: response bodies are not echoed.
    """
    subject = f"{name!r} in bucket {bucket!r}" if name else f"bucket {bucket!r}"
    try:
        yield
    except BucketryError:
        raise
    except (GCSResponseError, aiohttp.ClientResponseError) as exc:
        status = exc.status
        if status == 404 and (getattr(exc, "bucket_missing", False) or name is None):
            raise ConfigurationError(
                f"GCS bucket {bucket!r} does not exist; create it or fix the bucket option."
            ) from exc
        if status == 404:
            raise NotFoundError(f"{subject} does not exist.") from exc
        if status in (401, 403):
            raise PermissionDeniedError(
                f"GCS refused access to {subject} (HTTP {status}); check the service account "
                "and its roles."
            ) from exc
        if status == 412:
            raise AlreadyExistsError(f"{subject} already exists.") from exc
        if status == 413:
            raise TooLargeError(f"GCS rejected {subject} as too large.") from exc
        if status in (408, 429) or status >= 500:
            raise UnavailableError(
                f"GCS is failing for {subject} (HTTP {status}); try again."
            ) from exc
        raise BucketryError(f"GCS error on {subject}: HTTP {status}.") from exc
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise UnavailableError(
            f"Could not reach GCS for {subject} ({type(exc).__name__}); check api_root or the "
            "emulator host, and the network."
        ) from exc
