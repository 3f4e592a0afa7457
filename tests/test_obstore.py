"""The obstore backends against the same emulators as the SDK backends, moto and Azurite: the whole
contract on each, then what the obstore engine adds or changes."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from typing import Any

import pytest

from bucketry import ConfigurationError, IntegrityError, UnavailableError, create_storage
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


def test_the_url_forms_pick_the_obstore_engine() -> None:
    s3 = create_storage(
        "s3+obstore://media-bucket/site/uploads?region=eu-west-1"
        "&endpoint_url=http://127.0.0.1:9000&max_concurrency=4"
    )
    assert isinstance(s3, S3ObstoreStorage)
    assert (s3.bucket, s3.prefix, s3.region) == ("media-bucket", "site/uploads/", "eu-west-1")
    assert (s3.endpoint_url, s3.max_concurrency) == ("http://127.0.0.1:9000", 4)
    azure = create_storage("azure+obstore://media?account_name=acct&account_key=a2V5")
    assert isinstance(azure, AzureObstoreStorage)
    assert (azure.container, azure.account_name) == ("media", "acct")
    assert azure.verify_uploads is False  # https: TLS checks the bytes on the way


@pytest.mark.parametrize(
    ("backend", "options", "message"),
    [
        ("s3+obstore", {"bucket": ""}, "bucket"),
        ("s3+obstore", {"bucket": "b", "part_size": 1024}, "part_size"),
        ("s3+obstore", {"bucket": "b", "access_key_id": "only-half"}, "both"),
        ("s3+obstore", {"bucket": "b", "max_concurrency": 0}, "max_concurrency"),
        ("s3+obstore", {"bucket": "b", "regoin": "eu-west-1"}, "regoin"),
        ("azure+obstore", {"container": ""}, "container"),
        ("azure+obstore", {"container": "c"}, "account_name"),
    ],
)
def test_bad_configuration_says_what_to_fix(
    backend: str, options: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigurationError, match=message):
        create_storage(backend, **options)


def test_secrets_never_shown() -> None:
    s3 = S3ObstoreStorage(
        bucket="b",
        access_key_id="AKIAFAKEKEYID0000000",
        secret_access_key="fake/secret+KEY/never-print-me",
        session_token="FAKE-SESSION-TOKEN",
    )
    azure = AzureObstoreStorage(
        container="c",
        connection_string="AccountName=acct;AccountKey=bmV2ZXItcHJpbnQtbWU=;BlobEndpoint=https://x",
    )
    for text in (repr(s3), str(s3), repr(azure)):
        for secret in ("AKIAFAKEKEYID0000000", "never-print-me", "FAKE-SESSION-TOKEN"):
            assert secret not in text
        assert "bmV2ZXItcHJpbnQtbWU=" not in text


@pytest.mark.anyio
async def test_missing_bucket_and_unreachable_endpoint_say_what_to_fix(moto_endpoint: str) -> None:
    async with s3_storage(moto_endpoint, "no-such-bucket-here") as storage:
        with pytest.raises(ConfigurationError, match=r"no-such-bucket-here.*does not exist"):
            await storage.save("x.txt", b"x")
    async with s3_storage(
        "http://127.0.0.1:9", "b", secret_access_key="never-print-me", max_attempts=1
    ) as storage:
        with pytest.raises(UnavailableError, match="unreachable") as caught:
            await storage.exists("x.txt")
        assert "never-print-me" not in str(caught.value)
        assert "127.0.0.1:9/" not in str(
            caught.value
        )  # obstore's message, with the URL, is not shown


@pytest.mark.anyio
async def test_the_two_engines_read_each_others_objects(moto_endpoint: str, s3_bucket: str) -> None:
    """The same keys, content types and metadata: switching engines needs no migration."""
    from bucketry_s3 import S3Storage

    prefix = f"engines-{secrets.token_hex(3)}"
    sdk = S3Storage(
        bucket=s3_bucket,
        prefix=prefix,
        endpoint_url=moto_endpoint,
        region="us-east-1",
        access_key_id=S3_KEY_ID,
        secret_access_key=S3_SECRET,
    )
    async with sdk, s3_storage(moto_endpoint, s3_bucket, prefix=prefix) as rust:
        one = await sdk.save("dir/a b.txt", b"from the SDK", metadata={"owner": "ké"})
        two = await rust.save("dir/c%d.txt", b"from obstore", metadata={"owner": "ñ"})
        assert await rust.open(one) == b"from the SDK"
        assert await sdk.open(two) == b"from obstore"
        assert (await rust.stat(one)).metadata == {"owner": "ké"}
        assert (await sdk.stat(two)).metadata == {"owner": "ñ"}
        assert (await sdk.stat(two)).content_type == "text/plain"
        assert sorted(await rust.listdir("dir")) == sorted(await sdk.listdir("dir"))


@pytest.mark.anyio
async def test_64_concurrent_saves_of_one_name(moto_endpoint: str, s3_bucket: str) -> None:
    async with s3_storage(moto_endpoint, s3_bucket, prefix=f"race-{secrets.token_hex(3)}") as s3:
        payloads = [secrets.token_bytes(100 + i) for i in range(64)]
        names = await asyncio.gather(*(s3.save("same.txt", p) for p in payloads))
        assert len(set(names)) == 64
        for name, payload in zip(names, payloads, strict=True):
            assert await s3.open(name) == payload


@pytest.mark.anyio
async def test_azure_keeps_the_md5_out_of_user_metadata_and_checks_reads_against_it(
    azurite_connection_string: str, azure_container: str
) -> None:
    from azure.storage.blob.aio import BlobServiceClient

    async with azure_storage(azurite_connection_string, azure_container, prefix="md5") as storage:
        name = await storage.save("m.bin", b"kept", metadata={"colour": "red"})
        assert (await storage.stat(name)).metadata == {"colour": "red"}
        service = BlobServiceClient.from_connection_string(azurite_connection_string)
        async with service:
            blob = service.get_blob_client(azure_container, "md5/" + name)
            assert (await blob.get_blob_properties()).metadata["bucketry_content_md5"]
            # The bytes change behind bucketry's back, the stored MD5 does not: a read refuses.
            properties = await blob.get_blob_properties()
            await blob.upload_blob(b"swap", overwrite=True, metadata=properties.metadata)
        with pytest.raises(IntegrityError, match="MD5"):
            await storage.open(name)


@pytest.mark.anyio
@pytest.mark.parametrize("engine", ["s3", "azure"])
async def test_an_exclusive_create_of_a_taken_name_by_a_large_upload_is_refused(
    engine: str,
    request: pytest.FixtureRequest,
) -> None:
    """A large upload goes to a temp object and is copied into place: the copy must not clobber
    a name taken meanwhile, nor one taken before an exclusive create (rename=False)."""
    from bucketry import AlreadyExistsError

    if engine == "s3":
        endpoint, bucket = (
            request.getfixturevalue("moto_endpoint"),
            request.getfixturevalue("s3_bucket"),
        )
        storage: Any = s3_storage(endpoint, bucket, prefix=f"excl-{secrets.token_hex(3)}")
    else:
        connection = request.getfixturevalue("azurite_connection_string")
        container = request.getfixturevalue("azure_container")
        storage = azure_storage(connection, container, prefix=f"excl-{secrets.token_hex(3)}")
    async with storage:
        await storage.save("a.bin", b"first")
        with pytest.raises(AlreadyExistsError):
            await storage.save("a.bin", secrets.token_bytes(6 * MiB), rename=False)
        assert await storage.open("a.bin") == b"first"
        await storage.delete("a.bin")
