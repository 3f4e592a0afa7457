from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import pytest

from tests.clouds import backend_under_test  # noqa: F401 (a fixture for every test module)
from tests.emulators import (
    azurite_server,
    create_gcs_bucket,
    fake_gcs_server,
    moto_server,
    raw_s3_client,
)

pytest_plugins = ["pytester"]


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    with moto_server() as endpoint:
        yield endpoint


@pytest.fixture(scope="session")
def s3_raw(moto_endpoint: str) -> Any:
    return raw_s3_client(moto_endpoint)


@pytest.fixture(scope="session")
def s3_bucket(s3_raw: Any) -> str:
    bucket = f"bucketry-{secrets.token_hex(4)}"
    s3_raw.create_bucket(Bucket=bucket)
    return bucket


@pytest.fixture(scope="session")
def azurite_connection_string() -> Iterator[str]:
    with azurite_server() as connection_string:
        yield connection_string


@pytest.fixture(scope="session")
def azure_container(azurite_connection_string: str) -> str:
    from azure.storage.blob import BlobServiceClient

    container = f"bucketry-{secrets.token_hex(4)}"
    service = BlobServiceClient.from_connection_string(azurite_connection_string)
    service.create_container(container)
    service.close()
    return container


@pytest.fixture(scope="session")
def gcs_endpoint() -> Iterator[str]:
    with fake_gcs_server() as endpoint:
        yield endpoint


@pytest.fixture(scope="session")
def gcs_bucket(gcs_endpoint: str) -> str:
    bucket = f"bucketry-{secrets.token_hex(4)}"
    create_gcs_bucket(gcs_endpoint, bucket)
    return bucket
