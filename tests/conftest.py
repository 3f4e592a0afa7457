from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import pytest

from tests.emulators import moto_server, raw_s3_client

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
