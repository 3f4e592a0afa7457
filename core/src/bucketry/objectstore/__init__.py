"""The object-store engine: what every cloud backend shares, written once.

A cloud backend subclasses :class:`BucketStorage` and implements its hooks, each one request in
its SDK's terms (see :mod:`bucketry.objectstore.engine` for the list, and
:mod:`bucketry.objectstore.memory` for a complete adapter of an in-process bucket).
"""

from __future__ import annotations

from bucketry.objectstore.engine import BucketStorage, md5_etag_of, plain_etag
from bucketry.objectstore.keys import key_prefix, name_for_key
from bucketry.objectstore.wire import Answer, Listed, ObjectHead, Page, Part, Put, Stored

__all__ = [
    "Answer",
    "BucketStorage",
    "Listed",
    "ObjectHead",
    "Page",
    "Part",
    "Put",
    "Stored",
    "key_prefix",
    "md5_etag_of",
    "name_for_key",
    "plain_etag",
]
