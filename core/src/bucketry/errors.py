"""Errors raised by bucketry.

Every error a user can see is one of these; backends translate their SDK's exceptions at one
boundary each, so no ``botocore``, ``aiohttp`` or ``azure.core`` exception ever escapes. Each class
also inherits the builtin exception a Python programmer would reach for first, so plain
``except FileNotFoundError`` keeps working::

    BucketryError
    ├── NotFoundError              (FileNotFoundError)   the file does not exist
    ├── AlreadyExistsError         (FileExistsError)     create-if-absent found the name taken
    ├── PreconditionFailedError                          the file is not the version a request named
    ├── PermissionDeniedError      (PermissionError)     the backend refused the credentials
    ├── UnsafeNameError            (ValueError)          a name that could escape or confuse storage
    ├── TooLargeError              (ValueError)          content went past ``max_size``
    ├── InvalidContentError        (ValueError)          an upload is not what the rules allow
    ├── IntegrityError                                   bytes changed between us and the backend
    ├── UnsupportedError           (NotImplementedError) the backend does not offer this capability
    ├── UnavailableError           (ConnectionError)     the backend is unreachable or failing
    └── ConfigurationError         (ValueError)          storage options are missing or wrong
        └── UnknownBackendError    (LookupError)         no installed backend has that name
"""

from __future__ import annotations

from bucketry.redaction import scrub

__all__ = [
    "AlreadyExistsError",
    "BucketryError",
    "ConfigurationError",
    "IntegrityError",
    "InvalidContentError",
    "NotFoundError",
    "PermissionDeniedError",
    "PreconditionFailedError",
    "TooLargeError",
    "UnavailableError",
    "UnknownBackendError",
    "UnsafeNameError",
    "UnsupportedError",
]


class BucketryError(Exception):
    """Base class of every error bucketry raises.

    Its message is scrubbed of secrets when it is made (see :mod:`bucketry.redaction`), so no
    error, wherever it is printed or logged, carries a key, a token or a signature.
    """

    def __init__(self, *args: object) -> None:
        super().__init__(*(scrub(arg) if isinstance(arg, str) else arg for arg in args))


class NotFoundError(BucketryError, FileNotFoundError):
    """The named file does not exist in the storage."""


class AlreadyExistsError(BucketryError, FileExistsError):
    """A create-if-absent write, copy or move found its target name already taken."""


class PreconditionFailedError(BucketryError):
    """The file is no longer the version a request was made on (HTTP 412): it was replaced or
    removed in between. A backend's boundary raises it for every failed precondition; what it
    means (a taken name, a file replaced mid-read) is said where the precondition was sent."""


class PermissionDeniedError(BucketryError, PermissionError):
    """The backend refused the operation with the credentials it was given."""


class UnsafeNameError(BucketryError, ValueError):
    """A file name was rejected because it could escape the storage or mean two things."""


class TooLargeError(BucketryError, ValueError):
    """Content grew past the ``max_size`` given to ``save``; nothing was stored."""


class InvalidContentError(BucketryError, ValueError):
    """An upload's bytes are not an allowed kind (its sniffed type, or not a valid image)."""


class IntegrityError(BucketryError):
    """A checksum did not match: the bytes stored or received are not the bytes sent."""


class UnsupportedError(BucketryError, NotImplementedError):
    """The backend does not offer this capability; see ``Storage.capabilities``."""


class UnavailableError(BucketryError, ConnectionError):
    """The backend could not be reached or kept failing; the operation may succeed later."""


class ConfigurationError(BucketryError, ValueError):
    """Storage options are missing, unknown or of the wrong type."""


class UnknownBackendError(ConfigurationError, LookupError):
    """No installed backend is registered under the requested name."""
