"""The Azure backend against a real Azurite on loopback: the contract, then what Azure adds."""

from __future__ import annotations

import asyncio
import secrets
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator
from typing import Any

import pytest

from bucketry import (
    Capability,
    ConfigurationError,
    IntegrityError,
    UnavailableError,
    create_storage,
)
from bucketry_azure import AzureStorage
from bucketry_azure.storage import READ_PART
from bucketry_conformance import StorageContract
from tests.emulators import AZURITE_ACCOUNT, AZURITE_KEY

MiB = 1024 * 1024


def make_storage(connection_string: str, container: str, **options: Any) -> AzureStorage:
    settings: dict[str, Any] = {
        "container": container,
        "connection_string": connection_string,
        "multipart_threshold": 2 * MiB,
        "part_size": MiB,
        "list_page_size": 7,
    }
    settings.update(options)
    return AzureStorage(**settings)


class TestAzureContract(StorageContract):
    list_page_size = 7

    @pytest.fixture
    async def storage(
        self, azurite_connection_string: str, azure_container: str
    ) -> AsyncIterator[AzureStorage]:
        async with make_storage(
            azurite_connection_string, azure_container, prefix="contract"
        ) as storage:
            yield storage


@pytest.fixture
async def azure(
    azurite_connection_string: str, azure_container: str
) -> AsyncIterator[AzureStorage]:
    prefix = f"azure-specific-{secrets.token_hex(4)}"
    async with make_storage(azurite_connection_string, azure_container, prefix=prefix) as storage:
        yield storage


