from bucketry_s3.storage import S3Storage

__all__ = ["S3Storage"]
