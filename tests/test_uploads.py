"""Untrusted uploads: where they go, how big, what they really are; and an ASGI app using them."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator, Iterator
from datetime import datetime

import httpx
import pytest

from bucketry import InvalidContentError, TooLargeError, configure_storage
from bucketry.config import _storages
from bucketry.uploads import ImageRules, UploadRules, save_upload, sniff_content_type
from bucketry_memory import MemoryStorage

pytestmark = pytest.mark.anyio
MiB = 1024 * 1024


def png(width: int, height: int, fmt: str = "PNG") -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (0, 120, 200)).save(buffer, fmt)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"\x89PNG\r\n\x1a\nrest", "image/png"),
        (b"\xff\xd8\xff\xe0", "image/jpeg"),
        (b"GIF89a...", "image/gif"),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "image/webp"),
        (b"%PDF-1.7", "application/pdf"),
        (b"PK\x03\x04", "application/zip"),
        (b"\x00\x00\x00\x18ftypmp42", "video/mp4"),
        (b"  <!DOCTYPE html><html>", "text/html"),
        (b'<?xml version="1.0"?><svg xmlns="...">', "image/svg+xml"),
        ("plain text, ñandú\n".encode(), "text/plain"),
        (b"\x00\x01\x02\x03binary", "application/octet-stream"),
    ],
)
def test_content_type_comes_from_the_bytes(head: bytes, expected: str) -> None:
    assert sniff_content_type(head) == expected


async def test_upload_to_strftime_and_callable() -> None:
    storage = MemoryStorage()
    at = UploadRules(upload_to="avatars/%Y/%m/", now=lambda: datetime(2026, 11, 21))
    saved = await save_upload(storage, b"hello", "../../etc/My Photo (1).txt", at)
    assert saved.name == "avatars/2026/11/My_Photo_1.txt"
    assert saved.content_type == "text/plain"
    assert saved.size == 5
    called = UploadRules(upload_to=lambda filename: f"users/42/{filename}")
    assert (await save_upload(storage, b"x", "a.txt", called)).name == "users/42/a.txt"


async def test_client_claims_are_not_trusted() -> None:
    storage = MemoryStorage()
    images_only = UploadRules(allowed_types={"image/*"})
    saved = await save_upload(storage, png(4, 4), "innocent.txt", images_only)
    assert saved.content_type == "image/png"
    assert (await storage.stat(saved.name)).content_type == "image/png"
    with pytest.raises(InvalidContentError, match="text/html"):
        await save_upload(storage, b"<html><script>", "avatar.png", images_only)
    assert await storage.listdir() == ([], ["innocent.txt"])


async def test_max_size_stops_before_reading_everything() -> None:
    storage = MemoryStorage()
    produced = 0

    async def huge() -> AsyncIterator[bytes]:
        nonlocal produced
        for _ in range(1000):  # 1000 MiB, if anyone read it all
            produced += 1
            yield b"\0" * MiB

    with pytest.raises(TooLargeError):
        await save_upload(storage, huge(), "huge.bin", UploadRules(max_size=3 * MiB))
    assert produced <= 5
    assert await storage.listdir() == ([], [])


async def test_image_rules() -> None:
    pytest.importorskip("PIL")
    storage = MemoryStorage()
    rules = UploadRules(image=ImageRules(formats={"PNG"}, max_width=100, max_height=100))
    saved = await save_upload(storage, png(64, 32), "ok.png", rules)
    assert (saved.width, saved.height) == (64, 32)
    with pytest.raises(InvalidContentError, match="too wide"):
        await save_upload(storage, png(101, 10), "wide.png", rules)
    with pytest.raises(InvalidContentError, match="JPEG"):
        await save_upload(storage, png(10, 10, "JPEG"), "photo.jpg", rules)
    with pytest.raises(InvalidContentError, match=r"not an image|not a readable image"):
        await save_upload(storage, b"GIF89a but not really", "fake.gif", rules)
    assert (await storage.listdir())[1] == ["ok.png"]


@pytest.fixture
def app_storage() -> Iterator[MemoryStorage]:
    storage = MemoryStorage()
    configure_storage(storage)
    yield storage
    _storages.clear()


async def test_fastapi_example_end_to_end(app_storage: MemoryStorage) -> None:
    from examples.fastapi_uploads import app

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        ok = await client.post("/avatars", files={"file": ("me.png", png(40, 30), "text/plain")})
        assert ok.status_code == 200, ok.text
        assert ok.json()["type"] == "image/png"
        assert ok.json()["size"] == [40, 30]
        assert await app_storage.exists(ok.json()["name"])

        refused = await client.post("/avatars", files={"file": ("x.png", b"<html>", "image/png")})
        assert refused.status_code == 415

        sent = 0

        async def body() -> AsyncIterator[bytes]:
            nonlocal sent
            for _ in range(200):  # 200 MiB offered
                sent += 1
                yield b"\0" * MiB

        too_big = await client.put("/files/big.bin", content=body())
        assert too_big.status_code == 413
        assert sent <= 13, "the app stopped reading shortly after max_size (10 MiB)"
        small = await client.put("/files/notes.txt", content=b"short note")
        assert small.json() == {"name": "files/notes.txt", "type": "text/plain", "bytes": 10}
    assert [info.name async for info in app_storage.list("files")] == ["files/notes.txt"]
