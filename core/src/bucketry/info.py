"""What a storage says about a file, and what a backend says about itself."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType

__all__ = ["Capability", "FileInfo"]


class Capability(enum.StrEnum):
    """Optional parts of the contract. A backend lists the ones it keeps in ``capabilities``.

    Anything not listed raises :class:`~bucketry.errors.UnsupportedError` when asked for, and the
    conformance suite reports it as unsupported rather than passed.
    """

    CONDITIONAL_CREATE = "conditional-create"
    """``save(overwrite=False)`` decides availability atomically: concurrent saves never clobber."""
    CONTENT_TYPE = "content-type"
    """The ``content_type`` given to ``save`` is stored and returned by ``stat``."""
    METADATA = "metadata"
    """User metadata given to ``save`` is stored and returned by ``stat``."""
    PUBLIC_URL = "public-url"
    """``url()`` returns an address for the file."""
    SIGNED_URL = "signed-url"
    """``signed_url()`` returns an expiring address that a plain HTTP client can use."""
    SERVER_SIDE_COPY = "server-side-copy"
    """``copy``/``move`` happen inside the backend; the bytes do not pass through this process."""
    PINNED_RESUME = "pinned-resume"
    """A read resumed after a break continues on the version it began on: a file replaced in
    between raises :class:`~bucketry.errors.IntegrityError`, never a mix of two versions. The
    backend's ``_stream`` takes the :class:`~bucketry.storage.ReadVersion` to check."""


def _frozen_metadata() -> Mapping[str, str]:
    return MappingProxyType({})


@dataclass(frozen=True, slots=True)
class FileInfo:
    """A file's name and properties, as ``stat`` and ``list`` return them.

    ``etag`` is an opaque version tag (it changes when the content does); ``content_type`` and
    ``last_modified`` are ``None`` where the backend does not know them.
    """

    name: str
    size: int
    etag: str | None = None
    content_type: str | None = None
    last_modified: datetime | None = None
    metadata: Mapping[str, str] = field(default_factory=_frozen_metadata)
