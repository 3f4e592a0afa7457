"""Any bucketry backend behind Django's storage API: ``bucketry_django.BucketryStorage``."""

from __future__ import annotations

from bucketry_django.storage import BucketryStorage
from bucketry_django.uploadhandler import MaxSizeUploadHandler

__all__ = ["BucketryStorage", "MaxSizeUploadHandler"]
