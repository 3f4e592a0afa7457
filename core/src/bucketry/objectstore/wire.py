"""What the engine and an adapter's hooks hand each other: plain values, no SDK types.

An adapter turns these into its SDK's calls and its SDK's answers back into these; everything
the engine decides (retry, own write, damage, names) it decides from these alone.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType

__all__ = ["Answer", "Listed", "ObjectHead", "Page", "Part", "Put", "Stored"]


def _empty() -> Mapping[str, str]:
    return MappingProxyType({})


@dataclass(frozen=True, slots=True)
class Put:
    """One object to store: where, how it is described, and under which condition."""

    key: str
    content_type: str
    metadata: Mapping[str, str] = field(default_factory=_empty)
    """User metadata as the contract gives it; the adapter encodes it for its service."""
    if_absent: bool = False
    """Create only: the service must refuse (412, or its "already exists") if the key is taken."""


@dataclass(frozen=True, slots=True)
class Stored:
    """The service's answer to a commit (a single put, a completed multipart upload)."""

    tag: str | None = None
    """The version stored (an ETag, a generation): a damaged create removes exactly this one."""
    checksum: str | None = None
    """What the service says it received, in the adapter's ``upload_checksum`` (``None``: it
    says nothing the engine can compare)."""
    problem: str | None = None
    """A difference the adapter found between what was sent and what the answer describes,
    besides the checksum (GCS echoes the name, type and metadata it stored)."""
    key: str | None = None
    """The key the service says it stored under, where it says (``None``: the one sent). A
    request whose key was damaged on the way stored the bytes elsewhere: that object is
    removed, and the name sent was never touched."""


@dataclass(frozen=True, slots=True)
class Part:
    """One uploaded part of a multipart upload, as the completion needs to name it."""

    number: int
    tag: str
    """The part's ETag, or the block id: what the completion lists."""
    size: int
    md5: bytes
    """The binary MD5 of the part as sent (S3's multipart ETag is made of these)."""


@dataclass(frozen=True, slots=True)
class ObjectHead:
    """An object's properties, as a HEAD (or a listing that carries them) reports them."""

    size: int
    etag: str | None = None
    content_type: str | None = None
    last_modified: datetime | None = None
    metadata: Mapping[str, str] = field(default_factory=_empty)
    checksums: Mapping[str, str] = field(default_factory=_empty)
    """What the service shows of the bytes, by algorithm (``"md5"`` hex, ``"crc32c"`` base64,
    ``"s3-multipart"`` for S3's ETag of a multipart object): how an own write is recognised."""


@dataclass(slots=True)
class Answer:
    """An answered read: its version, what it says of the whole object, and its body."""

    chunks: AsyncIterator[bytes]
    """The body; closing it releases the connection."""
    tag: str | None = None
    """The version read (an ETag, a generation): a resumed read names it as its precondition."""
    checksums: Mapping[str, str] = field(default_factory=_empty)
    """Checksums of the whole object, by algorithm (meaningful on an answer from byte 0)."""


@dataclass(frozen=True, slots=True)
class Listed:
    """One object of a listing page, by key."""

    key: str
    size: int
    etag: str | None = None
    last_modified: datetime | None = None
    content_type: str | None = None
    metadata: Mapping[str, str] = field(default_factory=_empty)


@dataclass(frozen=True, slots=True)
class Page:
    """One listing page: objects, common prefixes (keys ending in ``/``), the next token."""

    objects: list[Listed]
    prefixes: list[str] = field(default_factory=list)
    token: str | None = None
