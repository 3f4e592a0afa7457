"""The one place where what the GCS JSON API and aiohttp raise becomes a bucketry error.

The adapter's requests raise :class:`GCSResponseError` for an unexpected status, carrying what
the request knew that the status alone does not say (whether it was about the bucket, whether
its body was built here), and :class:`UnreadableAnswer` for an answer that does not parse; the
engine's boundary hands every exception to :func:`translate`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import aiohttp

from bucketry.backend import (
    BucketryError,
    ConfigurationError,
    IntegrityError,
    NotFoundError,
    PermissionDeniedError,
    PreconditionFailedError,
    TooLargeError,
    UnavailableError,
)

__all__ = ["GCSResponseError", "UnreadableAnswer", "parsed", "translate"]

T = TypeVar("T")


class GCSResponseError(Exception):
    """An unexpected status from the JSON API, with the request's context.

    ``bucket_level``: the request needs no object to exist (an upload, a listing), so a 404 can
    only mean the bucket is missing. ``built_here``: the body was well formed when it left (an
    upload's resource, a rewrite's ``{}``), so a 400 means it was damaged on the way. The body
    is looked at, never kept: messages do not echo what the service said.
    """

    def __init__(
        self,
        status: int,
        body: bytes = b"",
        *,
        bucket_level: bool = False,
        built_here: bool = False,
    ) -> None:
        super().__init__(status)
        lowered = body.lower()
        self.status = status
        # GCS says "The specified bucket does not exist."; a missing object is "No such object:
        # <bucket>/<name>", which may well contain the word "bucket".
        self.bucket_missing = status == 404 and (
            bucket_level or b"bucket does not exist" in lowered
        )
        self.damaged = status == 400 and (built_here or b"crc32c" in lowered or b"md5" in lowered)


class UnreadableAnswer(Exception):
    """An answer that does not parse, or describes something else: damaged in transit."""


async def parsed(response: aiohttp.ClientResponse, parse: Callable[[Any], T]) -> T:
    """A JSON answer, parsed: one that does not parse (a field missing or mangled in transit)
    is :class:`UnreadableAnswer`, asked again."""
    async with response:
        try:
            return parse(await response.json(content_type=None))
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise UnreadableAnswer(type(exc).__name__) from None


def translate(exc: BaseException, bucket: str, name: str | None = None) -> BucketryError:
    """The bucketry error for whatever a GCS request raised. Messages name the bucket and the
    file, never a token or a key."""
    subject = f"{name!r} in bucket {bucket!r}" if name else f"bucket {bucket!r}"
    if isinstance(exc, BucketryError):
        return exc
    if isinstance(exc, UnreadableAnswer):
        return UnavailableError(f"GCS sent an unreadable answer for {subject}; asking again.")
    if isinstance(exc, GCSResponseError | aiohttp.ClientResponseError):
        return _for_status(exc, bucket, name, subject)
    if isinstance(exc, aiohttp.ClientError | TimeoutError):
        return UnavailableError(
            f"Could not reach GCS for {subject} ({type(exc).__name__}); check api_root or the "
            "emulator host, and the network."
        )
    return BucketryError(f"Unexpected error from GCS on {subject}: {type(exc).__name__}.")


def _for_status(
    exc: GCSResponseError | aiohttp.ClientResponseError, bucket: str, name: str | None, subject: str
) -> BucketryError:
    status = exc.status
    if getattr(exc, "damaged", False):
        return IntegrityError(
            f"GCS refused {subject}: what arrived is not what was sent (its checksum or its "
            "form). Nothing was stored."
        )
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
        # ifGenerationMatch: 0 on a create, a generation on a read or a delete; the engine
        # says which it sent.
        return PreconditionFailedError(f"{subject} is not in the state the request named.")
    if status == 413:
        return TooLargeError(f"GCS rejected {subject} as too large.")
    if status in (408, 429) or status >= 500:
        return UnavailableError(f"GCS is failing for {subject} (HTTP {status}); try again.")
    return BucketryError(f"GCS error on {subject}: HTTP {status}.")
