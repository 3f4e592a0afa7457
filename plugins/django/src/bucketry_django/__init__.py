"""Any bucketry backend behind Django's storage API: media, static files, upload limits."""

from __future__ import annotations

from bucketry_django.storage import (
    BucketryStaticStorage,
    BucketryStorage,
    ManifestBucketryStaticStorage,
    SuspiciousName,
)
from bucketry_django.uploadhandler import MaxSizeUploadHandler

__all__ = [
    "BucketryStaticStorage",
    "BucketryStorage",
    "ManifestBucketryStaticStorage",
    "MaxSizeUploadHandler",
    "SuspiciousName",
]
