"""Any bucketry storage as an fsspec filesystem, under the ``bucketry://`` protocol."""

from __future__ import annotations

from bucketry_fsspec.filesystem import BucketryFile, BucketryFileSystem

__all__ = ["BucketryFile", "BucketryFileSystem"]
