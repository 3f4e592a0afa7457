"""The GCS backend against fake-gcs-server on loopback: the contract, then what GCS adds.

The emulator does not enforce ``ifGenerationMatch=0``, does not page listings and does not check
signatures (see the project's emulator notes). Contract tests that only a server enforcing those
could pass are marked as expected failures with that reason, never passed; what bucketry itself
does is proved separately: a loopback recorder shows the precondition on every upload path, and
signed URLs are verified against the key's public half.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from bucketry_conformance import StorageContract, known_gap
from bucketry_gcs import GCSStorage

MiB = 1024 * 1024

NO_SIGNATURES = (
    "fake-gcs-server does not check signatures, so fetching a signed URL proves nothing; "
    "test_signed_url_verifies_with_the_public_key checks the V4 signature itself"
)


def make_storage(endpoint: str, bucket: str, **options: Any) -> GCSStorage:
    settings: dict[str, Any] = {
        "bucket": bucket,
        "emulator_host": endpoint,
        "multipart_threshold": MiB,
        "part_size": 256 * 1024,
        "max_concurrency": 5,
    }
    settings.update(options)
    return GCSStorage(**settings)


def emulator_gap(reason: str) -> pytest.MarkDecorator:
    """For one parameter of a test whose other parameters the emulator does show."""
    return pytest.mark.xfail(reason=reason, run=False)


class TestGCSContract(StorageContract):
    @pytest.fixture(scope="class")
    def key_info(self) -> str:
        return json.dumps(fake_service_account())

    @pytest.fixture
    async def storage(
        self, gcs_endpoint: str, gcs_bucket: str, key_info: str
    ) -> AsyncIterator[GCSStorage]:
        async with make_storage(
            gcs_endpoint, gcs_bucket, prefix="contract", service_info=key_info
        ) as storage:
            yield storage

    # The emulator cannot show these: expected failures, with the reason, never passes.
    test_signed_get_url_works_with_a_plain_http_client = known_gap(
        StorageContract.test_signed_get_url_works_with_a_plain_http_client, NO_SIGNATURES
    )
    test_signed_put_url_works_with_a_plain_http_client = known_gap(
        StorageContract.test_signed_put_url_works_with_a_plain_http_client, NO_SIGNATURES
    )


# -- GCS-specific ---------------------------------------------------------------------------------

import asyncio  # noqa: E402
import base64  # noqa: E402
import hashlib  # noqa: E402
import json  # noqa: E402
from urllib.parse import parse_qsl, urlsplit  # noqa: E402

from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import padding, rsa  # noqa: E402

from bucketry import (  # noqa: E402
    ConfigurationError,
    IntegrityError,
    UnavailableError,
    create_storage,
)
from bucketry_gcs.signing import canonical_request  # noqa: E402
from tests.proxy import Recorded, RecordingProxy  # noqa: E402


def fake_service_account() -> dict[str, str]:
    """A service-account key made here, never registered anywhere: good only for signing tests."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return {
        "type": "service_account",
        "project_id": "bucketry-test",
        "private_key_id": "0" * 40,
        "private_key": pem,
        "client_email": "bucketry-test@bucketry-test.iam.gserviceaccount.com",
        "client_id": "1",
        "token_uri": "https://oauth2.googleapis.com/token",
    }


async def blocks(count: int, size: int = 256 * 1024) -> AsyncIterator[bytes]:
    for index in range(count):
        yield index.to_bytes(4, "big") * (size // 4)


@pytest.fixture
async def proxy(gcs_endpoint: str) -> AsyncIterator[RecordingProxy]:
    async with RecordingProxy(gcs_endpoint) as running:
        yield running


def params(record: Recorded) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(record.path_qs).query))


