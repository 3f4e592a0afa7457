"""The one place where obstore's exceptions become bucketry errors.

obstore raises a few typed exceptions (not found, already exists, precondition, permission) and a
``GenericError`` for everything else, whose message carries the HTTP status and, for S3, the
service's error code. The status and code decide the bucketry error; obstore's message itself is
never shown (it names the request's URL), only the store, the file and the code.
"""

from __future__ import annotations

import re

from obstore import exceptions as ob

from bucketry.backend import (
    AlreadyExistsError,
    BucketryError,
    ConfigurationError,
    IntegrityError,
    NotFoundError,
    PermissionDeniedError,
    PreconditionFailedError,
    TooLargeError,
    UnavailableError,
)

__all__ = ["past_end", "status_of", "translate"]

_STATUS = re.compile(r"status(?: code)?:? (\d{3})")
_CODE = re.compile(r"<Code>([A-Za-z0-9]+)</Code>")
# The service could not use what it received: a body changed in transit (our requests are well
# formed when they leave), so the request is sent again like a damaged upload.
_DAMAGED_REQUEST = {
    "BadDigest",
    "InvalidDigest",
    "InvalidPart",
    "MalformedXML",
    "XAmzContentSHA256Mismatch",
    "IncompleteBody",
    "Md5Mismatch",
    "InvalidMd5",
    "Crc64Mismatch",
}
_MISSING_CONTAINER = {"NoSuchBucket", "ContainerNotFound"}


def status_of(exc: BaseException) -> int | None:
    """The HTTP status an obstore error reports, if its message carries one."""
    found = _STATUS.search(str(exc))
    return int(found.group(1)) if found else None


def _code_of(exc: BaseException) -> str:
    found = _CODE.search(str(exc))
    return found.group(1) if found else ""


def error_for(exc: BaseException, store: str, container: str, name: str | None) -> BucketryError:
    """The bucketry error for one obstore exception."""
    subject = f"{name!r} in {store} {container!r}" if name else f"{store} {container!r}"
    code, status = _code_of(exc), status_of(exc)
    if code in _MISSING_CONTAINER or (status == 404 and "bucket" in str(exc).lower() and not name):
        return ConfigurationError(
            f"{store} {container!r} does not exist; create it or fix the storage options."
        )
    if isinstance(exc, (ob.NotFoundError, FileNotFoundError)) or status == 404:
        return NotFoundError(f"{subject} does not exist.")
    if isinstance(exc, (ob.AlreadyExistsError, FileExistsError)):
        return AlreadyExistsError(f"{subject} already exists.")
    if isinstance(exc, ob.PreconditionError) or status == 412:
        # If-None-Match on a create, If-Match on a read: the engine says which it sent.
        return PreconditionFailedError(f"{subject} is not in the state the request named.")
    if isinstance(exc, (ob.PermissionDeniedError, ob.UnauthenticatedError)) or status in (
        401,
        403,
    ):
        return PermissionDeniedError(
            f"{store} refused access to {subject}; check the credentials and the access policy."
        )
    if isinstance(exc, (ob.UnknownConfigurationKeyError, ob.InvalidPathError)):
        return ConfigurationError(f"{store} cannot be configured for {subject}: {exc}")
    if code in _DAMAGED_REQUEST:
        return IntegrityError(f"{store} received a damaged request for {subject} ({code}).")
    if status == 413 or code == "EntityTooLarge":
        return TooLargeError(f"{store} rejected {subject} as too large.")
    if status is None or status >= 500 or status in (408, 429):
        # No status: the connection failed, timed out or broke mid-body.
        return UnavailableError(f"{store} is failing or unreachable for {subject}; try again.")
    if status == 400 and not code:
        # GCS and Azure answer a body that does not match its declared length or hash with a
        # bare 400; our requests leave well formed, so the bytes were damaged on the way.
        return IntegrityError(f"{store} refused a damaged request for {subject} (400).")
    return BucketryError(f"{store} error on {subject}: {code or status}.")


def translate(exc: BaseException, store: str, container: str, name: str | None) -> BucketryError:
    """The bucketry error for whatever obstore raised."""
    if isinstance(exc, BucketryError):
        return exc
    if isinstance(exc, (ob.BaseError, FileNotFoundError, FileExistsError)):
        return error_for(exc, store, container, name)
    subject = f"{name!r} in {store} {container!r}" if name else f"{store} {container!r}"
    if isinstance(exc, (ConnectionError, TimeoutError, OSError)):
        return UnavailableError(
            f"The connection to {store} failed for {subject} ({type(exc).__name__}); try again."
        )
    return BucketryError(f"Unexpected error from obstore on {subject}: {type(exc).__name__}.")


def past_end(exc: BaseException) -> bool:
    """Whether a ranged GET failed because its start is at or past the end: the store's 416, or
    obstore's own check of the range it was answered (which only its message tells)."""
    if status_of(exc) == 416:
        return True
    text = str(exc)
    return ("Range" in text and ("not satisfiable" in text or "out of bounds" in text)) or (
        "StartTooLarge" in text
    )
