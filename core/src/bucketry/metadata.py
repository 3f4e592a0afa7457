"""User metadata that must travel in HTTP headers (S3, Azure): ASCII only, so encode the rest.

Non-ASCII values are stored as RFC 2047 encoded words, ``=?UTF-8?B?<base64>?=``, which is also how
S3 itself returns UTF-8 metadata, so values written by other tools decode the same way.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping

__all__ = ["decode_header_metadata", "encode_header_metadata"]

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
