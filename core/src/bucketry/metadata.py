"""User metadata that must travel in HTTP headers (S3, Azure): ASCII only, so encode the rest.

Non-ASCII values are stored as RFC 2047 encoded words, ``=?UTF-8?B?<base64>?=``, which is also how
S3 itself returns UTF-8 metadata, so values written by other tools decode the same way.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping

__all__ = [
    "CONTENT_MD5_KEY",
    "decode_azure_metadata",
    "decode_header_metadata",
    "encode_azure_metadata",
    "encode_header_metadata",
]

_ENCODED_WORD = re.compile(r"=\?UTF-8\?B\?([A-Za-z0-9+/=]*)\?=", re.IGNORECASE)


def encode_header_metadata(metadata: Mapping[str, str]) -> dict[str, str]:
    """Values that are not plain printable ASCII become encoded words."""
    encoded = {}
    for key, value in metadata.items():
        if value.isascii() and value.isprintable() and not value.startswith("=?"):
            encoded[key] = value
        else:
            word = base64.b64encode(value.encode("utf-8")).decode("ascii")
            encoded[key] = f"=?UTF-8?B?{word}?="
    return encoded


def decode_header_metadata(metadata: Mapping[str, str]) -> dict[str, str]:
    """The inverse of :func:`encode_header_metadata`; other values pass through unchanged."""
    decoded = {}
    for key, value in metadata.items():
        match = _ENCODED_WORD.fullmatch(value)
        if match is None:
            decoded[key] = value
            continue
        try:
            decoded[key] = base64.b64decode(match.group(1), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            decoded[key] = value
    return decoded


CONTENT_MD5_KEY = "bucketry_content_md5"
"""Where a backend that gets no checksum from Azure keeps the MD5 of what it stored. No escaped
key can take this form (escaping leaves ``_`` only before ``5f`` or ``2d``), and it is never
shown as user metadata."""

_ESCAPED_KEY = "bucketry_"
"""Marks a metadata key stored escaped: Azure takes only C# identifiers as metadata names."""
_KEY_ESCAPES = {"_": "_5f", "-": "_2d"}


def encode_azure_metadata(metadata: Mapping[str, str]) -> dict[str, str]:
    """Keys as Azure takes them, values as header-safe text.

    The contract allows ``-`` in a key and a leading digit (S3 and GCS store them), which Azure
    refuses (``InvalidMetadata``): such a key, and any key that starts with the marker, is
    stored as ``bucketry_`` + the key with ``_`` and ``-`` escaped, and read back unchanged.
    """
    stored = {}
    for key, value in encode_header_metadata(metadata).items():
        if key.isidentifier() and not key.startswith(_ESCAPED_KEY):
            stored[key] = value
        else:
            stored[_ESCAPED_KEY + "".join(_KEY_ESCAPES.get(c, c) for c in key)] = value
    return stored


def decode_azure_metadata(stored: Mapping[str, str]) -> dict[str, str]:
    """The inverse of :func:`encode_azure_metadata`."""
    metadata = {}
    for key, value in stored.items():
        if key == CONTENT_MD5_KEY:
            continue
        if key.startswith(_ESCAPED_KEY):
            key = re.sub(
                r"_(5f|2d)", lambda m: "_" if m.group(1) == "5f" else "-", key[len(_ESCAPED_KEY) :]
            )
        metadata[key] = value
    return decode_header_metadata(metadata)
