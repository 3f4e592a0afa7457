"""The filesystem backend: atomic writes under one directory, never outside it."""

from __future__ import annotations

from bucketry_filesystem.storage import TEMP_PREFIX, FileSystemStorage

__all__ = ["TEMP_PREFIX", "FileSystemStorage"]
