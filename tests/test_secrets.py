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


def test_the_cli_never_echoes_a_secret_from_a_url(
    moto_endpoint: str, s3_bucket: str, tmp_path: Any
) -> None:
    """Errors that quote the URL a user typed show its shape, not its keys."""
    from urllib.parse import quote

    from tests.test_cli import bucketry, err, out

    query = (
        f"endpoint_url={moto_endpoint}&region=us-east-1"
        f"&access_key_id={S3_SECRETS['access_key_id']}"
        f"&secret_access_key={quote(S3_SECRETS['secret_access_key'], safe='')}"
        f"&session_token={S3_SECRETS['session_token']}"
    )
    base = f"s3://{s3_bucket}/never-there"
    runs = [
        bucketry("cat", f"{base}/missing.txt?{query}"),
        bucketry("cp", "-r", f"{base}/?{query}", str(tmp_path / "out")),
        bucketry("ls", f"s3://?{query}"),
        bucketry("stat", f"{base}/x?{query}&regoin=eu"),
    ]
    for result in runs:
        shown = out(result) + err(result)
        assert result.returncode != 0 or "Nothing" in shown, shown
        for secret in [*S3_SECRETS.values(), quote(S3_SECRETS["secret_access_key"], safe="")]:
            assert secret not in shown, f"{secret[:8]}... leaked: {shown}"


async def test_a_damaged_service_account_key_is_a_configuration_error_without_the_key() -> None:
    from bucketry import ConfigurationError, create_storage
    from tests.test_gcs import fake_service_account

    info = fake_service_account()
    pem = info["private_key"]
    info["private_key"] = pem.replace(pem.splitlines()[3], pem.splitlines()[3][::-1])
    damaged = json.dumps(info)
    key_lines = [line for line in info["private_key"].splitlines() if "-----" not in line]
    with pytest.raises(ConfigurationError) as direct:
        GCSStorage(bucket="b", service_info=damaged)
    from urllib.parse import quote

    with pytest.raises(ConfigurationError) as by_url:
        create_storage(f"gs://b?service_info={quote(damaged, safe='')}")
    for exc in (direct.value, by_url.value):
        shown = chain(exc)
        for line in key_lines:
            assert line not in shown, shown
            assert quote(line, safe="") not in shown, shown


async def test_presigning_before_any_request_logs_no_key(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """url() signs without connecting: the SDK's DEBUG log of it must already be scrubbed,
    the session token's URL-encoded form included."""
    caplog.set_level(logging.DEBUG)
    token = "FAKE/SESSION+TOKEN/BUCKETRY0002"
    storage = S3Storage(
        bucket="b",
        region="us-east-1",
        endpoint_url="http://127.0.0.1:9",
        access_key_id="AKIAFAKEBUCKETRY0002",
        secret_access_key="fake/Secret+Bucketry/0002",
        session_token=token,
    )
    url = storage.url("a.txt")
    assert "X-Amz-Credential=AKIAFAKEBUCKETRY0002" in url, "the URL itself carries the key id"
    from urllib.parse import quote

    for secret in ("AKIAFAKEBUCKETRY0002", token, quote(token, safe=""), "fake/Secret+Bucketry"):
        assert secret not in caplog.text
    assert secret not in repr(storage)


def test_a_sas_inside_account_url_is_masked() -> None:
    storage = AzureStorage(
        container="c", account_url=f"https://acct.blob.core.windows.net/?{AZURE_SAS}"
    )
    assert "FAKESIGBUCKETRY0001" not in repr(storage)
    assert "FAKESIGBUCKETRY0001" not in str(storage)
