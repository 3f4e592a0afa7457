"""The S3 backend against a real moto server on loopback: the contract, then what S3 adds."""

from __future__ import annotations

import asyncio
import os
import secrets
import subprocess
import sys
import urllib.request
from collections.abc import AsyncIterator
from typing import Any

import pytest

from bucketry import (
    AlreadyExistsError,
    Capability,
    ConfigurationError,
    UnavailableError,
    create_storage,
)
from bucketry_conformance import StorageContract
from bucketry_s3 import S3Storage
from tests.emulators import S3_KEY_ID, S3_SECRET

MiB = 1024 * 1024


def make_storage(endpoint: str, bucket: str, **options: Any) -> S3Storage:
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
    settings.update(options)
    return S3Storage(**settings)


class TestS3Contract(StorageContract):
    list_page_size = 7

    @pytest.fixture
    async def storage(self, moto_endpoint: str, s3_bucket: str) -> AsyncIterator[S3Storage]:
        async with make_storage(moto_endpoint, s3_bucket, prefix="contract") as storage:
            yield storage


class TestS3WithoutConditionalCreateContract(StorageContract):
    """For S3-compatible services without If-None-Match: check-then-write, reported as such."""

    list_page_size = 7

    @pytest.fixture
    async def storage(self, moto_endpoint: str, s3_bucket: str) -> AsyncIterator[S3Storage]:
        async with make_storage(
            moto_endpoint, s3_bucket, prefix="no-conditional", conditional_create=False
        ) as storage:
            yield storage


@pytest.fixture
async def s3(moto_endpoint: str, s3_bucket: str) -> AsyncIterator[S3Storage]:
    prefix = f"s3-specific-{secrets.token_hex(4)}"
    async with make_storage(moto_endpoint, s3_bucket, prefix=prefix) as storage:
        yield storage


def fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=30) as response:  # loopback only
        return bytes(response.read())


def in_progress_uploads(s3_raw: Any, bucket: str, prefix: str) -> list[dict[str, Any]]:
    """This test's unfinished multipart uploads (other tests share the bucket)."""
    response = s3_raw.list_multipart_uploads(Bucket=bucket, Prefix=prefix)
    return list(response.get("Uploads", []))


