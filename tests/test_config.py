"""Choosing a storage by name, URL, instance, alias or environment; errors say what to do."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bucketry import (
    ConfigurationError,
    UnknownBackendError,
    available_backends,
    close_storages,
    configure_storage,
    create_storage,
    get_storage,
)
from bucketry.config import _storages
from bucketry_filesystem import FileSystemStorage
from bucketry_memory import MemoryStorage


@pytest.fixture(autouse=True)
def clean_configuration(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("BUCKETRY_STORAGE_URL", raising=False)
    monkeypatch.delenv("BUCKETRY_STORAGE_URL_MEDIA", raising=False)
    _storages.clear()
    yield
    _storages.clear()


def test_builtin_backends_are_registered_by_entry_point() -> None:
    assert {"memory", "filesystem", "file"} <= set(available_backends())


def test_configure_by_name(tmp_path: Path) -> None:
    storage = configure_storage("filesystem", location=tmp_path, base_url="/media/")
    assert isinstance(storage, FileSystemStorage)
    assert get_storage() is storage
    assert storage.url("a b.txt") == "/media/a%20b.txt"


def test_configure_instance_and_alias() -> None:
    media = MemoryStorage()
    assert configure_storage(media, alias="media") is media
    assert get_storage("media") is media
    with pytest.raises(ConfigurationError, match="No storage is configured under alias 'default'"):
        get_storage()


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("memory://", MemoryStorage),
        ("memory://?base_url=/files/", MemoryStorage),
        ("file:///tmp/uploads?base_url=/media/&fsync=false", FileSystemStorage),
        ("filesystem:///tmp/uploads", FileSystemStorage),
    ],
)
def test_configure_by_url(url: str, kind: type) -> None:
    assert isinstance(configure_storage(url), kind)


def test_url_options_are_typed() -> None:
    storage = create_storage("file:///srv/media?fsync=no&file_permissions_mode=0o600")
    assert isinstance(storage, FileSystemStorage)
    assert storage.fsync is False
    assert storage.file_permissions_mode == 0o600
    assert storage.location == "/srv/media"


def test_environment_configures_an_alias(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BUCKETRY_STORAGE_URL", "memory://")
    monkeypatch.setenv("BUCKETRY_STORAGE_URL_MEDIA", "file:///srv/media")
    assert isinstance(get_storage(), MemoryStorage)
    assert get_storage() is get_storage()
    assert isinstance(get_storage("media"), FileSystemStorage)


def test_unknown_backend_names_installed_ones_and_the_extra() -> None:
    with pytest.raises(UnknownBackendError) as caught:
        configure_storage("nope")
    message = str(caught.value)
    assert "'nope'" in message
    assert "filesystem" in message
    assert "memory" in message
    assert isinstance(caught.value, LookupError)


def test_a_known_backend_that_is_not_installed_names_its_extra(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from bucketry import registry

    installed = {n: e for n, e in registry._read_entry_points().items() if n not in {"gcs", "gs"}}
    monkeypatch.setattr(registry, "_read_entry_points", lambda: installed)
    monkeypatch.setattr(registry, "_loaded", {})
    with pytest.raises(UnknownBackendError, match=r'pip install "bucketry\[gcs\]"'):
        create_storage("gs://bucket/prefix")


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: create_storage("filesystem"), "location"),
        (lambda: create_storage("filesystem", location="/x", colour="red"), "colour"),
        (lambda: create_storage("file:///x?fsync=maybe"), "not a valid bool"),
        (lambda: create_storage("file:///x?nonsense=1"), "no option 'nonsense'"),
        (lambda: create_storage("memory://somewhere"), "no location"),
        (lambda: create_storage("file://host/x"), "absolute directory"),
        (lambda: create_storage(42), "backend name"),  # type: ignore[arg-type]
        (lambda: create_storage("memory://", base_url="/x"), "query string"),
        (lambda: create_storage(MemoryStorage(), base_url="/x"), "instance"),
    ],
)
def test_wrong_configuration_says_what_to_fix(call, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        call()


@pytest.mark.anyio
async def test_close_storages_forgets_them() -> None:
    configure_storage("memory://")
    await close_storages()
    with pytest.raises(ConfigurationError):
        get_storage()


def test_repr_shows_options() -> None:
    assert repr(MemoryStorage(base_url="/m/")) == "MemoryStorage(base_url='/m/')"
