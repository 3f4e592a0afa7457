"""What both Azure engines (the SDK backend and obstore's) share: the connection-string form,
and how metadata is stored so either engine reads what the other wrote."""

from __future__ import annotations

import re
from collections.abc import Mapping

from bucketry.metadata import decode_header_metadata, encode_header_metadata

__all__ = [
    "CONTENT_MD5_KEY",
    "decode_azure_metadata",
    "encode_azure_metadata",
    "parse_connection_string",
]


def parse_connection_string(connection_string: str) -> dict[str, str]:
    """``AccountName=...;AccountKey=...;BlobEndpoint=...`` as a dict; items without ``=`` are
    skipped, and a value keeps any ``=`` of its own (base64 keys end in ``=``)."""
    parts = {}
    for item in connection_string.split(";"):
        key, separator, value = item.partition("=")
        if separator:
            parts[key.strip()] = value.strip()
    return parts


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
