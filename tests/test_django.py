"""A real Django project stores its FileField and ImageField uploads through the bridge.

Settings are configured here (sqlite in memory, the bridge as the default storage); uploads go
through Django's test client, against memory, the filesystem and S3 on moto.
"""

from __future__ import annotations

import atexit
import io
import os
import shutil
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import django
import pytest
from django.conf import settings

from tests.emulators import S3_KEY_ID, S3_SECRET

DATABASE_DIRECTORY = tempfile.mkdtemp(prefix="bucketry-django-")
atexit.register(shutil.rmtree, DATABASE_DIRECTORY, ignore_errors=True)

if not settings.configured:
    settings.configure(
        DEBUG=False,
        SECRET_KEY="bucketry-tests",
        ALLOWED_HOSTS=["*"],
        USE_TZ=True,
        INSTALLED_APPS=["django.contrib.contenttypes", "tests.django_project.apps.UploadsConfig"],
        # A file, not ":memory:": async views reach the ORM from other threads.
        DATABASES={
            "default": {
                "ENGINE": "django.db.backends.sqlite3",
                "NAME": os.path.join(DATABASE_DIRECTORY, "db.sqlite3"),
            }
        },
        ROOT_URLCONF="tests.django_project.urls",
        MIDDLEWARE=[],
        MEDIA_URL="/media/",
        STORAGES={
            "default": {
                "BACKEND": "bucketry_django.BucketryStorage",
                "OPTIONS": {"url": "memory://"},
            }
        },
        FILE_UPLOAD_HANDLERS=[
            "bucketry_django.MaxSizeUploadHandler",
            "django.core.files.uploadhandler.MemoryFileUploadHandler",
            "django.core.files.uploadhandler.TemporaryFileUploadHandler",
        ],
        BUCKETRY_UPLOAD_MAX_SIZE=1024 * 1024,
        FILE_UPLOAD_MAX_MEMORY_SIZE=256 * 1024,
    )
    django.setup()

from django.core.files.base import ContentFile  # noqa: E402
from django.core.files.storage import default_storage, storages  # noqa: E402
from django.core.files.uploadedfile import SimpleUploadedFile  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.test import AsyncClient, Client, override_settings  # noqa: E402

from bucketry_django import BucketryStorage  # noqa: E402
from tests.django_project.models import Document, Photo  # noqa: E402

MiB = 1024 * 1024


@pytest.fixture(scope="module", autouse=True)
def database() -> None:
    call_command("migrate", run_syncdb=True, verbosity=0)


def storage_options(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> dict[str, Any]:
    if kind == "memory":
        return {"url": "memory://?base_url=/media/"}
    if kind == "filesystem":
        return {"backend": "filesystem", "location": str(tmp_path / "media"), "base_url": "/media/"}
    endpoint = request.getfixturevalue("moto_endpoint")
    bucket = request.getfixturevalue("s3_bucket")
    return {
        "backend": "s3",
        "bucket": bucket,
        "prefix": f"django-{tmp_path.name}",
        "endpoint_url": endpoint,
        "region": "us-east-1",
        "access_key_id": S3_KEY_ID,
        "secret_access_key": S3_SECRET,
        "querystring_auth": False,
    }


@pytest.fixture(params=["memory", "filesystem", "s3"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    options = storage_options(request.param, tmp_path, request)
    stores = {"default": {"BACKEND": "bucketry_django.BucketryStorage", "OPTIONS": options}}
    with override_settings(STORAGES=stores):
        yield request.param
        storages["default"].close()
    Document.objects.all().delete()
    Photo.objects.all().delete()


def png(width: int, height: int) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 30)).save(buffer, "PNG")
    return buffer.getvalue()


def test_filefield_uploads_round_trip(backend: str) -> None:
    client = Client()
    data = b"%PDF-1.4 report " * 5000
    response = client.post(
        "/documents/", {"title": "report", "file": SimpleUploadedFile("report.pdf", data)}
    )
    assert response.status_code == 200, response.content
    first = response.json()
    assert first["name"].startswith("documents/")
    assert first["name"].endswith("/report.pdf")
    assert first["size"] == len(data)
    again = client.post(
        "/documents/", {"title": "again", "file": SimpleUploadedFile("report.pdf", b"other")}
    ).json()
    assert again["name"] != first["name"], "a taken name is never overwritten"
    document = Document.objects.get(title="report")
    with document.file.open("rb") as opened:
        assert opened.read(9) == b"%PDF-1.4 "
        opened.seek(len(data) - 7)
        assert opened.read() == b"report "
    download = client.get(f"/files/{first['name']}")
    assert b"".join(download.streaming_content) == data
    assert default_storage.exists(first["name"])
    assert default_storage.get_modified_time(first["name"]).tzinfo is not None
    directory = first["name"].rsplit("/", 1)[0]
    assert sorted(default_storage.listdir(directory)[1]) == sorted(
        [first["name"].rsplit("/", 1)[1], again["name"].rsplit("/", 1)[1]]
    )
    default_storage.delete(first["name"])
    assert not default_storage.exists(first["name"])


def test_imagefield_reads_dimensions_through_the_bridge(backend: str) -> None:
    response = Client().post("/photos/", {"image": SimpleUploadedFile("dot.png", png(31, 17))})
    assert response.status_code == 200, response.content
    assert response.json()["width"] == 31
    assert response.json()["height"] == 17
    photo = Photo.objects.get()
    assert photo.image.width == 31


def test_concurrent_saves_of_one_name_from_threads(backend: str) -> None:
    names: list[str] = []

    def save(index: int) -> None:
        names.append(default_storage.save("same.txt", ContentFile(f"writer {index}".encode())))

    threads = [threading.Thread(target=save, args=(index,)) for index in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(names)) == 12
    assert {default_storage.open(name).read() for name in names} == {
        f"writer {index}".encode() for index in range(12)
    }


def test_oversize_upload_stops_reading_and_stores_nothing(backend: str) -> None:
    big = SimpleUploadedFile("big.bin", b"\0" * (5 * MiB))
    response = Client().post("/documents/", {"title": "too big", "file": big})
    assert response.status_code == 413
    received = response.json()["received"]
    assert received <= MiB + 256 * 1024, "reading stopped just past the limit, not at 5 MiB"
    assert Document.objects.count() == 0
    assert default_storage.listdir("")[1] == []
    assert (
        default_storage.listdir("") == ([], []) or "documents" not in default_storage.listdir("")[0]
    )


@pytest.mark.anyio
async def test_async_view_upload(backend: str) -> None:
    response = await AsyncClient().post(
        "/documents-async/", {"file": SimpleUploadedFile("async.txt", b"from an async view")}
    )
    assert response.status_code == 200, response.content
    assert response.json()["size"] == len(b"from an async view")


def test_settings_only_construction_and_migrations(tmp_path: Path) -> None:
    with override_settings(BUCKETRY_STORAGE=f"file://{tmp_path}"):
        storage = BucketryStorage()
        name = storage.save("a.txt", ContentFile(b"a"))
        assert storage.path(name) == str(tmp_path / "a.txt")
        storage.close()
    path, _, kwargs = BucketryStorage(url="memory://", overwrite=True).deconstruct()
    assert path == "bucketry_django.BucketryStorage"
    assert kwargs == {"url": "memory://", "overwrite": True}
    memory = BucketryStorage(url="memory://")
    with pytest.raises(NotImplementedError):
        memory.path("a.txt")
    memory.close()
    from django.core.exceptions import ImproperlyConfigured

    with override_settings(BUCKETRY_STORAGE=None), pytest.raises(ImproperlyConfigured):
        BucketryStorage().exists("x")
