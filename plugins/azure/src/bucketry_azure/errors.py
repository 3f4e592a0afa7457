"""The one place where ``azure.core`` exceptions become bucketry errors."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import aiohttp
from azure.core.exceptions import (
    AzureError,
    ClientAuthenticationError,
    DecodeError,
    DeserializationError,
    HttpResponseError,
    ResourceModifiedError,
    ResourceNotFoundError,
    ServiceRequestError,
    ServiceResponseError,
)

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

__all__ = ["azure_errors", "error_code", "status", "translate"]

_MISSING_CONTAINER = {"ContainerNotFound", "ContainerBeingDeleted"}
_EXISTS = {"BlobAlreadyExists"}
# Azure could not use what it received: a body or header changed in transit (our requests are
# well formed when they leave), so the request is sent again like a damaged upload.
_DAMAGED_REQUEST = {"Md5Mismatch", "Crc64Mismatch", "InvalidMd5"}


def error_code(exc: BaseException) -> str:
    """The service's error code (``BlobNotFound``, ``Md5Mismatch``, …).

    The SDK hands it over as a ``StorageErrorCode`` enum, whose ``str()`` is
    ``StorageErrorCode.MD5_MISMATCH``, so its value is taken; its generated client (our reads)
    sets none, so the ``x-ms-error-code`` header the service sent is read instead.
    """
    code = getattr(exc, "error_code", None)
    code = getattr(code, "value", code)
    if not code:
        headers = getattr(getattr(exc, "response", None), "headers", None)
        code = headers.get("x-ms-error-code") if headers is not None else None
    return str(code or "")


def status(exc: BaseException) -> int | None:
    """The HTTP status of an answer the SDK raised for (``None``: no answer)."""
    return exc.status_code if isinstance(exc, HttpResponseError) else None


def translate(
    exc: BaseException, container: str, name: str | None = None, *, configuring: bool = False
) -> BucketryError:
    """The bucketry error for whatever the Azure SDK raised.

    Messages name the container and the blob, never the account key or a SAS token: the SDK's
    own messages are not echoed, only its error code.
    """
    subject = f"{name!r} in container {container!r}" if name else f"container {container!r}"
    if isinstance(exc, BucketryError):
        return exc
    if isinstance(exc, DecodeError):  # a body that broke or would not parse
        return UnavailableError(f"Azure's answer for {subject} arrived damaged; try again.")
    if isinstance(exc, HttpResponseError):
        return _answered(exc, container, subject)
    if isinstance(
        exc, (ServiceRequestError, ServiceResponseError, aiohttp.ClientError, TimeoutError)
    ):
        return UnavailableError(
            f"Could not reach Azure for {subject} ({type(exc).__name__}); check account_url or "
            "the connection string's endpoint, and the network."
        )
    if isinstance(exc, DeserializationError):
        return UnavailableError(f"Azure's answer for {subject} arrived damaged; try again.")
    if isinstance(exc, AzureError):
        return BucketryError(f"Azure client error on {subject}: {type(exc).__name__}.")
    if isinstance(exc, (TypeError, AttributeError, KeyError)):
        # The SDK's own parsing of a sparse or damaged answer failing (an error answer with a
        # code and no message makes it add None to a str): the answer could not be read.
        return UnavailableError(
            f"Azure's answer for {subject} could not be read ({type(exc).__name__}); try again."
        )
    if isinstance(exc, ValueError):
        if not configuring:  # a field of an answer that does not parse: damaged in transit
            return UnavailableError(f"Azure's answer for {subject} arrived damaged.")
        # The SDK raises ValueError for malformed connection strings and credentials; its text
        # can quote them, so it is not repeated.
        return ConfigurationError(
            f"The Azure client rejected the configuration for {subject}; check the connection "
            "string, account_url and credential options."
        )
    return BucketryError(
        f"Unexpected error from the Azure client on {subject}: {type(exc).__name__}."
    )


def _answered(exc: HttpResponseError, container: str, subject: str) -> BucketryError:
    code, answer = error_code(exc), exc.status_code
    if code in _MISSING_CONTAINER:
        return ConfigurationError(
            f"Azure container {container!r} does not exist; create it or fix the container option."
        )
    if isinstance(exc, ResourceNotFoundError) or answer == 404:
        return NotFoundError(f"{subject} does not exist.")
    if isinstance(exc, ClientAuthenticationError):
        return PermissionDeniedError(
            f"Azure refused the credentials for {subject} ({code or 'denied'}); "
            "check the account key, SAS token or role assignment."
        )
    if answer == 403:
        return PermissionDeniedError(
            f"Azure refused access to {subject} ({code}); check the account key, SAS token "
            "or role assignment, and what it permits."
        )
    if isinstance(exc, ResourceModifiedError) or answer == 412:
        # If-None-Match on a create, If-Match on a read: the engine says which it sent.
        return PreconditionFailedError(f"{subject} is not in the state the request named.")
    if code in _EXISTS:
        return AlreadyExistsError(f"{subject} already exists.")
    # Azurite reports a bad Content-MD5 as InvalidOperation, with this message; Azure as
    # Md5Mismatch.
    if code in _DAMAGED_REQUEST or "contentmd5" in str(exc.message).lower().replace("-", ""):
        return IntegrityError(f"Azure received a damaged request for {subject} ({code}).")
    if code == "RequestBodyTooLarge" or answer == 413:
        return TooLargeError(f"Azure rejected {subject} as too large.")
    if answer is None or answer < 300 or answer >= 500 or answer in (408, 429):
        # No status, or a success that would not parse: the answer broke in transit.
        return UnavailableError(f"Azure is failing for {subject} ({code}); try again.")
    return BucketryError(f"Azure error on {subject}: {code or answer}.")


@contextmanager
def azure_errors(
    container: str, name: str | None = None, *, configuring: bool = False
) -> Iterator[None]:
    """Translate whatever the Azure SDK raises inside the block (for what runs outside a
    request: building the client)."""
    try:
        yield
    except Exception as exc:
        raise translate(exc, container, name, configuring=configuring) from exc
