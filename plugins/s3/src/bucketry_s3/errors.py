"""The one place where botocore and aiohttp exceptions become bucketry errors."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import aiohttp
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    FlexibleChecksumError,
    HTTPClientError,
    IncompleteReadError,
    NoCredentialsError,
    PartialCredentialsError,
    ProfileNotFound,
    ReadTimeoutError,
    ResponseStreamingError,
)
from botocore.exceptions import (
    ConnectionError as BotoConnectionError,
)
from botocore.parsers import ResponseParserError

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

__all__ = ["error_code", "error_for", "past_end", "s3_errors", "translate"]

_NOT_FOUND = {"NoSuchKey", "404", "NotFound"}
_DENIED = {
    "AccessDenied",
    "403",
    "Forbidden",
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "ExpiredToken",
    "InvalidToken",
    "AllAccessDisabled",
}
_PRECONDITION = {"PreconditionFailed", "412"}
# S3 could not use what it received: a body or part list changed in transit (our requests are
# well formed when they leave), so the request is sent again like a damaged upload.
_DAMAGED_REQUEST = {
    "BadDigest",
    "InvalidDigest",
    "InvalidPart",
    "MalformedXML",
    "XAmzContentSHA256Mismatch",
    "IncompleteBody",
}
_TRANSIENT = {
    "SlowDown",
    "503",
    "500",
    "InternalError",
    "ServiceUnavailable",
    "RequestTimeout",
    "RequestTimeTooSkewed",
    "ConditionalRequestConflict",  # a concurrent conditional write is in flight: try again
    "OperationAborted",
}


def error_code(exc: ClientError) -> str:
    """The S3 error code of a ``ClientError`` (``"NoSuchKey"``, ``"404"``, …)."""
    return str(exc.response.get("Error", {}).get("Code", ""))


def error_for(code: str, status: object, bucket: str, name: str | None) -> BucketryError:
    """The bucketry error for an S3 error code (and HTTP status, where known)."""
    subject = f"{name!r} in bucket {bucket!r}" if name else f"bucket {bucket!r}"
    if code == "NoSuchBucket":
        return ConfigurationError(
            f"S3 bucket {bucket!r} does not exist; create it or fix the bucket option."
        )
    if code in _NOT_FOUND:
        return NotFoundError(f"{subject} does not exist.")
    if code in _DENIED or status == 403:
        return PermissionDeniedError(
            f"S3 refused access to {subject} ({code}); check the credentials and the bucket policy."
        )
    if code in _PRECONDITION or status == 412:
        # If-None-Match on a create, If-Match on a read: the engine says which it sent.
        return PreconditionFailedError(f"{subject} is not in the state the request named.")
    if code == "NoSuchUpload":
        return NotFoundError(f"The multipart upload of {subject} no longer exists; save it again.")
    if code in _DAMAGED_REQUEST:
        return IntegrityError(f"S3 received a damaged request for {subject} ({code}).")
    if code == "EntityTooLarge":
        return TooLargeError(f"S3 rejected {subject} as too large.")
    if code in _TRANSIENT or (isinstance(status, int) and status >= 500):
        return UnavailableError(f"S3 is failing for {subject} ({code}); try again.")
    return BucketryError(f"S3 error on {subject}: {code}.")


def past_end(exc: BaseException) -> bool:
    """Whether a ranged GetObject failed because its start is at or past the end."""
    return isinstance(exc, ClientError) and error_code(exc) == "InvalidRange"


def translate(exc: BaseException, bucket: str, name: str | None = None) -> BucketryError:
    """The bucketry error for whatever the S3 client raised.

    Messages name the bucket and the file, and never carry credentials (botocore's own messages
    do not include them, and no request parameters are echoed).
    """
    subject = f"{name!r} in bucket {bucket!r}" if name else f"bucket {bucket!r}"
    if isinstance(exc, BucketryError):
        return exc
    if isinstance(exc, ClientError):
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        return error_for(error_code(exc), status, bucket, name)
    if isinstance(exc, (NoCredentialsError, PartialCredentialsError, ProfileNotFound)):
        return ConfigurationError(
            f"No usable AWS credentials ({type(exc).__name__}): pass access_key_id and "
            "secret_access_key, a profile, or set the standard AWS environment variables."
        )
    if isinstance(
        exc, (ResponseParserError, IncompleteReadError, ResponseStreamingError, ValueError)
    ):
        # botocore raises ValueError for a field it cannot parse (a damaged timestamp).
        return UnavailableError(
            f"S3's answer for {subject} arrived damaged or incomplete; try again."
        )
    if isinstance(exc, (BotoConnectionError, HTTPClientError, ReadTimeoutError)):
        return UnavailableError(
            f"Could not reach S3 for {subject} ({type(exc).__name__}); check endpoint_url "
            "and the network."
        )
    if isinstance(exc, FlexibleChecksumError):
        return IntegrityError(
            f"The bytes of {subject} read from S3 do not match their stored checksum."
        )
    if isinstance(exc, BotoCoreError):
        return BucketryError(f"S3 client error on {subject}: {type(exc).__name__}.")
    if isinstance(exc, (aiohttp.ClientError, TimeoutError)):
        return UnavailableError(
            f"The connection to S3 failed for {subject} ({type(exc).__name__}); try again."
        )
    return BucketryError(f"Unexpected error from the S3 client on {subject}: {type(exc).__name__}.")


@contextmanager
def s3_errors(bucket: str, name: str | None = None) -> Iterator[None]:
    """Translate whatever the S3 client raises inside the block (for what runs outside a
    request: building the client, signing)."""
    try:
        yield
    except Exception as exc:
        raise translate(exc, bucket, name) from exc