async def blocks(
    count: int, size: int = MiB, fail_after: int | None = None
) -> AsyncIterator[bytes]:
    for index in range(count):
        if fail_after is not None and index == fail_after:
            raise RuntimeError("source failed mid-upload")
        yield index.to_bytes(4, "big") * (size // 4)


@pytest.mark.anyio
class TestS3Specifics:
    async def test_large_upload_goes_multipart_in_parts(self, s3: S3Storage, s3_raw: Any) -> None:
        name = await s3.save("big.bin", blocks(16))
        info = await s3.stat(name)
        assert info.size == 16 * MiB
        assert info.etag is not None
        assert info.etag.endswith("-4"), "16 MiB in 5 MiB parts is a 4-part multipart upload"
        raw = s3_raw.get_object(Bucket=s3.bucket, Key=s3.prefix + name)["Body"].read()
        assert raw == b"".join([chunk async for chunk in blocks(16)])

    async def test_failed_multipart_upload_is_aborted(self, s3: S3Storage, s3_raw: Any) -> None:
        with pytest.raises(RuntimeError, match="mid-upload"):
            await s3.save("fails.bin", blocks(16, fail_after=12))
        assert in_progress_uploads(s3_raw, s3.bucket, s3.prefix) == []
        assert not await s3.exists("fails.bin")

    async def test_cancelled_multipart_upload_is_aborted(self, s3: S3Storage, s3_raw: Any) -> None:
        started = asyncio.Event()

        async def stalls() -> AsyncIterator[bytes]:
            async for chunk in blocks(12):
                yield chunk
            started.set()
            await asyncio.sleep(3600)
            yield b""

        task = asyncio.ensure_future(s3.save("cancelled.bin", stalls()))
        await asyncio.wait_for(started.wait(), 30)
        await asyncio.sleep(0.2)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert in_progress_uploads(s3_raw, s3.bucket, s3.prefix) == []
        assert not await s3.exists("cancelled.bin")

    async def test_multipart_completion_is_conditional(self, s3: S3Storage, s3_raw: Any) -> None:
        """A one-shot stream that found its name free loses it mid-upload: S3 refuses (412).

        The two completions are serialised on purpose: moto's own existence check is not atomic
        when two completions arrive in the same instant (seen here), real S3's is.
        """
        gate = asyncio.Event()
        checked = asyncio.Event()

        async def late() -> AsyncIterator[bytes]:
            yield b"B" * (6 * MiB)  # past the threshold: the name is checked, the upload starts
            checked.set()
            await gate.wait()
            yield b"B" * MiB

        loser = asyncio.ensure_future(s3.save("race.bin", late()))
        await asyncio.wait_for(checked.wait(), 30)
        assert await s3.save("race.bin", blocks(7)) == "race.bin"
        gate.set()
        with pytest.raises(AlreadyExistsError, match="save it again"):
            await loser
        assert await s3.open("race.bin") == b"".join([chunk async for chunk in blocks(7)])
        assert in_progress_uploads(s3_raw, s3.bucket, s3.prefix) == []

    async def test_prefix_keeps_keys_apart(self, s3: S3Storage, s3_raw: Any) -> None:
        await s3.save("dir/file.txt", b"inside")
        assert s3.prefix.endswith("/")
        listed = s3_raw.list_objects_v2(Bucket=s3.bucket, Prefix=s3.prefix)["Contents"]
        assert [item["Key"] for item in listed] == [s3.prefix + "dir/file.txt"]
        # Keys that no bucketry name maps to (console folder markers, "a//b") are not listed.
        s3_raw.put_object(Bucket=s3.bucket, Key=s3.prefix + "dir/", Body=b"")
        s3_raw.put_object(Bucket=s3.bucket, Key=s3.prefix + "dir//odd", Body=b"")
        assert [info.name async for info in s3.list()] == ["dir/file.txt"]
        assert await s3.listdir() == (["dir"], [])

    async def test_content_type_is_guessed_when_not_given(self, s3: S3Storage) -> None:
        await s3.save("page.html", b"<p>")
        assert (await s3.stat("page.html")).content_type == "text/html"
        await s3.save("blob", b"x")
        assert (await s3.stat("blob")).content_type == "application/octet-stream"

    async def test_object_parameters_are_sent(
        self, moto_endpoint: str, s3_bucket: str, s3_raw: Any
    ) -> None:
        async with make_storage(
            moto_endpoint, s3_bucket, prefix="params", cache_control="max-age=60"
        ) as storage:
            await storage.save("cached.txt", b"x", overwrite=True)
        head = s3_raw.head_object(Bucket=s3_bucket, Key="params/cached.txt")
        assert head["CacheControl"] == "max-age=60"

    async def test_large_copy_goes_part_by_part(self, moto_endpoint: str, s3_bucket: str) -> None:
        async with make_storage(
            moto_endpoint, s3_bucket, prefix="copy", multipart_copy_threshold=5 * MiB
        ) as storage:
            await storage.save("src.bin", blocks(11), overwrite=True)
            await storage.copy("src.bin", "dst.bin", overwrite=True)
            info = await storage.stat("dst.bin")
            assert info.size == 11 * MiB
            assert info.etag is not None
            assert info.etag.endswith("-3")
            assert await storage.open("dst.bin") == await storage.open("src.bin")

    async def test_urls(self, s3: S3Storage) -> None:
        await s3.save("pic ture.png", b"png")
        signed = s3.url("pic ture.png")
        assert "X-Amz-Signature=" in signed
        assert "pic%20ture.png" in signed
        assert await asyncio.to_thread(fetch, signed) == b"png"
        public = make_storage(
            s3.endpoint_url or "", s3.bucket, prefix=s3.prefix, querystring_auth=False
        )
        plain = public.url("pic ture.png")
        assert "Signature" not in plain
        assert plain.endswith(f"/{s3.bucket}/{s3.prefix}pic%20ture.png")
        cdn = make_storage("", s3.bucket, prefix="media", custom_domain="cdn.example.com")
        assert cdn.url("a b.png") == "https://cdn.example.com/media/a%20b.png"

    async def test_delete_prefix_is_batched(self, s3: S3Storage) -> None:
        await asyncio.gather(*(s3.save(f"many/{i}.txt", b"x") for i in range(30)))
        assert await s3.delete_prefix("many") == 30
        assert await s3.listdir() == ([], [])


def test_url_form_configures_everything() -> None:
    storage = create_storage(
        "s3://media-bucket/site/uploads?region=eu-west-1&endpoint_url=http://127.0.0.1:9000"
        "&addressing_style=path&querystring_auth=false&max_concurrency=8"
    )
    assert isinstance(storage, S3Storage)
    assert storage.bucket == "media-bucket"
    assert storage.prefix == "site/uploads/"
    assert storage.region == "eu-west-1"
    assert storage.endpoint_url == "http://127.0.0.1:9000"
    assert storage.querystring_auth is False
    assert storage.max_concurrency == 8
    assert Capability.CONDITIONAL_CREATE in storage.capabilities


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"bucket": ""}, "bucket"),
        ({"bucket": "b", "part_size": 1024}, "part_size"),
        ({"bucket": "b", "access_key_id": "only-half"}, "both"),
        ({"bucket": "b", "addressing_style": "sideways"}, "addressing_style"),
    ],
)
def test_bad_configuration(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        S3Storage(**options)


def test_secrets_never_shown() -> None:
    storage = S3Storage(
        bucket="b",
        access_key_id="AKIAFAKEKEYID0000000",
        secret_access_key="fake/secret+KEY/never-print-me",
        session_token="FAKE-SESSION-TOKEN",
    )
    for text in (repr(storage), str(storage)):
        assert "AKIAFAKEKEYID0000000" not in text
        assert "never-print-me" not in text
        assert "FAKE-SESSION-TOKEN" not in text
    assert "bucket='b'" in repr(storage)


@pytest.mark.anyio
async def test_missing_bucket_and_unreachable_endpoint_say_what_to_fix(moto_endpoint: str) -> None:
    async with make_storage(moto_endpoint, "no-such-bucket-here") as storage:
        with pytest.raises(ConfigurationError, match=r"no-such-bucket-here.*does not exist"):
            await storage.save("x.txt", b"x")
    async with make_storage(
        "http://127.0.0.1:9", "b", secret_access_key="never-print-me", max_attempts=1
    ) as storage:
        with pytest.raises(UnavailableError, match="endpoint_url") as caught:
            await storage.exists("x.txt")
        assert "never-print-me" not in str(caught.value)


@pytest.mark.anyio
async def test_64_concurrent_saves_of_one_name(moto_endpoint: str, s3_bucket: str) -> None:
    async with make_storage(moto_endpoint, s3_bucket, prefix=f"race-{secrets.token_hex(3)}") as s3:
        payloads = [secrets.token_bytes(100 + i) for i in range(64)]
        names = await asyncio.gather(*(s3.save("same.txt", p) for p in payloads))
        assert len(set(names)) == 64
        for name, payload in zip(names, payloads, strict=True):
            assert await s3.open(name) == payload


def test_bucketry_check_runs_against_moto(moto_endpoint: str, s3_bucket: str) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "bucketry_cli",
            "check",
            "s3",
            "-o",
            f"bucket={s3_bucket}",
            "-o",
            f"endpoint_url={moto_endpoint}",
            "-o",
            "region=us-east-1",
            "-o",
            f"access_key_id={S3_KEY_ID}",
            "-o",
            f"secret_access_key={S3_SECRET}",
            "-o",
            "prefix=cli-check",
            "-k",
            "round_trip or listing or concurrent",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env=dict(os.environ),
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "| TestS3Contract | concurrency | passed |" in result.stdout
    assert S3_SECRET not in result.stdout
