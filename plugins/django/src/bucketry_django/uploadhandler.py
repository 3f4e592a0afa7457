"""An upload handler that stops reading a request as soon as a file is too large.

Django reads the whole request body into memory or temp files before a view runs. With this
handler first in ``FILE_UPLOAD_HANDLERS``, an upload past ``BUCKETRY_UPLOAD_MAX_SIZE`` bytes stops
the reading there (``StopUpload(connection_reset=True)``): the rest of the body is never read and
the view sees no file for that field.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.files.uploadhandler import FileUploadHandler, StopUpload

__all__ = ["MaxSizeUploadHandler"]


class MaxSizeUploadHandler(FileUploadHandler):  # type: ignore[misc]
    """Counts each file's bytes and stops the upload past the limit."""

    def __init__(self, request: Any = None) -> None:
        super().__init__(request)
        self.limit: int | None = getattr(settings, "BUCKETRY_UPLOAD_MAX_SIZE", None)
        self.received = 0
        self.stopped = False

    def new_file(self, *args: Any, **kwargs: Any) -> None:
        super().new_file(*args, **kwargs)
        self.received = 0

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes | None:
        self.received += len(raw_data)
        if self.limit is not None and self.received > self.limit:
            self.stopped = True
            if self.request is not None:
                self.request.bucketry_upload_too_large = True
            raise StopUpload(connection_reset=True)
        return raw_data  # pass it on to the next handler

    def file_complete(self, file_size: int) -> None:
        return None
