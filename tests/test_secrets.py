"""Recognisable fake secrets never show up in repr, str, log records or error messages.

Each backend is given fake credentials, used against its emulator (where they are refused or
ignored) and against an endpoint that does not answer, with every logger at DEBUG.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from bucketry import BucketryError, Storage
from bucketry_azure import AzureStorage
from bucketry_gcs import GCSStorage
from bucketry_s3 import S3Storage
from tests.emulators import AZURITE_ACCOUNT

pytestmark = pytest.mark.anyio

S3_SECRETS = {
    "access_key_id": "AKIAFAKEBUCKETRY0001",
    "secret_access_key": "fake/Secret+Bucketry/0001",
    "session_token": "FAKESESSIONTOKENBUCKETRY0001",
}
AZURE_KEY = "RkFLRS1CVUNLRVRSWS1BQ0NPVU5ULUtFWS0wMDAx"
AZURE_SAS = "sv=2025-01-05&ss=b&srt=o&sp=r&se=2030-01-01T00:00:00Z&sig=FAKESIGBUCKETRY0001"


def chain(exc: BaseException | None) -> str:
    texts = []
    while exc is not None:
        texts.append(f"{type(exc).__name__}: {exc}")
        exc = exc.__cause__ or exc.__context__
    return "\n".join(texts)


async def exercise(
    storage: Storage, secrets: list[str], caplog: pytest.LogCaptureFixture, *, logs: bool = True
) -> None:
    caplog.set_level(logging.DEBUG)
    errors: list[str] = []
    operations: list[Callable[[], Awaitable[Any]]] = [
        lambda: storage.save("secret-test.txt", b"x"),
        lambda: storage.open("secret-test.txt"),
        lambda: storage.exists("missing.txt"),
    ]
    async with storage:
        for operation in operations:
            try:
                await operation()
            except BucketryError as exc:
                errors.append(chain(exc))
    shown = "\n".join([repr(storage), str(storage), caplog.text, *errors])
    if logs:
        assert caplog.records, "the SDK logged its requests at DEBUG"
    for secret in secrets:
        assert secret not in shown, f"{secret[:12]}... leaked"


async def test_s3_secrets(
    moto_endpoint: str, s3_bucket: str, caplog: pytest.LogCaptureFixture
) -> None:
    for endpoint in (moto_endpoint, "http://127.0.0.1:9"):
        storage = S3Storage(
            bucket=s3_bucket,
            endpoint_url=endpoint,
            region="us-east-1",
            max_attempts=1,
            **S3_SECRETS,
        )
        await exercise(storage, list(S3_SECRETS.values()), caplog)


async def test_azure_secrets(
    azurite_connection_string: str, azure_container: str, caplog: pytest.LogCaptureFixture
) -> None:
    endpoint = azurite_connection_string.split("BlobEndpoint=")[1].split(";")[0]
    wrong_key = (
        azurite_connection_string.split("AccountKey=")[0]
        + f"AccountKey={AZURE_KEY};"
        + (f"BlobEndpoint={endpoint};")
    )
    storages = [
        AzureStorage(container=azure_container, connection_string=wrong_key, max_attempts=1),
        AzureStorage(
            container=azure_container,
            account_url=endpoint,
            account_name=AZURITE_ACCOUNT,
            account_key=AZURE_KEY,
            max_attempts=1,
        ),
        AzureStorage(
            container=azure_container, account_url=endpoint, sas_token=AZURE_SAS, max_attempts=1
        ),
        AzureStorage(
            container=azure_container,
            account_url="http://127.0.0.1:9/devstoreaccount1",
            account_key=AZURE_KEY,
            max_attempts=1,
        ),
    ]
    for storage in storages:
        await exercise(storage, [AZURE_KEY, "FAKESIGBUCKETRY0001", AZURE_SAS], caplog)


async def test_gcs_secrets(
    gcs_endpoint: str, gcs_bucket: str, caplog: pytest.LogCaptureFixture
) -> None:
    from tests.test_gcs import fake_service_account

    info = fake_service_account()
    info["token_uri"] = "http://127.0.0.1:9/token"  # never a real identity service
    key_line = info["private_key"].splitlines()[5]
    for options in ({"emulator_host": gcs_endpoint}, {"api_root": "http://127.0.0.1:9"}):
        storage = GCSStorage(
            bucket=gcs_bucket, service_info=json.dumps(info), max_attempts=1, **options
        )
        await exercise(storage, [info["private_key"], key_line], caplog, logs=False)
