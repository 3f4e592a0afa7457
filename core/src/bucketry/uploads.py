"""Saving untrusted uploads: where they go, how big, and what they really are.

The async framework this project descends from had ``FileField(upload_to=..., max_size=...)`` and
``ImageField``; these are the same rules without a framework. A client's file name is made boring
(:meth:`Storage.get_valid_name`), its claimed content type is ignored in favour of what the first
bytes say, ``max_size`` stops the upload as soon as it is crossed, and images can be checked with
Pillow (``pip install "bucketry[images]"``) from their header, before the rest is stored.
"""

from __future__ import annotations

import posixpath
from collections.abc import AsyncIterator, Callable, Collection
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bucketry.content import Content, ContentSource
from bucketry.errors import ConfigurationError, InvalidContentError
from bucketry.storage import Storage

__all__ = ["ImageRules", "SavedUpload", "UploadRules", "save_upload", "sniff_content_type"]

SNIFF_BYTES = 64 * 1024
"""How much of an upload is read before deciding what it is (image headers fit in this)."""

_SIGNATURES: list[tuple[int, bytes, str]] = [
    (0, b"\x89PNG\r\n\x1a\n", "image/png"),
    (0, b"\xff\xd8\xff", "image/jpeg"),
    (0, b"GIF87a", "image/gif"),
    (0, b"GIF89a", "image/gif"),
    (0, b"II*\x00", "image/tiff"),
    (0, b"MM\x00*", "image/tiff"),
    (0, b"\x00\x00\x01\x00", "image/x-icon"),
    (0, b"BM", "image/bmp"),
    (0, b"%PDF-", "application/pdf"),
    (0, b"PK\x03\x04", "application/zip"),
    (0, b"\x1f\x8b", "application/gzip"),
    (0, b"ID3", "audio/mpeg"),
    (0, b"OggS", "audio/ogg"),
    (0, b"fLaC", "audio/flac"),
    (4, b"ftyp", "video/mp4"),
    (0, b"\x1aE\xdf\xa3", "video/webm"),
]


def sniff_content_type(head: bytes) -> str:
    """The content type the first bytes show; ``application/octet-stream`` when unknown."""
    if head[:4] == b"RIFF" and head[8:12] in (b"WEBP", b"WAVE", b"AVI "):
        return {b"WEBP": "image/webp", b"WAVE": "audio/wav", b"AVI ": "video/x-msvideo"}[head[8:12]]
    for offset, signature, content_type in _SIGNATURES:
        if head[offset : offset + len(signature)] == signature:
            return content_type
    text = head.lstrip()[:512].lower()
    if text.startswith((b"<svg", b"<?xml")) and b"<svg" in text:
        return "image/svg+xml"
    if text.startswith((b"<!doctype html", b"<html")):
        return "text/html"
    try:
        decoded = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 4:  # not just a character cut at the end of the sample
            return "application/octet-stream"
        decoded = head[: exc.start].decode("utf-8")
    if all(char.isprintable() or char in "\r\n\t\f" for char in decoded):
        return "text/plain"
    return "application/octet-stream"


@dataclass(frozen=True)
class ImageRules:
    """What makes an image acceptable. Checked on the header, before the body is stored."""

    formats: Collection[str] = ("PNG", "JPEG", "GIF", "WEBP")
    max_width: int | None = None
    max_height: int | None = None
    min_width: int | None = None
    min_height: int | None = None


@dataclass(frozen=True)
class UploadRules:
    """Where an upload goes and what it may be.

    ``upload_to`` is a directory (strftime patterns allowed: ``"avatars/%Y/%m/"``) or a callable
    from the cleaned file name to the full name. ``allowed_types`` holds content types or
    ``"image/*"``-style families, checked against the sniffed type, never the client's claim.
    """

    upload_to: str | Callable[[str], str] = ""
    max_size: int | None = None
    allowed_types: Collection[str] | None = None
    image: ImageRules | None = None
    overwrite: bool = False
    now: Callable[[], datetime] = field(default=datetime.now, repr=False)

    def name_for(self, storage: Storage, filename: str) -> str:
        """The storage name for a client's file name (its directories are dropped)."""
        base = posixpath.basename(filename.replace("\\", "/")) or "upload"
        cleaned = storage.get_valid_name(base)
        if callable(self.upload_to):
            return str(self.upload_to(cleaned))
        directory = self.now().strftime(self.upload_to) if self.upload_to else ""
        return posixpath.join(directory, cleaned) if directory else cleaned

    def allows(self, content_type: str) -> bool:
        if self.allowed_types is None:
            return True
        family = content_type.split("/", 1)[0] + "/*"
        return content_type in self.allowed_types or family in self.allowed_types


