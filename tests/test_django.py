"""A real Django project stores its FileField and ImageField uploads through the bridge.

Settings are configured here (sqlite in memory, the bridge as the default storage); uploads go
through Django's test client, against memory, the filesystem and S3 on moto.
"""

from __future__ import annotations

import atexit
import contextlib
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
STATIC_SOURCES = os.path.join(DATABASE_DIRECTORY, "static-sources")
atexit.register(shutil.rmtree, DATABASE_DIRECTORY, ignore_errors=True)

if not settings.configured:
    settings.configure(
        DEBUG=False,
        SECRET_KEY="bucketry-tests",
        ALLOWED_HOSTS=["*"],
        USE_TZ=True,
        INSTALLED_APPS=[
            "django.contrib.contenttypes",
            "django.contrib.staticfiles",
            "tests.django_project.apps.UploadsConfig",
        ],
        STATIC_URL="/static/",
        STATICFILES_DIRS=[STATIC_SOURCES],
        TEMPLATES=[{"BACKEND": "django.template.backends.django.DjangoTemplates"}],
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


# -- Django's storage semantics, checked against Django's own FileSystemStorage ----------------


def _contents(tmp_path: Path) -> dict[str, Any]:
    """Every kind of content Django code hands a storage, made fresh for each use."""
    from django.core.files.uploadedfile import InMemoryUploadedFile, TemporaryUploadedFile

    text_file = tmp_path / "source.txt"
    text_file.write_text("from a text file: é\n", encoding="utf-8")

    def temporary() -> Any:
        upload = TemporaryUploadedFile("t.bin", "application/octet-stream", 5, None)
        upload.write(b"temp!")
        upload.seek(0)
        return upload

    return {
        "ContentFile(str)": lambda: ContentFile("hello, é"),
        "ContentFile(bytes)": lambda: ContentFile(b"\x00\xffbytes"),
        "StringIO": lambda: io.StringIO("string io é"),
        "BytesIO": lambda: io.BytesIO(b"bytes io"),
        "InMemoryUploadedFile(StringIO)": lambda: InMemoryUploadedFile(
            io.StringIO("uploaded text"), "file", "u.txt", "text/plain", 13, "utf-8"
        ),
        "TemporaryUploadedFile": temporary,
        "File(text file)": lambda: __import__("django.core.files", fromlist=["File"]).File(
            open(text_file, encoding="utf-8")
        ),
        "SimpleUploadedFile": lambda: SimpleUploadedFile("s.bin", b"simple"),
    }


def test_every_content_kind_stores_what_filesystemstorage_stores(
    backend: str, tmp_path: Path
) -> None:
    from django.core.files.storage import FileSystemStorage

    django_own = FileSystemStorage(location=tmp_path / "django")
    for kind, make in _contents(tmp_path).items():
        with contextlib.closing(make()) as content:
            expected_name = django_own.save(f"kinds/{len(kind)}.txt", content)
        with django_own.open(expected_name, "rb") as stored:
            expected = stored.read()
        with contextlib.closing(make()) as content:
            name = default_storage.save(f"kinds/{len(kind)}.txt", content)
        with default_storage.open(name, "rb") as opened:
            assert opened.read() == expected, kind
        default_storage.delete(name)


def test_names_may_be_paths_and_base_urls_join_like_django(backend: str, tmp_path: Path) -> None:
    name = default_storage.save(Path("paths") / "a.txt", ContentFile(b"a"))
    assert default_storage.exists(Path(name))
    assert default_storage.listdir(Path("paths")) == ([], ["a.txt"])
    assert default_storage.size(Path(name)) == 1
    with default_storage.open(Path(name)) as opened:
        assert opened.read() == b"a"
    if backend != "s3":
        from django.core.files.storage import FileSystemStorage

        bare = {"memory": {"url": "memory://?base_url=http://www.example.com"}}.get(
            backend,
            {
                "backend": "filesystem",
                "location": str(tmp_path / "u"),
                "base_url": "http://www.example.com",
            },
        )
        ours = BucketryStorage(**bare)
        theirs = FileSystemStorage(location=tmp_path / "u", base_url="http://www.example.com")
        assert ours.url("file.txt") == theirs.url("file.txt") == "http://www.example.com/file.txt"
        ours.close()
    with pytest.raises(ValueError, match="name must be given"):
        default_storage.url(None)


def test_text_reads_and_write_modes(backend: str) -> None:
    name = default_storage.save("modes/t.txt", ContentFile("première ligne\nzweite"))
    with default_storage.open(name, "r") as text:
        assert text.read() == "première ligne\nzweite"
    latin = default_storage.save("modes/latin.txt", ContentFile("café".encode("latin-1")))
    with default_storage.open(latin, "r", encoding="latin-1") as text:
        assert text.read() == "café"
    with default_storage.open("modes/w.bin", "wb") as binary:
        binary.write(b"written ")
        binary.write(b"in two parts")
    assert default_storage.open("modes/w.bin").read() == b"written in two parts"
    with default_storage.open("modes/w.txt", "w") as text:
        text.write("über")
    assert default_storage.open("modes/w.txt").read() == "über".encode()
    with default_storage.open("modes/w.txt", "w") as text:
        text.write("replaced")  # a write-mode file replaces what was there, as on disk
    assert default_storage.open("modes/w.txt").read() == b"replaced"

    def fail_midway() -> None:
        with default_storage.open("modes/never.txt", "wb") as broken:
            broken.write(b"half")
            raise RuntimeError("the with block failed")

    with pytest.raises(RuntimeError):
        fail_midway()
    assert not default_storage.exists("modes/never.txt"), "a failed write stores nothing"
    with pytest.raises(ValueError, match="cannot append"):
        default_storage.open(name, "ab")


def test_a_written_file_past_the_spool_size_goes_to_disk_not_memory(backend: str) -> None:
    from bucketry_django.files import SPOOL_SIZE

    with default_storage.open("modes/big.bin", "wb") as big:
        for _ in range(SPOOL_SIZE // (1024 * 1024) + 2):
            big.write(b"\x01" * (1024 * 1024))
        assert big._spool._rolled, "past SPOOL_SIZE the content is on disk"
    assert default_storage.size("modes/big.bin") == SPOOL_SIZE + 2 * 1024 * 1024


def test_fieldfile_reopens_and_writes(backend: str) -> None:
    response = Client().post("/photos/", {"image": SimpleUploadedFile("dot.png", png(5, 4))})
    assert response.status_code == 200, response.content
    photo = Photo.objects.get()
    assert photo.image.width == 5  # reads the image, then closes the file
    with photo.image.open("rb") as opened:  # FieldFile.open() on a closed file reopens it
        assert opened.read(8) == b"\x89PNG\r\n\x1a\n"
    document = Document.objects.create(title="w", file="documents/written.txt")
    with document.file.open("wb") as writable:
        writable.write(b"through FieldFile")
    assert default_storage.open("documents/written.txt").read() == b"through FieldFile"


def test_max_length_and_overwrite_follow_django(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    from django.core.exceptions import SuspiciousFileOperation
    from django.core.files.storage import FileSystemStorage

    long = "dir/" + "a-rather-long-file-name" + ".txt"
    name = default_storage.save(long, ContentFile(b"x"), max_length=20)
    assert len(name) <= 20
    assert name.startswith("dir/a")
    assert name.endswith(".txt")
    with pytest.raises(SuspiciousFileOperation):
        default_storage.save("dir/" + "x" * 30 + ".txt", ContentFile(b"x"), max_length=10)
    replacing = BucketryStorage(**storage_options(backend, tmp_path, request), overwrite=True)
    theirs = FileSystemStorage(location=tmp_path / "ow", allow_overwrite=True)
    first = replacing.save(long, ContentFile(b"one"), max_length=20)
    second = replacing.save(long, ContentFile(b"two"), max_length=20)
    assert first == second == theirs.save(long, ContentFile(b"one"), max_length=20)
    assert replacing.open(second).read() == b"two"
    replacing.close()


def test_unsafe_names_are_suspicious_and_answer_400(backend: str) -> None:
    from django.core.exceptions import SuspiciousFileOperation

    from bucketry import UnsafeNameError

    for unsafe in ["../escape.txt", "/etc/passwd", "a/../../b", "nul\x00.txt"]:
        with pytest.raises(SuspiciousFileOperation) as raised:
            default_storage.save(unsafe, ContentFile(b"x"))
        assert isinstance(raised.value, UnsafeNameError)
        with pytest.raises(SuspiciousFileOperation):
            default_storage.exists(unsafe)
    response = Client().post("/named/", {"name": "../../etc/cron.d/x", "text": "boom"})
    assert response.status_code == 400
    assert default_storage.listdir("") == ([], [])


def test_times_where_the_backend_knows_them(backend: str) -> None:
    name = default_storage.save("times.txt", ContentFile(b"t"))
    assert default_storage.get_modified_time(name).tzinfo is not None
    if backend == "filesystem":
        assert default_storage.get_created_time(name).tzinfo is not None
        assert default_storage.get_accessed_time(name).tzinfo is not None
        assert default_storage.path(name).startswith(default_storage.location)
    else:
        with pytest.raises(NotImplementedError):
            default_storage.get_created_time(name)
        with pytest.raises(NotImplementedError):
            default_storage.path(name)


@pytest.mark.parametrize("manifest", [False, True], ids=["plain", "manifest"])
def test_collectstatic_publishes_to_the_backend(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest, manifest: bool
) -> None:
    from django.contrib.staticfiles.storage import staticfiles_storage
    from django.template import Context, Template

    sources = Path(STATIC_SOURCES)
    (sources / "css").mkdir(parents=True, exist_ok=True)
    (sources / "img").mkdir(parents=True, exist_ok=True)
    (sources / "img" / "logo.png").write_bytes(png(3, 3))
    (sources / "css" / "site.css").write_text("body { background: url('../img/logo.png'); }\n")
    options = storage_options(backend, tmp_path / "static", request)
    if backend != "s3":
        options["url" if "url" in options else "base_url"] = (
            "memory://?base_url=/static/" if "url" in options else "/static/"
        )
    if backend == "s3":
        options["prefix"] = f"static-{tmp_path.name}"
    kind = "ManifestBucketryStaticStorage" if manifest else "BucketryStaticStorage"
    stores = {
        "default": {"BACKEND": "bucketry_django.BucketryStorage", "OPTIONS": {"url": "memory://"}},
        "staticfiles": {"BACKEND": f"bucketry_django.{kind}", "OPTIONS": options},
    }
    with override_settings(STORAGES=stores):
        call_command("collectstatic", interactive=False, verbosity=0)
        published = staticfiles_storage
        assert published.exists("img/logo.png")
        rendered = Template("{% load static %}{% static 'css/site.css' %}").render(Context())
        if manifest:
            hashed = published.stored_name("css/site.css")
            assert hashed != "css/site.css"
            assert published.exists(hashed)
            assert published.exists("staticfiles.json")
            css = published.open(hashed).read().decode()
            assert published.stored_name("img/logo.png").split("/")[-1] in css
            assert rendered.endswith(hashed)
        else:
            assert rendered.endswith("css/site.css")
        (sources / "css" / "site.css").unlink()
        call_command("collectstatic", interactive=False, verbosity=0, clear=True)
        assert not published.exists("css/site.css")
        assert published.exists("img/logo.png")
        published.close()


def test_a_large_file_opens_in_ranges_and_a_small_one_in_one_read(backend: str) -> None:
    big = bytes(range(256)) * (3 * MiB // 256)
    name = default_storage.save("ranges/big.bin", ContentFile(big))
    with default_storage.open(name) as opened:
        assert opened.size == len(big)
        opened.seek(2 * MiB + 5)
        assert opened.read(10) == big[2 * MiB + 5 : 2 * MiB + 15]
        opened.seek(0)
        assert opened.read() == big
    small = default_storage.save("ranges/small.bin", ContentFile(b"tiny"))
    with default_storage.open(small) as opened:
        assert opened.size == 4
        assert opened.read() == b"tiny"
    empty = default_storage.save("ranges/empty.bin", ContentFile(b""))
    with default_storage.open(empty) as opened:
        assert opened.size == 0
        assert opened.read() == b""
