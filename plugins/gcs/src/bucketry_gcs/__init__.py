from bucketry_gcs.storage import GCSStorage

__all__ = ["GCSStorage"]