@dataclass(frozen=True)
class SavedUpload:
    """What was stored: its final name, size in bytes, sniffed type and, for images, pixels."""

    name: str
    size: int
    content_type: str
    width: int | None = None
    height: int | None = None


async def save_upload(
    storage: Storage,
    content: Content,
    filename: str,
    rules: UploadRules | None = None,
    *,
    metadata: dict[str, str] | None = None,
) -> SavedUpload:
    """Store an untrusted upload under ``rules``; raise before storing anything it breaks.

    ``content`` is anything ``save`` takes: Starlette/FastAPI's ``UploadFile``, a request body
    stream (``request.stream()``), bytes. Oversize content raises :class:`TooLargeError` as soon as
    it crosses ``max_size``; a refused type or image raises :class:`InvalidContentError`. Neither
    leaves anything behind.
    """
    rules = rules or UploadRules()
    chunks = ContentSource(content).chunks(rules.max_size)
    head = bytearray()
    ahead: list[bytes] = []
    async for chunk in chunks:
        ahead.append(chunk)
        head += chunk
        if len(head) >= SNIFF_BYTES:
            break
    content_type = sniff_content_type(bytes(head[:SNIFF_BYTES]))
    if not rules.allows(content_type):
        raise InvalidContentError(
            f"Uploads of type {content_type} are not allowed here; allowed: "
            f"{', '.join(sorted(rules.allowed_types or []))}."
        )
    size_info: tuple[int, int] | None = None
    if rules.image is not None:
        size_info = _check_image(bytes(head), rules.image)

    size = 0

    async def everything() -> AsyncIterator[bytes]:
        nonlocal size
        while ahead:
            piece = ahead.pop(0)
            size += len(piece)
            yield piece
        async for piece in chunks:
            size += len(piece)
            yield piece

    name = await storage.save(
        rules.name_for(storage, filename),
        everything(),
        content_type=content_type,
        metadata=metadata,
        overwrite=rules.overwrite,
        max_size=rules.max_size,
    )
    width, height = size_info if size_info else (None, None)
    return SavedUpload(name, size, content_type, width, height)


def _check_image(head: bytes, rules: ImageRules) -> tuple[int, int]:
    try:
        from PIL import Image, ImageFile
    except ImportError:
        raise ConfigurationError(
            'Image checks need Pillow: pip install "bucketry[images]"'
        ) from None
    parser: Any = ImageFile.Parser()
    try:
        parser.feed(head)
    except (OSError, SyntaxError, Image.DecompressionBombError, ValueError):
        raise InvalidContentError("The upload is not a readable image.") from None
    image = parser.image
    if image is None:
        raise InvalidContentError(
            f"The upload is not an image (its first {len(head)} bytes have no image header)."
        )
    fmt = str(image.format)
    if fmt not in rules.formats:
        raise InvalidContentError(
            f"Images in {fmt} format are not allowed; allowed: {', '.join(rules.formats)}."
        )
    width, height = image.size
    limits: list[tuple[int | None, int, str, bool]] = [
        (rules.max_width, width, "wide", True),
        (rules.max_height, height, "tall", True),
        (rules.min_width, width, "narrow", False),
        (rules.min_height, height, "short", False),
    ]
    for limit, value, word, is_maximum in limits:
        if limit is not None and (value > limit if is_maximum else value < limit):
            raise InvalidContentError(
                f"The image is {width}x{height} pixels: too {word} (limit {limit})."
            )
    return width, height