@pytest.mark.anyio
class TestGCSSpecifics:
    async def test_resumable_upload_sends_chunks(
        self, proxy: RecordingProxy, gcs_bucket: str
    ) -> None:
        async with make_storage(proxy.url, gcs_bucket, prefix="chunks") as storage:
            name = await storage.save("big.bin", blocks(13), overwrite=True)
            assert await storage.open(name) == b"".join([c async for c in blocks(13)])
        puts = [r for r in proxy.requests if r.method == "PUT"]
        assert len(puts) == 13, "13 chunks of 256 KiB, each its own request"
        assert [r.status for r in puts] == [308] * 12 + [200]
        spans = [r.headers["Content-Range"] for r in puts]
        assert spans[0] == "bytes 0-262143/*"
        assert spans[-1] == f"bytes {12 * 262144}-{13 * 262144 - 1}/{13 * 262144}"
        assert max(r.body_size for r in puts) == 262144

    @staticmethod
    def creates(proxy: RecordingProxy) -> list[Recorded]:
        return [
            r
            for r in proxy.requests
            if r.method == "POST" and ("uploadType" in params(r) or "/rewriteTo/" in r.path_qs)
        ]

    async def test_every_upload_path_sends_the_precondition(
        self, proxy: RecordingProxy, gcs_bucket: str
    ) -> None:
        async with make_storage(proxy.url, gcs_bucket, prefix="create") as storage:
            await storage.save("small.txt", b"x")  # one multipart request
            await storage.save("large.bin", blocks(6))  # a resumable session
            await storage.copy("small.txt", "copy.txt")  # a rewrite
        creates = self.creates(proxy)
        kinds = sorted(params(r).get("uploadType", "rewrite") for r in creates)
        assert kinds == ["multipart", "resumable", "rewrite"]
        assert all(params(r).get("ifGenerationMatch") == "0" for r in creates)

    async def test_overwrite_sends_no_precondition(
        self, proxy: RecordingProxy, gcs_bucket: str
    ) -> None:
        async with make_storage(proxy.url, gcs_bucket, prefix="replace") as storage:
            await storage.save("small.txt", b"y", overwrite=True)
            await storage.save("large.bin", blocks(6), overwrite=True)
            await storage.copy("small.txt", "copy.txt", overwrite=True)
        creates = self.creates(proxy)
        assert len(creates) == 3
        assert all("ifGenerationMatch" not in params(r) for r in creates)

    async def test_tampered_upload_checksum_is_an_integrity_error(
        self, proxy: RecordingProxy, gcs_bucket: str
    ) -> None:
        def corrupt_crc(record: Recorded, body: bytes) -> bytes:
            if record.method in ("POST", "PUT") and record.status == 200 and body.startswith(b"{"):
                reply = json.loads(body)
                if "crc32c" in reply:
                    reply["crc32c"] = base64.b64encode(b"\x00\x00\x00\x00").decode()
                    return json.dumps(reply).encode()
            return body

        proxy.transform = corrupt_crc
        async with make_storage(proxy.url, gcs_bucket, prefix="tamper-up") as storage:
            with pytest.raises(IntegrityError, match="CRC32C"):
                await storage.save("small.txt", b"hello")
            with pytest.raises(IntegrityError, match="CRC32C"):
                await storage.save("large.bin", blocks(5))
            proxy.transform = None
            assert not await storage.exists("small.txt"), "the corrupt object is removed"
            assert not await storage.exists("large.bin")

    async def test_tampered_download_is_an_integrity_error(
        self, proxy: RecordingProxy, gcs_bucket: str
    ) -> None:
        async with make_storage(proxy.url, gcs_bucket, prefix="tamper-down") as storage:
            await storage.save("file.bin", b"precious bytes" * 1000)

            def flip(record: Recorded, body: bytes) -> bytes:
                if "alt=media" in record.path_qs and body:
                    return bytes([body[0] ^ 0xFF]) + body[1:]
                return body

            proxy.transform = flip
            with pytest.raises(IntegrityError, match="CRC32C"):
                await storage.open("file.bin")
            proxy.transform = None
            assert await storage.open("file.bin") == b"precious bytes" * 1000

    @pytest.mark.parametrize(
        "damage",
        [
            (b'"name": "', b'"name": "x'),  # an answer about another object
            (b'"size"', b'"sizf"'),  # a size that is no longer there
        ],
        ids=["name", "size-key"],
    )
    async def test_damaged_stat_answer_is_asked_again(
        self, proxy: RecordingProxy, gcs_bucket: str, damage: tuple[bytes, bytes]
    ) -> None:
        """A stat answer is JSON with no checksum: what can be checked (it names the object
        asked about, it has a size) is, and an answer that fails is retried, not believed."""
        async with make_storage(proxy.url, gcs_bucket, prefix="tamper-stat") as storage:
            await storage.save("file.bin", b"x" * 1234, overwrite=True)
            damaged = []

            def once(record: Recorded, body: bytes) -> bytes:
                looked_up = record.method == "GET" and "alt=media" not in record.path_qs
                if looked_up and not damaged and damage[0] in body.replace(b'":"', b'": "'):
                    damaged.append(record)
                    return body.replace(b'":"', b'": "').replace(*damage, 1)
                return body

            proxy.transform = once
            info = await storage.stat("file.bin")
            assert damaged, "the proxy changed one answer"
            assert (info.name, info.size) == ("file.bin", 1234)
            assert storage.retry_stats.retries == 1

    async def test_cancelled_resumable_upload_closes_its_session(
        self, proxy: RecordingProxy, gcs_bucket: str
    ) -> None:
        started = asyncio.Event()

        async def stalls() -> AsyncIterator[bytes]:
            async for chunk in blocks(8):
                yield chunk
            started.set()
            await asyncio.sleep(3600)
            yield b""

        async with make_storage(proxy.url, gcs_bucket, prefix="cancel") as storage:
            task = asyncio.ensure_future(storage.save("cancelled.bin", stalls()))
            await asyncio.wait_for(started.wait(), 30)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            assert not await storage.exists("cancelled.bin")
        session_deletes = [
            r for r in proxy.requests if r.method == "DELETE" and "upload_id" in r.path_qs
        ]
        assert len(session_deletes) == 1

    async def test_signed_url_verifies_with_the_public_key(
        self, gcs_endpoint: str, gcs_bucket: str
    ) -> None:
        info = fake_service_account()
        storage = make_storage(
            gcs_endpoint, gcs_bucket, prefix="signed", service_info=json.dumps(info)
        )
        async with storage:
            url = await storage.signed_url("a file ü.txt", expires=900, method="GET")
        parts = urlsplit(url)
        query = dict(parse_qsl(parts.query))
        signature = bytes.fromhex(query.pop("X-Goog-Signature"))
        assert query["X-Goog-Algorithm"] == "GOOG4-RSA-SHA256"
        assert query["X-Goog-Expires"] == "900"
        assert query["X-Goog-Credential"].startswith(info["client_email"] + "/")
        assert parts.path == f"/{gcs_bucket}/signed/a%20file%20%C3%BC.txt"
        request = canonical_request("GET", parts.path, query, parts.netloc)
        scope = query["X-Goog-Credential"].split("/", 1)[1]
        string_to_sign = "\n".join(
            [
                "GOOG4-RSA-SHA256",
                query["X-Goog-Date"],
                scope,
                hashlib.sha256(request.encode()).hexdigest(),
            ]
        )
        public_key = serialization.load_pem_private_key(
            info["private_key"].encode(), password=None
        ).public_key()
        assert isinstance(public_key, rsa.RSAPublicKey)
        public_key.verify(signature, string_to_sign.encode(), padding.PKCS1v15(), hashes.SHA256())
        with pytest.raises(ConfigurationError, match="seven days"):
            async with storage:
                await storage.signed_url("x", expires=8 * 24 * 3600)

    async def test_prefix_and_foreign_keys(self, gcs_endpoint: str, gcs_bucket: str) -> None:
        async with make_storage(gcs_endpoint, gcs_bucket, prefix="ns/inner") as storage:
            await storage.save("dir/a.txt", b"a")
            assert [info.name async for info in storage.list()] == ["dir/a.txt"]
            assert await storage.listdir() == (["dir"], [])
            assert storage.url("dir/a b.txt").endswith(f"/{gcs_bucket}/ns/inner/dir/a%20b.txt")
            await storage.delete_prefix("dir")
            assert await storage.listdir() == ([], [])


