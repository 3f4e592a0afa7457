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
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
    ServiceRequestError,
    ServiceResponseError,
)

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

__all__ = ["azure_errors", "error_code"]

_MISSING_CONTAINER = {"ContainerNotFound", "ContainerBeingDeleted"}
_INTEGRITY = {"Md5Mismatch", "Crc64Mismatch", "InvalidMd5"}


def error_code(exc: HttpResponseError) -> str:
    """The service's error code (``BlobNotFound``, ``BlobAlreadyExists``, …)."""
    return str(getattr(exc, "error_code", None) or "")


@contextmanager
def azure_errors(
    container: str, name: str | None = None, *, configuring: bool = False
) -> Iterator[None]:
    """Translate whatever the Azure SDK raises inside the block.

    Messages name the container and the blob, never the account key or a SAS token: the SDK's
    own messages are not echoed, only its error code.
    """
    subject = f"{name!r} in container {container!r}" if name else f"container {container!r}"
    try:
        yield
    except BucketryError:
        raise
    except ResourceNotFoundError as exc:
        if error_code(exc) in _MISSING_CONTAINER:
            raise ConfigurationError(
                f"Azure container {container!r} does not exist; create it or fix the "
                "container option."
            ) from exc
        raise NotFoundError(f"{subject} does not exist.") from exc
    except (ResourceExistsError, ResourceModifiedError) as exc:
        raise AlreadyExistsError(f"{subject} already exists.") from exc
    except ClientAuthenticationError as exc:
        raise PermissionDeniedError(
            f"Azure refused the credentials for {subject} ({error_code(exc) or 'denied'}); "
            "check the account key, SAS token or role assignment."
        ) from exc
    except HttpResponseError as exc:
        code, status = error_code(exc), exc.status_code
        if status == 403:
            raise PermissionDeniedError(
                f"Azure refused access to {subject} ({code}); check the account key, SAS token "
                "or role assignment, and what it permits."
            ) from exc
        # Azurite reports a bad Content-MD5 as InvalidOperation; Azure as Md5Mismatch.
        if code in _INTEGRITY or "contentmd5" in str(exc.message).lower().replace("-", ""):
            raise IntegrityError(f"Azure reports a checksum mismatch for {subject}.") from exc
        if code == "RequestBodyTooLarge" or status == 413:
            raise TooLargeError(f"Azure rejected {subject} as too large.") from exc
        if status in (409, 412):
            raise AlreadyExistsError(f"{subject} already exists ({code}).") from exc
        if status is None or status < 300 or status >= 500 or status in (408, 429):
            # No status, or a success that would not parse: the answer broke in transit.
            raise UnavailableError(f"Azure is failing for {subject} ({code}); try again.") from exc
        raise BucketryError(f"Azure error on {subject}: {code or status}.") from exc
    except (ServiceRequestError, ServiceResponseError, aiohttp.ClientError, TimeoutError) as exc:
        raise UnavailableError(
            f"Could not reach Azure for {subject} ({type(exc).__name__}); check account_url or "
            "the connection string's endpoint, and the network."
        ) from exc
    except (DecodeError, DeserializationError) as exc:
        raise UnavailableError(f"Azure's answer for {subject} arrived damaged; try again.") from exc
    except AzureError as exc:
        if str(exc.message).startswith("MD5 mismatch"):  # the SDK's only sign of it
            raise IntegrityError(
                f"The bytes of {subject} do not match the MD5 Azure sent with them."
            ) from exc
        raise BucketryError(f"Azure client error on {subject}: {type(exc).__name__}.") from exc
    except (TypeError, AttributeError, KeyError) as exc:
        # The SDK's own parsing of a sparse or damaged answer failing (an error answer with a
        # code and no message makes it add None to a str): the answer could not be read.
        raise UnavailableError(
            f"Azure's answer for {subject} could not be read ({type(exc).__name__}); try again."
        ) from exc
    except ValueError as exc:
        if not configuring:  # a field of an answer that does not parse: damaged in transit
            raise UnavailableError(f"Azure's answer for {subject} arrived damaged.") from exc
        # The SDK raises ValueError for malformed connection strings and credentials; its text
        # can quote them, so it is not repeated.
        raise ConfigurationError(
            f"The Azure client rejected the configuration for {subject}; check the connection "
            "string, account_url and credential options."
        ) from exc
