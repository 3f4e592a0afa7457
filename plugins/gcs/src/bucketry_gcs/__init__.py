from bucketry.backend import (
    register_checksum,
)
from bucketry_gcs.checksum import Crc32c
from bucketry_gcs.storage import GCSStorage

register_checksum("crc32c", Crc32c)  # the engine's running CRC32C of uploads and reads, fast

__all__ = ["GCSStorage"]