def http(method: str, url: str, body: bytes | None = None) -> tuple[int, bytes]:
    headers = {"x-ms-blob-type": "BlockBlob"} if method == "PUT" else {}
    request = urllib.request.Request(url, data=body, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # loopback only
            return int(response.status), bytes(response.read())
    except urllib.error.HTTPError as exc:
        return int(exc.code), bytes(exc.read())


async def blocks(count: int, size: int = MiB) -> AsyncIterator[bytes]:
    for index in range(count):
        yield index.to_bytes(4, "big") * (size // 4)


@pytest.mark.anyio
class TestAzureSpecifics:
    async def test_staged_upload_commits_blocks(self, azure: AzureStorage) -> None:
        name = await azure.save("staged.bin", blocks(5))
        blob = azure._container.get_blob_client(azure._key(name))
        committed, uncommitted = await blob.get_block_list("all")
        assert len(committed) == 5
        assert uncommitted == []
        assert await azure.open(name) == b"".join([chunk async for chunk in blocks(5)])

    async def test_sas_urls_work_and_are_checked(self, azure: AzureStorage) -> None:
        await azure.save("secret.txt", b"for sas holders")
        url = await azure.signed_url("secret.txt", expires=60)
        assert await asyncio.to_thread(http, "GET", url) == (200, b"for sas holders")
        tampered = url.replace("sp=r", "sp=rw")
        assert (await asyncio.to_thread(http, "GET", tampered))[0] == 403
        unsigned = url.split("?")[0]
        assert (await asyncio.to_thread(http, "GET", unsigned))[0] in (403, 404)

    async def test_expired_sas_is_rejected(self, azure: AzureStorage) -> None:
        await azure.save("short.txt", b"x")
        url = await azure.signed_url("short.txt", expires=1)
        # The SAS starts 5 minutes in the past for clock skew; wait past its expiry.
        await asyncio.sleep(2.5)
        assert (await asyncio.to_thread(http, "GET", url))[0] == 403

    async def test_large_copy(self, azure: AzureStorage) -> None:
        await azure.save("large.bin", blocks(9))
        await azure.copy("large.bin", "large-copy.bin")
        assert await azure.size("large-copy.bin") == 9 * MiB
        assert await azure.open("large-copy.bin") == await azure.open("large.bin")

    async def test_delete_prefix_falls_back_when_the_batch_is_refused(
        self, azure: AzureStorage
    ) -> None:
        await asyncio.gather(*(azure.save(f"many/{i}.txt", b"x") for i in range(12)))
        assert await azure.delete_prefix("many") == 12
        assert await azure.listdir() == ([], [])

    async def test_large_reads_cross_read_parts_exactly(self, azure: AzureStorage) -> None:
        """Large reads go as 4 MiB ranges, several in flight; every slice across their
        boundaries comes back exactly, in order."""
        data = secrets.token_bytes(3 * READ_PART + 12_345)
        name = await azure.save("parts.bin", data)
        assert await azure.open(name) == data
        for start, end in [
            (0, None),
            (READ_PART - 3, 2 * READ_PART + 7),
            (1, 3 * READ_PART),
            (2 * READ_PART, None),
            (3 * READ_PART + 12_000, 4 * READ_PART),
        ]:
            read = b"".join([c async for c in azure.stream(name, start=start, end=end)])
            assert read == data[start:end], (start, end)

    async def test_a_blob_replaced_during_a_read_is_never_stitched_from_two_versions(
        self, azurite_connection_string: str, azure_container: str
    ) -> None:
        async with make_storage(
            azurite_connection_string, azure_container, prefix="replaced", max_concurrency=1
        ) as azure:
            old, new = b"o" * (4 * READ_PART), b"n" * (4 * READ_PART)
            name = await azure.save("replaced.bin", old, overwrite=True)
            chunks = azure.stream(name, chunk_size=MiB)
            read = [await anext(chunks)]
            await azure.save(name, new, overwrite=True)
            with pytest.raises(IntegrityError, match="replaced while it was being read"):
                read += [chunk async for chunk in chunks]
            assert set(b"".join(read)) == {ord("o")}
            assert await azure.open(name) == new

    async def test_an_abandoned_large_read_leaves_no_request_running(
        self, azure: AzureStorage
    ) -> None:
        name = await azure.save("abandoned.bin", b"a" * (4 * READ_PART))
        chunks = azure.stream(name)
        await anext(chunks)
        await chunks.aclose()  # type: ignore[attr-defined]
        await asyncio.sleep(0)
        running = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        assert [t for t in running if "fetch" in repr(t.get_coro())] == []

    async def test_url_forms(self, azurite_connection_string: str, azure_container: str) -> None:
        plain = make_storage(azurite_connection_string, azure_container, prefix="p")
        assert plain.url("a b.txt").endswith(f"/{AZURITE_ACCOUNT}/{azure_container}/p/a%20b.txt")
        expiring = make_storage(
            azurite_connection_string, azure_container, prefix="p", querystring_expire=60
        )
        assert "sig=" in expiring.url("a b.txt")
        with pytest.warns(DeprecationWarning, match="'querystring_expire'"):
            renamed = make_storage(
                azurite_connection_string, azure_container, prefix="p", expiration_secs=60
            )
        assert "sig=" in renamed.url("a b.txt")
        cdn = make_storage(
            azurite_connection_string, azure_container, custom_domain="cdn.example.com"
        )
        assert cdn.url("x.png") == f"https://cdn.example.com/{azure_container}/x.png"


def test_every_credential_form_is_understood() -> None:
    account_url = f"http://127.0.0.1:10000/{AZURITE_ACCOUNT}"
    with_key = AzureStorage(container="c", account_url=account_url, account_key=AZURITE_KEY)
    assert with_key._account == AZURITE_ACCOUNT
    assert with_key.supports(Capability.SIGNED_URL)
    with_sas = AzureStorage(container="c", account_url=account_url, sas_token="sv=x&sig=y")
    assert not with_sas.supports(Capability.SIGNED_URL), "a SAS cannot sign other SAS URLs"
    cloud = AzureStorage(container="c", account_name="myaccount", account_key="a2V5")
    assert cloud.url("f.txt") == "https://myaccount.blob.core.windows.net/c/f.txt"
    by_url = create_storage(
        "azure://media/site?account_url=https://acct.blob.core.windows.net&account_key=a2V5"
    )
    assert isinstance(by_url, AzureStorage)
    assert by_url.prefix == "site/"
    assert by_url._account == "acct"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"container": ""}, "container"),
        ({"container": "c"}, "connection_string"),
        ({"container": "c", "connection_string": "Foo=bar"}, "AccountName"),
    ],
)
def test_bad_configuration(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        AzureStorage(**options)


def test_secrets_never_shown() -> None:
    key = "RkFLRS1BQ0NPVU5ULUtFWS1uZXZlci1wcmludA=="
    storages = [
        AzureStorage(container="c", account_name="a", account_key=key),
        AzureStorage(
            container="c",
            connection_string=f"AccountName=a;AccountKey={key};BlobEndpoint=http://x/a",
        ),
        AzureStorage(container="c", account_url="https://a.blob.core.windows.net", sas_token=key),
    ]
    for storage in storages:
        assert key not in repr(storage)
        assert key not in str(storage)


@pytest.mark.anyio
async def test_missing_container_and_unreachable_endpoint(azurite_connection_string: str) -> None:
    async with make_storage(azurite_connection_string, "no-such-container") as storage:
        with pytest.raises(ConfigurationError, match=r"no-such-container.*does not exist"):
            await storage.save("x.txt", b"x")
    unreachable = (
        f"DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT};AccountKey={AZURITE_KEY};"
        f"BlobEndpoint=http://127.0.0.1:9/{AZURITE_ACCOUNT};"
    )
    async with make_storage(unreachable, "c", max_attempts=1) as storage:
        started = time.monotonic()
        with pytest.raises(UnavailableError, match="network") as caught:
            await storage.exists("x.txt")
        assert AZURITE_KEY not in str(caught.value)
        assert time.monotonic() - started < 30


@pytest.mark.anyio
async def test_wrong_key_is_a_permission_error_naming_the_credentials(
    azurite_connection_string: str, azure_container: str
) -> None:
    from bucketry import PermissionDeniedError

    wrong = azurite_connection_string.replace(AZURITE_KEY, "V1JPTkctS0VZLVdST05HLUtFWQ==")
    async with make_storage(wrong, azure_container, max_attempts=1) as storage:
        with pytest.raises(PermissionDeniedError, match="account key, SAS token"):
            await storage.save("x.txt", b"x")
