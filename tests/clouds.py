"""The three cloud backends as the fault tests build them: small thresholds, so a few hundred
KiB take the multipart, resumable and staged paths, and short timeouts."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from bucketry import Storage
from tests.emulators import S3_KEY_ID, S3_SECRET

KiB, MiB = 1024, 1024 * 1024


def ignore_aiohttp_reset(loop: Any, context: dict[str, Any]) -> None:
    """aiohttp's own body-writing task can fail when the proxy resets a connection; the request
    has already failed for bucketry (and been retried), so that leftover error is not ours."""
    import aiohttp

    if isinstance(context.get("exception"), aiohttp.ClientConnectionResetError):
        return
    loop.default_exception_handler(context)


# The backends are imported where they are built: the conftest imports this module, and a test
# session that installs one backend only (noxfile.py) must still collect.


def s3(endpoint: str, bucket: str) -> Storage:
    from bucketry_s3 import S3Storage

    return S3Storage(
        bucket=bucket,
        endpoint_url=endpoint,
        region="us-east-1",
        access_key_id=S3_KEY_ID,
        secret_access_key=S3_SECRET,
        multipart_threshold=5 * MiB,
        part_size=5 * MiB,
        connect_timeout=5,
        read_timeout=10,
    )


def gcs(endpoint: str, bucket: str) -> Storage:
    from bucketry_gcs import GCSStorage

    return GCSStorage(
        bucket=bucket,
        emulator_host=endpoint,
        multipart_threshold=256 * KiB,
        part_size=256 * KiB,
        max_concurrency=5,
        read_timeout=10,
    )


def azure(endpoint: str, container: str, connection_string: str) -> Storage:
    from bucketry_azure import AzureStorage

    return AzureStorage(
        container=container,
        connection_string=connection_string.replace(
            connection_string.split("BlobEndpoint=")[1].split(";")[0],
            endpoint + "/devstoreaccount1",
        ),
        multipart_threshold=256 * KiB,
        part_size=256 * KiB,
        read_timeout=10,
    )


def s3_obstore(endpoint: str, bucket: str) -> Storage:
    from bucketry_obstore import S3ObstoreStorage

    return S3ObstoreStorage(
        bucket=bucket,
        endpoint_url=endpoint,
        region="us-east-1",
        access_key_id=S3_KEY_ID,
        secret_access_key=S3_SECRET,
        multipart_threshold=5 * MiB,
        part_size=5 * MiB,
        connect_timeout=5,
        read_timeout=10,
    )


def azure_obstore(endpoint: str, container: str, connection_string: str) -> Storage:
    from bucketry_obstore import AzureObstoreStorage

    return AzureObstoreStorage(
        container=container,
        connection_string=connection_string,
        endpoint=endpoint + "/devstoreaccount1",
        multipart_threshold=256 * KiB,
        part_size=5 * MiB,
        read_timeout=10,
    )


@pytest.fixture
def backend_under_test(
    request: pytest.FixtureRequest,
) -> tuple[str, str, Callable[[str], Storage]]:
    """(dialect, upstream, make) for the cloud backend named by the test's parameter: the
    dialect is the wire protocol (``"s3+obstore"`` speaks ``"s3"``)."""
    name = request.param
    if name in ("s3", "s3+obstore"):
        endpoint, bucket = (request.getfixturevalue(f) for f in ("moto_endpoint", "s3_bucket"))
        build = s3 if name == "s3" else s3_obstore
        return "s3", endpoint, lambda url: build(url, bucket)
    if name == "gcs":
        endpoint, bucket = (request.getfixturevalue(f) for f in ("gcs_endpoint", "gcs_bucket"))
        return "gcs", endpoint, lambda url: gcs(url, bucket)
    connection = request.getfixturevalue("azurite_connection_string")
    container = request.getfixturevalue("azure_container")
    upstream = connection.split("BlobEndpoint=")[1].split(";")[0].rsplit("/", 1)[0]
    if name == "azure+obstore":
        return "azure", upstream, lambda url: azure_obstore(url, container, connection)
    return "azure", upstream, lambda url: azure(url, container, connection)
