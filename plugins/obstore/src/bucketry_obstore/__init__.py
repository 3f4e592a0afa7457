"""S3 and Azure bucketry backends on obstore, the Python binding of Rust's object_store.

There is no GCS backend on obstore yet: object_store speaks GCS's XML API for every object
request, which no GCS emulator installable here implements (fake-gcs-server speaks the JSON API),
so it could not be held to the contract suite; ``gcs`` (the JSON API on aiohttp) is the GCS
backend.
"""

from bucketry_obstore.azure import AzureObstoreStorage
from bucketry_obstore.s3 import S3ObstoreStorage

__all__ = ["AzureObstoreStorage", "S3ObstoreStorage"]
