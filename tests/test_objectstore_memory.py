"""The object-store engine on its in-memory adapter: the scenarios the emulators stage over a
network (a lost answer, damage on the way in and out, a read broken mid-body), here deterministic
and without a network. The whole contract runs on the same adapter in
``tests/test_contract_builtin.py``."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator

import pytest

from bucketry import AlreadyExistsError, IntegrityError, RetryPolicy
from bucketry.objectstore.memory import InMemoryObjectStore, MemoryBucket

pytestmark = pytest.mark.anyio
KiB = 1024


def make(bucket: str, **options: object) -> InMemoryObjectStore:
    storage = InMemoryObjectStore(
        bucket=bucket,
        multipart_threshold=64 * KiB,
        part_size=16 * KiB,
        **options,  # type: ignore[arg-type]
    )
    storage.retry = RetryPolicy(attempts=5, base_delay=0.0, max_delay=0.0)
    return storage


SIZES = {"single": 10 * KiB, "multipart": 100 * KiB}
COMMIT = {"single": "put", "multipart": "complete"}


@pytest.mark.parametrize("path", ["single", "multipart"])
async def test_a_lost_create_answer_stores_one_object_under_the_asked_name(path: str) -> None:
    storage = make(f"lost-{secrets.token_hex(4)}")
    data = secrets.token_bytes(SIZES[path])
    storage.service.inject("lost_answer", COMMIT[path], "report")
    assert await storage.save("report.bin", data) == "report.bin"
    assert storage.service.injected == {"lost_answer": 1}
    assert [info.name async for info in storage.list()] == ["report.bin"]
    assert storage.retry_stats.retries >= 1
    assert await storage.open("report.bin") == data


@pytest.mark.parametrize("checks", [True, False], ids=["checking", "unchecked"])
@pytest.mark.parametrize("path", ["single", "multipart"])
async def test_damage_on_the_way_in_is_sent_again(path: str, checks: bool) -> None:
    storage = make(f"damaged-{secrets.token_hex(4)}", checks_checksums=checks)
    data = secrets.token_bytes(SIZES[path])
    storage.service.inject("damage_request", "put" if path == "single" else "part", "report")
    assert await storage.save("report.bin", data) == "report.bin"
    assert storage.service.injected == {"damage_request": 1}
    assert await storage.open("report.bin") == data
    assert [info.name async for info in storage.list()] == ["report.bin"]


@pytest.mark.parametrize("checks", [True, False], ids=["checking", "unchecked"])
async def test_a_damaged_overwrite_keeps_the_old_file_or_says_what_replaced_it(
    checks: bool,
) -> None:
    storage = make(f"overwrite-{secrets.token_hex(4)}", checks_checksums=checks)
    old, new = secrets.token_bytes(10 * KiB), secrets.token_bytes(10 * KiB)
    await storage.save("report.bin", old)
    storage.retry = RetryPolicy(attempts=1)  # the damage is the last word
    storage.service.inject("damage_request", "put", "report")
    with pytest.raises(IntegrityError) as raised:
        await storage.save("report.bin", new, overwrite=True)
    stored = storage.service.objects[storage._key("report.bin")].data
    if checks:
        assert stored == old, "a refused overwrite must keep the old file"
    else:
        assert stored not in (old, new)  # the damaged bytes the service committed
        assert "previous version" in str(raised.value)
        assert "cannot be restored" in str(raised.value)


async def test_a_damaged_create_that_was_stored_is_removed() -> None:
    storage = make(f"removed-{secrets.token_hex(4)}", checks_checksums=False)
    storage.retry = RetryPolicy(attempts=1)
    storage.service.inject("damage_request", "put", "report")
    with pytest.raises(IntegrityError, match="removed"):
        await storage.save("report.bin", b"x" * 1000)
    assert not await storage.exists("report.bin")


async def test_a_damaged_whole_read_is_read_again_and_a_resumed_one_is_checked() -> None:
    storage = make(f"reads-{secrets.token_hex(4)}")
    data = secrets.token_bytes(50 * KiB)  # one request: its ETag is its MD5
    await storage.save("photo.bin", data)
    storage.service.inject("damage_answer", "get", "photo")
    assert await storage.open("photo.bin") == data
    assert storage.service.injected == {"damage_answer": 1}
    # A byte flipped before a break is already yielded: the resumed read's check finds it.
    storage.service.inject("damage_answer", "get", "photo")
    storage.service.inject("break_read", "get", "photo")
    with pytest.raises(IntegrityError):
        _ = [chunk async for chunk in storage.stream("photo.bin", chunk_size=16 * KiB)]


async def test_a_read_broken_mid_body_resumes_on_the_same_version() -> None:
    storage = make(f"resume-{secrets.token_hex(4)}")
    data = secrets.token_bytes(200 * KiB)
    await storage.save("photo.bin", data)
    storage.service.inject("break_read", "get", "photo")
    got = b"".join([chunk async for chunk in storage.stream("photo.bin", chunk_size=64 * KiB)])
    assert got == data
    assert storage.retry_stats.by_error == {"stream-resume": 1}
    gets = [request for request in storage.service.requests if request[0] == "get"]
    assert len(gets) == 2


async def test_a_failed_multipart_upload_is_aborted() -> None:
    storage = make(f"abort-{secrets.token_hex(4)}")
    storage.retry = RetryPolicy(attempts=1)

    async def failing() -> AsyncIterator[bytes]:
        yield b"x" * (80 * KiB)
        raise RuntimeError("source failed mid-upload")

    with pytest.raises(RuntimeError):
        await storage.save("fails.bin", failing())
    assert storage.service.uploads == {}
    assert not await storage.exists("fails.bin")


def test_a_shared_bucket_is_shared() -> None:
    assert MemoryBucket.named("same") is MemoryBucket.named("same")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"part_size": 0}, "part_size"),
        ({"multipart_threshold": 0}, "multipart_threshold"),
        ({"max_concurrency": 0}, "max_concurrency"),
        ({"list_page_size": 0}, "list_page_size"),
        ({"max_attempts": 0}, "max_attempts"),
    ],
)
def test_the_engine_refuses_options_no_upload_could_use(
    options: dict[str, int], message: str
) -> None:
    from bucketry import ConfigurationError

    with pytest.raises(ConfigurationError, match=message):
        InMemoryObjectStore(bucket="b", **options)  # type: ignore[arg-type]


def test_the_smallest_options_are_taken_and_the_policy_is_one_setting() -> None:
    storage = InMemoryObjectStore(
        bucket="b",
        part_size=1,
        multipart_threshold=1,
        max_concurrency=1,
        list_page_size=1,
        max_attempts=1,
        retry_deadline=5.0,
    )
    assert (storage.part_size, storage.max_concurrency, storage.list_page_size) == (1, 1, 1)
    assert (storage.max_attempts, storage.retry_deadline) == (1, 5.0)
    storage.retry = RetryPolicy(attempts=7)  # the CLI reassigns it: the option follows
    assert storage.max_attempts == 7


def test_an_old_option_name_still_works_for_a_release_and_says_the_new_one() -> None:
    from bucketry.objectstore import BucketStorage

    with pytest.warns(DeprecationWarning, match="'chunk_size' option is now 'part_size'"):
        renamed = BucketStorage._renamed({"max_single_put_size": None, "chunk_size": 5})
    assert renamed == {"part_size": 5}
    with pytest.warns(DeprecationWarning, match="will be removed") as caught:
        BucketStorage._renamed({"block_size": 1, "expiration_secs": 2})
    assert len(caught) == 2


async def test_small_parts_of_a_large_upload_arrive_in_order() -> None:
    storage = make(f"parts-{secrets.token_hex(4)}")
    data = secrets.token_bytes(100 * KiB + 5)  # 7 parts of 16 KiB, the last one short

    async def pieces() -> AsyncIterator[bytes]:
        for offset in range(0, len(data), 1000):
            yield data[offset : offset + 1000]

    assert await storage.save("parts.bin", pieces()) == "parts.bin"
    head = storage.service.objects[storage._key("parts.bin")]
    assert head.etag.endswith("-7")
    assert await storage.open("parts.bin") == data


def test_an_old_option_name_is_blamed_on_the_line_that_gave_it() -> None:
    from bucketry.objectstore import BucketStorage

    class Renaming(InMemoryObjectStore):
        def __init__(self, *, bucket: str, chunk_size: int | None = None) -> None:
            super().__init__(bucket=bucket, **BucketStorage._renamed({"chunk_size": chunk_size}))

    with pytest.warns(DeprecationWarning, match="part_size") as caught:
        storage = Renaming(bucket="b", chunk_size=5 * KiB)
    assert storage.part_size == 5 * KiB
    assert caught[0].filename == __file__, "the warning points at the caller's line"


@pytest.mark.parametrize("overwrite", [False, True], ids=["create", "overwrite"])
async def test_a_part_list_damaged_on_the_way_is_found_after_the_commit(overwrite: bool) -> None:
    """Every part is valid, but the completion named them in another order: the ETag of what
    was committed is not the one of the parts as sent. The upload is spent, so nothing is sent
    again: a create's object is removed, an overwrite's is reported for what it is."""
    storage = make(f"order-{secrets.token_hex(4)}")
    if overwrite:
        await storage.save("report.bin", b"old")
    storage.service.inject("damage_request", "complete", "report")
    with pytest.raises(IntegrityError) as raised:
        await storage.save(
            "report.bin", one_shot(secrets.token_bytes(100 * KiB)), overwrite=overwrite
        )
    assert storage.service.injected == {"damage_request": 1}
    if overwrite:
        assert "previous version" in str(raised.value)
        assert await storage.size("report.bin") == 100 * KiB  # the damaged one, as said
    else:
        assert "removed" in str(raised.value)
        assert not await storage.exists("report.bin")


async def test_a_lost_completion_whose_object_then_vanished_is_not_taken_for_success() -> None:
    from bucketry import NotFoundError
    from bucketry.objectstore import Part, Put, Stored
    from bucketry.objectstore.memory import ServiceError

    class Vanishing(InMemoryObjectStore):
        async def _complete_upload(self, put: Put, upload: str, parts: list[Part]) -> Stored:
            await super()._complete_upload(put, upload, parts)
            self.service.objects.pop(put.key)  # deleted by someone else...
            raise ServiceError(None, "ConnectionReset")  # ...and the answer was lost

    storage = Vanishing(
        bucket=f"vanish-{secrets.token_hex(4)}", multipart_threshold=64 * KiB, part_size=16 * KiB
    )
    storage.retry = RetryPolicy(attempts=3, base_delay=0.0, max_delay=0.0)
    with pytest.raises(NotFoundError):
        await storage.save("report.bin", secrets.token_bytes(100 * KiB))
    assert not await storage.exists("report.bin")


async def test_the_content_type_is_guessed_from_the_name_when_not_given() -> None:
    storage = make(f"types-{secrets.token_hex(4)}")
    await storage.save("page.html", b"<p>")
    assert (await storage.stat("page.html")).content_type == "text/html"
    await storage.save("blob", b"x")
    assert (await storage.stat("blob")).content_type == "application/octet-stream"


async def one_shot(data: bytes) -> AsyncIterator[bytes]:
    for offset in range(0, len(data), 10 * KiB):
        yield data[offset : offset + 10 * KiB]


async def test_a_long_one_shot_upload_moves_off_a_taken_name_before_it_starts() -> None:
    storage = make(f"claim-{secrets.token_hex(4)}")
    await storage.save("report.bin", b"first")
    data = secrets.token_bytes(100 * KiB)
    stored = await storage.save("report.bin", one_shot(data))
    assert stored != "report.bin"
    assert await storage.open(stored) == data
    assert await storage.open("report.bin") == b"first"
    # An exclusive create of a taken name is refused, however long the upload, the old kept.
    with pytest.raises(AlreadyExistsError):
        await storage.save("report.bin", one_shot(data), rename=False)
    assert await storage.open("report.bin") == b"first"
    # An overwrite keeps its name, however long the upload.
    assert await storage.save("report.bin", one_shot(data), overwrite=True) == "report.bin"
    assert await storage.open("report.bin") == data


@pytest.mark.parametrize(
    ("etag", "says"),
    [
        ("0123456789abcdef0123456789abcdef", {"md5": "0123456789abcdef0123456789abcdef"}),
        ('"0123456789abcdef0123456789abcdef"', {"md5": "0123456789abcdef0123456789abcdef"}),
        (
            "0123456789abcdef0123456789abcdef-3",
            {"s3-multipart": "0123456789abcdef0123456789abcdef-3"},
        ),
        ("0123456789abcdef", {}),  # hex, but no MD5
        ("0123456789abcdef0123456789abcdeg", {}),  # 32 characters, not hex
        ("0123456789abcdef-3", {}),
        ("0123456789abcdef0123456789abcdef-x", {}),
        ("0x8DC2F0E9A3B1C4D", {}),  # Azure's opaque ETag
        (None, {}),
    ],
)
def test_what_an_etag_says_of_the_bytes(etag: str | None, says: dict[str, str]) -> None:
    from bucketry.objectstore import md5_etag_of

    assert md5_etag_of(etag) == says


async def test_a_damaged_create_that_cannot_be_removed_is_said_not_renamed_around() -> None:
    """Left under the name, the damaged object would make the next attempt find the name
    taken: the save must say so, never store the content elsewhere and leave the damage."""
    from bucketry import BucketryError

    storage = make(f"stuck-{secrets.token_hex(4)}", checks_checksums=False)
    storage.service.inject("damage_request", "put", "x.txt")
    storage.service.inject("unavailable", "delete", "x.txt")
    with pytest.raises(BucketryError, match="could not be removed") as raised:
        await storage.save("x.txt", b"hello")
    assert "delete 'x.txt'" in str(raised.value)
    assert [info.name async for info in storage.list()] == ["x.txt"], "nothing stored elsewhere"
    assert sum(1 for request in storage.service.requests if request[0] == "delete") == 1
