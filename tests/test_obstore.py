"""The obstore backends against the same emulators as the SDK backends, moto and Azurite: the whole
contract on each, then what the obstore engine adds or changes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from bucketry_conformance import StorageContract
from bucketry_obstore import AzureObstoreStorage, S3ObstoreStorage
from tests.emulators import S3_KEY_ID, S3_SECRET

MiB = 1024 * 1024


def s3_storage(endpoint: str, bucket: str, **options: Any) -> S3ObstoreStorage:
    settings: dict[str, Any] = {
        "bucket": bucket,
        "endpoint_url": endpoint,
        "region": "us-east-1",
        "access_key_id": S3_KEY_ID,
        "secret_access_key": S3_SECRET,
        "multipart_threshold": 5 * MiB,
        "part_size": 5 * MiB,
        "list_page_size": 7,
    }
    return S3ObstoreStorage(**(settings | options))


def azure_storage(connection_string: str, container: str, **options: Any) -> AzureObstoreStorage:
    settings: dict[str, Any] = {
        "container": container,
        "connection_string": connection_string,
        "multipart_threshold": 5 * MiB,
        "part_size": 5 * MiB,
        "list_page_size": 7,
    }
    return AzureObstoreStorage(**(settings | options))


class TestS3ObstoreContract(StorageContract):
    list_page_size = 7

    @pytest.fixture
    async def storage(self, moto_endpoint: str, s3_bucket: str) -> AsyncIterator[S3ObstoreStorage]:
        async with s3_storage(moto_endpoint, s3_bucket, prefix="obstore-contract") as storage:
            yield storage


class TestAzureObstoreContract(StorageContract):
    list_page_size = 7

    @pytest.fixture
    async def storage(
        self, azurite_connection_string: str, azure_container: str
    ) -> AsyncIterator[AzureObstoreStorage]:
        async with azure_storage(
            azurite_connection_string, azure_container, prefix="obstore-contract"
        ) as storage:
            yield storage
