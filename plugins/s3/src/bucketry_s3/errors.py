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

from bucketry import (
    AlreadyExistsError,
    BucketryError,
    ConfigurationError,
    IntegrityError,
    NotFoundError,
    PermissionDeniedError,
    TooLargeError,
    UnavailableError,
)

__all__ = ["error_code", "error_for", "s3_errors"]

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
_EXISTS = {"PreconditionFailed", "412"}
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
    if code in _EXISTS or status == 412:
        return AlreadyExistsError(f"{subject} already exists.")
    if code == "NoSuchUpload":
        return NotFoundError(f"The multipart upload of {subject} no longer exists; save it again.")
    if code in _DAMAGED_REQUEST:
        return IntegrityError(f"S3 received a damaged request for {subject} ({code}).")
    if code == "EntityTooLarge":
        return TooLargeError(f"S3 rejected {subject} as too large.")
    if code in _TRANSIENT or (isinstance(status, int) and status >= 500):
        return UnavailableError(f"S3 is failing for {subject} ({code}); try again.")
    return BucketryError(f"S3 error on {subject}: {code}.")


@contextmanager
def s3_errors(bucket: str, name: str | None = None) -> Iterator[None]:
    """Translate whatever the S3 client raises inside the block.

    Messages name the bucket and the file, and never carry credentials (botocore's own messages
    do not include them, and no request parameters are echoed).
    """
    subject = f"{name!r} in bucket {bucket!r}" if name else f"bucket {bucket!r}"
    try:
        yield
    except BucketryError:
        raise
    except ClientError as exc:
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        raise error_for(error_code(exc), status, bucket, name) from exc
    except (NoCredentialsError, PartialCredentialsError, ProfileNotFound) as exc:
        raise ConfigurationError(
            f"No usable AWS credentials ({type(exc).__name__}): pass access_key_id and "
            "secret_access_key, a profile, or set the standard AWS environment variables."
        ) from exc
    except (ResponseParserError, IncompleteReadError, ResponseStreamingError, ValueError) as exc:
        # botocore raises ValueError for a field it cannot parse (a damaged timestamp).
        raise UnavailableError(
            f"S3's answer for {subject} arrived damaged or incomplete; try again."
        ) from exc
    except (BotoConnectionError, HTTPClientError, ReadTimeoutError) as exc:
        raise UnavailableError(
            f"Could not reach S3 for {subject} ({type(exc).__name__}); check endpoint_url "
            "and the network."
        ) from exc
    except FlexibleChecksumError as exc:
        raise IntegrityError(
            f"The bytes of {subject} read from S3 do not match their stored checksum."
        ) from exc
    except BotoCoreError as exc:
        raise BucketryError(f"S3 client error on {subject}: {type(exc).__name__}.") from exc
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise UnavailableError(
            f"The connection to S3 failed for {subject} ({type(exc).__name__}); try again."
        ) from exc