def test_url_form_and_bad_configuration(tmp_path: Any) -> None:
    storage = create_storage("gs://media/site?emulator_host=127.0.0.1:1&part_size=524288")
    assert isinstance(storage, GCSStorage)
    assert storage.prefix == "site/"
    assert storage.api_root == "http://127.0.0.1:1"
    with pytest.raises(ConfigurationError, match="256 KiB"):
        GCSStorage(bucket="b", part_size=1000)
    old_name = "the same name on every backend"
    with pytest.raises(ConfigurationError, match="256 KiB"), pytest.warns(match=old_name):
        GCSStorage(bucket="b", chunk_size=1000)  # the old name, for one release
    with pytest.warns(DeprecationWarning, match=old_name) as warned:
        renamed = GCSStorage(bucket="b", chunk_size=512 * 1024, max_single_put_size=3)
    assert {str(w.message).split("'")[1] for w in warned} == {"chunk_size", "max_single_put_size"}
    assert (renamed.part_size, renamed.multipart_threshold) == (512 * 1024, 3)
    with pytest.raises(ConfigurationError, match="service_file"):
        GCSStorage(bucket="b", service_file=str(tmp_path / "missing.json"))
    unsigned = GCSStorage(bucket="b", emulator_host="http://127.0.0.1:1")
    assert not unsigned.supports("signed-url"), "no key and no IAM account: nothing can sign"


