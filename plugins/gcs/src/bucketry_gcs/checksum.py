"""CRC32C by google_crc32c's C extension, for the engine's running ``"crc32c"`` (the one
bucketry has without it is a table walked byte by byte in Python)."""

from __future__ import annotations

import base64

import google_crc32c

__all__ = ["Crc32c"]


class Crc32c:
    """A running CRC32C, in the base64 form GCS reports (``x-goog-hash``, ``crc32c``)."""

    __slots__ = ("_crc",)

    def __init__(self) -> None:
        self._crc = 0

    def update(self, data: bytes | bytearray | memoryview) -> None:
        # The C extension takes bytes only.
        self._crc = google_crc32c.extend(self._crc, data if type(data) is bytes else bytes(data))

    def value(self) -> str:
        return base64.b64encode(self._crc.to_bytes(4, "big")).decode()