def test_secrets_never_shown() -> None:
    info = fake_service_account()
    storage = GCSStorage(bucket="b", service_info=json.dumps(info))
    marker = info["private_key"].splitlines()[1]
    assert marker not in repr(storage)
    assert "***" in repr(storage)


@pytest.mark.anyio
async def test_missing_bucket_and_unreachable_endpoint(gcs_endpoint: str) -> None:
    async with make_storage(gcs_endpoint, "no-such-bucket") as storage:
        with pytest.raises(ConfigurationError, match=r"no-such-bucket.*does not exist"):
            await storage.save("x.txt", b"x")
        with pytest.raises(ConfigurationError, match=r"no-such-bucket.*does not exist"):
            [info async for info in storage.list()]
    async with make_storage("http://127.0.0.1:9", "b") as storage:
        with pytest.raises(UnavailableError, match="network"):
            await storage.exists("x.txt")


@pytest.mark.parametrize(
    ("body", "bucket_missing"),
    [
        (b'{"error": {"code": 404, "message": "The specified bucket does not exist."}}', True),
        (b'{"error": {"code": 404, "message": "No such object: media-bucket/a.txt"}}', False),
        (b'{"error": {"code": 404, "message": "No such object: media/bucket-list.csv"}}', False),
    ],
)
def test_a_missing_object_is_not_taken_for_a_missing_bucket(
    body: bytes, bucket_missing: bool
) -> None:
    """GCS's 404 for an object names the bucket and the object, either of which may contain
    the word "bucket" (the emulator answers both with a bare "Not Found")."""
    from bucketry import ConfigurationError, NotFoundError
    from bucketry_gcs.errors import GCSResponseError, translate

    error = translate(GCSResponseError(404, body), "media-bucket", "a.txt")
    assert isinstance(error, ConfigurationError if bucket_missing else NotFoundError), error
