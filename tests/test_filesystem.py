"""What the filesystem backend promises beyond the shared contract: it never leaves its root."""

from __future__ import annotations

import asyncio
import errno
import os
import shutil
import stat
import threading
import unicodedata
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bucketry import AlreadyExistsError, UnsafeNameError
from bucketry_filesystem import TEMP_PREFIX, FileSystemStorage

pytestmark = pytest.mark.anyio


@pytest.fixture
async def storage(tmp_path: Path) -> AsyncIterator[FileSystemStorage]:
    async with FileSystemStorage(location=tmp_path / "root") as storage:
        yield storage


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    target = tmp_path / "outside"
    target.mkdir()
    (target / "secret.txt").write_bytes(b"do not read")
    return target


async def test_symlinked_directory_out_of_root_is_refused(
    storage: FileSystemStorage, outside: Path
) -> None:
    root = Path(storage.location)
    root.mkdir()
    (root / "escape").symlink_to(outside, target_is_directory=True)
    with pytest.raises(UnsafeNameError, match="outside the storage root"):
        await storage.save("escape/planted.txt", b"x")
    with pytest.raises(UnsafeNameError):
        await storage.open("escape/secret.txt")
    with pytest.raises(UnsafeNameError):
        await storage.delete("escape/secret.txt")
    assert sorted(p.name for p in outside.iterdir()) == ["secret.txt"]
    assert (outside / "secret.txt").read_bytes() == b"do not read"
    assert [info.name async for info in storage.list()] == []


async def test_symlinked_file_out_of_root_is_refused(
    storage: FileSystemStorage, outside: Path
) -> None:
    root = Path(storage.location)
    root.mkdir()
    (root / "link.txt").symlink_to(outside / "secret.txt")
    with pytest.raises(UnsafeNameError):
        await storage.open("link.txt")
    with pytest.raises(UnsafeNameError):
        await storage.save("link.txt", b"overwrite through the link", overwrite=True)
    assert (outside / "secret.txt").read_bytes() == b"do not read"
    assert await storage.listdir() == ([], [])


async def test_symlink_inside_root_is_followed(storage: FileSystemStorage) -> None:
    await storage.save("real/file.txt", b"inside")
    (Path(storage.location) / "alias").symlink_to(Path(storage.location) / "real")
    assert await storage.open("alias/file.txt") == b"inside"


async def test_temp_files_are_hidden_reserved_and_cleaned(storage: FileSystemStorage) -> None:
    await storage.save("dir/kept.txt", b"kept")
    stale = Path(storage.location) / "dir" / f"{TEMP_PREFIX}crashed"
    stale.write_bytes(b"half a file")
    os.utime(stale, (0, 0))
    fresh = Path(storage.location) / "dir" / f"{TEMP_PREFIX}in-progress"
    fresh.write_bytes(b"being written")
    assert await storage.listdir("dir") == ([], ["kept.txt"])
    with pytest.raises(UnsafeNameError, match="reserved"):
        await storage.save(f"dir/{TEMP_PREFIX}mine", b"x")
    assert await storage.remove_temp_files(older_than=3600) == 1
    assert not stale.exists()
    assert fresh.exists()


async def test_files_are_written_with_django_permissions(storage: FileSystemStorage) -> None:
    small = await storage.save("perm.txt", b"x")
    streamed = await storage.save("streamed.bin", _chunks_of(2, 512 * 1024))  # the other path
    for name in (small, streamed):
        assert stat.S_IMODE(os.stat(storage.path(name)).st_mode) == 0o644


async def test_without_a_file_mode_files_stay_private(tmp_path: Path) -> None:
    """``file_permissions_mode=None``, as Django's ``FILE_UPLOAD_PERMISSIONS = None``: the file
    keeps the mode it was created with, readable by its owner only."""
    async with FileSystemStorage(location=tmp_path, file_permissions_mode=None) as storage:
        small = await storage.save("small.txt", b"x")
        streamed = await storage.save("streamed.bin", _chunks_of(2, 512 * 1024))
        for name in (small, streamed):
            assert stat.S_IMODE(os.stat(storage.path(name)).st_mode) == 0o600


async def test_directory_permissions_are_exact_and_the_umask_is_restored(tmp_path: Path) -> None:
    umask = os.umask(0o022)
    try:
        async with FileSystemStorage(
            location=tmp_path / "root", directory_permissions_mode=0o751
        ) as storage:
            await storage.save("a/b.txt", b"x")
            # Every bit of the mode is kept, the lowest too (no umask of any kind applies).
            assert stat.S_IMODE((tmp_path / "root" / "a").stat().st_mode) == 0o751
            assert os.umask(0o022) == 0o022  # the process's umask is as it was
    finally:
        os.umask(umask)


async def test_url_forms_and_base_url(tmp_path: Path) -> None:
    from bucketry import ConfigurationError, create_storage

    plain: Any = create_storage(f"file://localhost{tmp_path}")
    assert plain.location == str(tmp_path)
    for url in ("file://elsewhere/x", "file://"):
        with pytest.raises(ConfigurationError, match="absolute directory"):
            create_storage(url)
    slashless = FileSystemStorage(location=tmp_path, base_url="/files")
    assert slashless.url("a.txt") == "/files/a.txt"


async def test_deleting_a_link_removes_the_link_not_its_target(
    storage: FileSystemStorage,
) -> None:
    await storage.save("real.txt", b"kept")
    (Path(storage.location) / "alias.txt").symlink_to(Path(storage.location) / "real.txt")
    await storage.delete("alias.txt")
    assert not (Path(storage.location) / "alias.txt").is_symlink()
    assert await storage.open("real.txt") == b"kept"


@pytest.mark.parametrize("chunk", [100, 1024 * 1024], ids=["small", "streamed"])
async def test_a_failed_save_leaves_no_file_and_no_directory(
    storage: FileSystemStorage, chunk: int
) -> None:
    async def broken() -> AsyncIterator[bytes]:
        yield b"x" * chunk
        yield b"y" * chunk
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        await storage.save("dir/sub/broken.bin", broken())
    assert list(Path(storage.location).rglob("*")) == []


async def test_a_too_long_name_is_refused_before_anything_is_created(
    storage: FileSystemStorage,
) -> None:
    with pytest.raises(UnsafeNameError, match="longer than 255 bytes"):
        await storage.save("new-dir/" + "a" * 300, b"x")
    assert not Path(storage.location, "new-dir").exists()
    # The directory name is still free for a file: nothing was left behind to clash with it.
    assert await storage.save("new-dir", b"x") == "new-dir"


async def test_a_streamed_save_writes_every_chunk_in_order(storage: FileSystemStorage) -> None:
    chunks = [bytes([index]) * (300 * 1024 + index) for index in range(12)]

    async def source() -> AsyncIterator[bytes]:
        for chunk in chunks:
            yield chunk

    name = await storage.save("big.bin", source())
    assert Path(storage.path(name)).read_bytes() == b"".join(chunks)


async def test_directory_and_file_names_clash_clearly(storage: FileSystemStorage) -> None:
    await storage.save("a/b.txt", b"x")
    with pytest.raises(AlreadyExistsError):
        await storage.save("a", b"x", overwrite=True)
    renamed = await storage.save("a", b"x")
    assert renamed.startswith("a_")


async def test_urls(tmp_path: Path) -> None:
    plain = FileSystemStorage(location=tmp_path)
    assert plain.url("a b/ü.txt") == (tmp_path / "a b" / "ü.txt").as_uri()
    served = FileSystemStorage(location=tmp_path, base_url="https://cdn.example/media/")
    assert served.url("a b/ü.txt") == "https://cdn.example/media/a%20b/%C3%BC.txt"


async def test_empty_directories_disappear_like_object_store_prefixes(
    storage: FileSystemStorage,
) -> None:
    name = await storage.save("x/y/z.txt", b"x")
    await storage.delete(name)
    assert await storage.listdir() == ([], [])
    assert Path(storage.location).is_dir()


async def test_no_name_reaches_outside_the_root(tmp_path: Path) -> None:
    """Property: whatever the name, nothing is created outside the root, even with a symlink
    to the outside planted inside it."""
    import asyncio
    import contextlib

    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    from bucketry import BucketryError

    outside = tmp_path / "outside"
    outside.mkdir()
    root = tmp_path / "root"
    root.mkdir()
    (root / "escape").symlink_to(outside, target_is_directory=True)
    (root / "link.txt").symlink_to(outside / "target.txt")
    loop = asyncio.get_running_loop()
    storage = FileSystemStorage(location=root)
    segment = st.one_of(
        st.sampled_from(["escape", "link.txt", "..", ".", "", "a", "\\", "escape/..", "/"]),
        st.text(max_size=8),
    )
    names = st.lists(segment, min_size=1, max_size=5).map("/".join)

    async def attempt(name: str) -> None:
        for overwrite in (False, True):
            with contextlib.suppress(BucketryError):
                await storage.save(name, b"payload", overwrite=overwrite)
        with contextlib.suppress(BucketryError):
            await storage.copy("a", name)

    await storage.save("a", b"source")

    @settings(
        max_examples=300, deadline=None, database=None, suppress_health_check=list(HealthCheck)
    )
    @given(names)
    def never_outside(name: str) -> None:
        asyncio.run_coroutine_threadsafe(attempt(name), loop).result(timeout=30)
        assert list(outside.iterdir()) == [], name

    await asyncio.to_thread(never_outside)
    await storage.aclose()


async def test_a_cancelled_streamed_save_leaves_nothing_and_logs_nothing(
    storage: FileSystemStorage,
) -> None:
    """Cancelled while its worker thread may still be writing: the temp file and its new
    directories go, and no abandoned write surfaces later as an unread exception."""
    import asyncio
    import gc

    reported: list[dict[str, object]] = []
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(lambda _, context: reported.append(context))
    started = asyncio.Event()

    async def source() -> AsyncIterator[bytes]:
        for _ in range(3):
            yield b"x" * (1024 * 1024)
        started.set()
        await asyncio.sleep(3600)
        yield b"never"

    try:
        task = asyncio.ensure_future(storage.save("deep/dir/big.bin", source()))
        await asyncio.wait_for(started.wait(), 30)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await asyncio.sleep(0.1)  # let any abandoned write finish and report
        gc.collect()
        assert list(Path(storage.location).rglob("*")) == []
        assert reported == []
    finally:
        loop.set_exception_handler(None)


@pytest.mark.parametrize("recursive", [True, False])
async def test_listing_a_large_directory_holds_a_page_not_the_directory(
    storage: FileSystemStorage, recursive: bool
) -> None:
    """20,000 files in one directory: what a listing holds at once stays near one page."""
    import tracemalloc

    directory = Path(storage.location) / "many"
    directory.mkdir(parents=True)
    for index in range(20_000):
        (directory / f"file-{index:05d}.txt").touch()
    seen = 0
    tracemalloc.start()
    try:
        baseline = tracemalloc.get_traced_memory()[0]
        async for info in storage.list("many", recursive=recursive):
            seen += info.size + 1
        peak = tracemalloc.get_traced_memory()[1] - baseline
    finally:
        tracemalloc.stop()
    assert seen == 20_000
    assert peak < 2 * 1024 * 1024, f"{peak / 2**20:.1f} MiB held while listing"


# -- what only a file system can do: links in listings, OS errors, descriptors -------------------


async def test_links_in_listings(storage: FileSystemStorage, outside: Path) -> None:
    """A link to a file inside the root is listed as that file; a link to a directory is never
    descended (no loops, no second copy of a tree); a link leading outside is not listed."""
    await storage.save("real/file.txt", b"inside")
    root = Path(storage.location)
    (root / "alias.txt").symlink_to(root / "real" / "file.txt")
    (root / "loop").symlink_to(root)
    (root / "escape.txt").symlink_to(outside / "secret.txt")
    (root / "dangling.txt").symlink_to(root / "nothing-here")
    for index in range(5):  # names bucketry could never ask for are skipped, and only they
        (root / f"back\\slash-{index}.txt").write_bytes(b"not ours")
        (root / unicodedata.normalize("NFD", f"café-{index}.txt")).write_bytes(b"not NFC")
        (root / f"ours-{index}.txt").write_bytes(b"ours")
    listed = {info.name: info.size async for info in storage.list()}
    assert listed == {
        "real/file.txt": 6,
        "alias.txt": 6,
        **{f"ours-{index}.txt": 4 for index in range(5)},
    }
    assert await storage.listdir() == (
        ["real"],
        ["alias.txt", *(f"ours-{i}.txt" for i in range(5))],
    )
    assert await storage.open("alias.txt") == b"inside"
    with pytest.raises(UnsafeNameError):
        await storage.open("escape.txt")


@pytest.mark.parametrize(
    ("call", "error", "bucketry_error"),
    [
        ("link", errno.ENOSPC, "UnavailableError"),
        ("link", errno.EACCES, "PermissionDeniedError"),
        ("fsync", errno.EIO, "UnavailableError"),
        ("replace", errno.EROFS, "UnavailableError"),
        ("mkdir", errno.EACCES, "PermissionDeniedError"),
    ],
)
async def test_an_os_error_is_translated_and_leaves_nothing(
    storage: FileSystemStorage,
    monkeypatch: pytest.MonkeyPatch,
    call: str,
    error: int,
    bucketry_error: str,
) -> None:
    """A disk full, a read-only remount, an I/O error, a refused permission: each becomes the
    documented bucketry error, the message names the file, and no temp file or emptied
    directory stays behind. (Root ignores file modes, so the errors are injected.)"""
    import bucketry
    import bucketry_filesystem.storage as module

    real = getattr(os, call)

    def failing(*args: object, **kwargs: object) -> object:
        raise OSError(error, os.strerror(error))

    monkeypatch.setattr(module.os, call, failing)
    overwrite = call == "replace"
    with pytest.raises(getattr(bucketry, bucketry_error), match=r"new/dir/file\.bin"):
        await storage.save("new/dir/file.bin", b"x" * 10, overwrite=overwrite)
    monkeypatch.setattr(module.os, call, real)
    assert [p.name for p in Path(storage.location).rglob("*")] == []


async def test_a_stream_abandoned_unfinished_closes_its_file(storage: FileSystemStorage) -> None:
    """A reader that stops early and never closes the stream (a client that went away) must
    not leak the open file: the stream closes it when it is collected, itself, not left to the
    file object's own finaliser (which warns ``unclosed file``)."""
    import gc
    import warnings

    name = await storage.save("big.bin", os.urandom(3 * 1024 * 1024))
    descriptors = len(os.listdir("/proc/self/fd"))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        for _ in range(20):
            stream = storage.stream(name, chunk_size=1024)
            async for _chunk in stream:
                break
            del stream
        gc.collect()
        await asyncio.sleep(0.05)  # the loop finalises the async generators it was handed
        gc.collect()
    assert len(os.listdir("/proc/self/fd")) <= descriptors
    assert [str(w.message) for w in caught if w.category is ResourceWarning] == []


async def test_the_root_is_never_pruned(tmp_path: Path) -> None:
    """Deleting, moving and failing inside an empty storage leave its root directory."""
    async with FileSystemStorage(location=tmp_path / "root") as storage:
        await storage.save("only.txt", b"x")
        await storage.move("only.txt", "d/moved.txt")
        await storage.delete("d/moved.txt")
        assert Path(storage.location).is_dir()
        with pytest.raises(RuntimeError):
            await storage.save("x.bin", _broken())
        assert Path(storage.location).is_dir()
        assert await storage.delete_prefix("d") == 0
        assert Path(storage.location).is_dir()
        assert await storage.listdir() == ([], [])


async def _broken() -> AsyncIterator[bytes]:
    yield b"x"
    raise RuntimeError("broken")


async def test_relative_links_inside_the_root_resolve_and_escaping_ones_do_not(
    storage: FileSystemStorage, outside: Path
) -> None:
    """Link targets may walk ``..`` and ``.`` (a name may not): they are followed segment by
    segment from the link's own directory, and refused the moment they climb above the root."""
    await storage.save("real/deep/file.txt", b"inside")
    root = Path(storage.location)
    (root / "links").mkdir()
    (root / "links" / "up").symlink_to("../real/./deep")
    (root / "links" / "file.txt").symlink_to("../real/deep/../deep/file.txt")
    (root / "links" / "escape").symlink_to("../../outside")
    assert await storage.open("links/up/file.txt") == b"inside"
    assert await storage.open("links/file.txt") == b"inside"
    assert await storage.size("links/file.txt") == 6
    with pytest.raises(UnsafeNameError):
        await storage.open("links/escape/secret.txt")
    with pytest.raises(UnsafeNameError):
        await storage.save("links/escape/new.txt", b"x")
    assert sorted(p.name for p in outside.iterdir()) == ["secret.txt"]


async def test_new_directories_follow_the_umask(storage: FileSystemStorage) -> None:
    """Without ``directory_permissions_mode``, directories are made as ``mkdir`` makes them:
    0o777 less the umask, as Django's FileSystemStorage does."""
    umask = os.umask(0o022)
    os.umask(umask)
    await storage.save("a/b/c.txt", b"x")
    for directory in (Path(storage.location) / "a", Path(storage.location) / "a" / "b"):
        assert stat.S_IMODE(directory.stat().st_mode) == 0o777 & ~umask


async def test_a_failed_copy_leaves_nothing(
    storage: FileSystemStorage, monkeypatch: pytest.MonkeyPatch
) -> None:
    import bucketry
    import bucketry_filesystem.storage as module

    await storage.save("source.txt", b"kept")

    def failing(*args: object, **kwargs: object) -> object:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(module.os, "link", failing)
    with pytest.raises(bucketry.UnavailableError):
        await storage.copy("source.txt", "new/dir/copy.txt")
    monkeypatch.undo()
    assert sorted(
        str(p.relative_to(storage.location)) for p in Path(storage.location).rglob("*")
    ) == ["source.txt"]


async def test_no_descriptor_is_left_open(storage: FileSystemStorage) -> None:
    """Every operation, whether it succeeds or fails, closes the descriptors it walked with."""

    def descriptors() -> int:
        return len(os.listdir("/proc/self/fd"))

    async def every_operation() -> None:
        await storage.save("d/a.txt", b"a")
        await storage.save("d/a.txt", b"again")  # taken: another name
        await storage.save("d/a.txt", b"over", overwrite=True)
        await storage.save("d/e/big.bin", _chunks_of(3, 1024 * 1024))
        await storage.open("d/a.txt")
        async for _ in storage.stream("d/e/big.bin", start=10, end=2_000_000, chunk_size=65536):
            pass
        await storage.stat("d/a.txt")
        await storage.exists("d/nothing.txt")
        await storage.copy("d/a.txt", "c/copy.txt")
        await storage.move("c/copy.txt", "m/moved.txt")
        await storage.listdir("d")
        [info async for info in storage.list()]
        for failing in (
            storage.open("d/missing.txt"),
            storage.stat("d"),
            storage.open("d"),
            storage.save("d/a.txt/under-a-file", b"x"),
            storage.copy("d/missing.txt", "x.txt"),
            storage.move("d/a.txt", "m/moved.txt"),
        ):
            with pytest.raises(Exception):  # noqa: B017, PT011 (each fails its own way)
                await failing
        with pytest.raises(RuntimeError):
            await storage.save("f/broken.bin", _broken())
        await storage.delete_prefix("d")
        await storage.delete("m/moved.txt")

    import gc
    import warnings

    await storage.save("real/deep/file.txt", b"linked")
    (Path(storage.location) / "up").symlink_to("real/deep/../deep")
    deep = Path(storage.location) / "real" / "deep"
    (deep / "absolute").symlink_to(deep)  # followed from two directories down: back to the root
    await every_operation()  # the root descriptor is opened once, and kept
    before = descriptors()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        for _ in range(3):
            await every_operation()
            assert await storage.open("up/file.txt") == b"linked"
            assert await storage.open("real/deep/absolute/file.txt") == b"linked"
        gc.collect()
    assert descriptors() == before
    assert [str(w.message) for w in caught if w.category is ResourceWarning] == []


async def _chunks_of(count: int, size: int) -> AsyncIterator[bytes]:
    for index in range(count):
        yield bytes([index]) * size


async def test_a_loop_of_links_is_refused_not_retried(storage: FileSystemStorage) -> None:
    """Links are followed in user space, counted as the kernel counts them (40 at most): a loop
    ends at once with a permanent error, not an ``UnavailableError`` the retry policy would
    repeat."""
    root = Path(storage.location)
    root.mkdir(parents=True, exist_ok=True)
    (root / "a").symlink_to("b")
    (root / "b").symlink_to("a")
    for operation in (
        lambda: storage.open("a"),
        lambda: storage.open("a/x.txt"),
        lambda: storage.save("a/x.txt", b"x"),
        lambda: storage.stat("b"),
    ):
        with pytest.raises(UnsafeNameError, match="loop"):
            await operation()
    assert storage.retry_stats.retries == 0


async def test_path_refuses_a_name_that_leads_out_through_a_link(
    storage: FileSystemStorage, outside: Path
) -> None:
    """``path()`` (Django's, for code that needs a real path) keeps the root as every
    operation does: a link leading outside is refused, one staying inside is allowed."""
    await storage.save("inside/file.txt", b"x")
    root = Path(storage.location)
    (root / "escape").symlink_to(outside)
    (root / "alias").symlink_to(root / "inside")
    with pytest.raises(UnsafeNameError, match="outside the storage root"):
        storage.path("escape/secret.txt")
    assert storage.path("alias/file.txt") == str(root / "alias" / "file.txt")


async def test_a_root_removed_behind_its_back_is_made_and_used_again(
    storage: FileSystemStorage,
) -> None:
    """The root's descriptor is kept between operations; when someone removes the directory,
    the next save makes a new one and writes there, not into the removed one."""
    await storage.save("first.txt", b"1")
    shutil.rmtree(storage.location)
    assert await storage.save("second.txt", b"2") == "second.txt"
    assert (Path(storage.location) / "second.txt").read_bytes() == b"2"
    assert await storage.listdir() == ([], ["second.txt"])


async def test_a_removed_roots_descriptor_is_closed_once_noticed(
    storage: FileSystemStorage,
) -> None:
    await storage.save("first.txt", b"1")
    held = len(os.listdir("/proc/self/fd"))
    shutil.rmtree(storage.location)
    await storage.save("second.txt", b"2")
    current = storage._root._current
    assert current is not None
    assert os.fstat(current).st_ino == os.stat(storage.location).st_ino
    assert len(os.listdir("/proc/self/fd")) == held, "the removed root's descriptor leaked"


async def test_one_slow_liveness_check_of_the_root_holds_up_no_other_operation(
    storage: FileSystemStorage, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whether the root is still linked is a system call on every operation. Made under the
    lock that guards the shared descriptor, each worker thread would queue behind the others'
    checks: a thread stuck in one must not stop another from getting the root."""
    from bucketry_filesystem import storage as module

    await storage.save("made.txt", b"the root is open")
    inside, leave = threading.Event(), threading.Event()
    checks = 0

    def slow_first_check(fd: int) -> bool:
        nonlocal checks
        checks += 1
        if checks == 1:
            inside.set()
            leave.wait(10)
        return True

    monkeypatch.setattr(module, "_alive", slow_first_check)
    stuck = threading.Thread(target=lambda: storage._root.release(storage._root.acquire(make=True)))
    stuck.start()
    try:
        assert inside.wait(10)
        other = threading.Thread(
            target=lambda: storage._root.release(storage._root.acquire(make=True))
        )
        other.start()
        other.join(5)
        assert not other.is_alive(), "a second operation waited for the first one's check"
    finally:
        leave.set()
        stuck.join()


async def test_links_are_followed_forty_deep_as_the_kernel_does(
    storage: FileSystemStorage,
) -> None:
    """A chain of 40 links resolves (the kernel's own limit on one lookup); 41 is a loop."""
    from bucketry_filesystem.beneath import MAX_LINKS

    await storage.save("target.txt", b"at the end")
    root = Path(storage.location)
    previous = "target.txt"
    for index in range(MAX_LINKS + 1):
        (root / f"link-{index}").symlink_to(previous)
        previous = f"link-{index}"
    assert await storage.open(f"link-{MAX_LINKS - 1}") == b"at the end"
    with pytest.raises(UnsafeNameError, match="loop"):
        await storage.open(f"link-{MAX_LINKS}")


async def test_a_file_system_with_shorter_names_refuses_them_before_creating_anything(
    storage: FileSystemStorage,
) -> None:
    """The core allows 255-byte segments; some file systems take fewer (eCryptfs: 143). Such a
    name is refused with what to do, and the save leaves no directory behind."""
    storage._name_max = 143  # as the root's PC_NAME_MAX would say on eCryptfs
    with pytest.raises(UnsafeNameError, match="longer than this file system allows"):
        await storage.save("new-dir/" + "a" * 200, b"x")
    assert not Path(storage.location, "new-dir").exists()
    with pytest.raises(UnsafeNameError, match="longer than this file system allows"):
        await storage.open("b" * 144)


def _is_open(fd: int) -> bool:
    try:
        os.fstat(fd)
    except OSError:
        return False
    return True


async def test_the_root_descriptor_outlives_a_close_while_an_operation_walks_from_it(
    storage: FileSystemStorage,
) -> None:
    """Operations share the root's descriptor. Closed under one of them, its number could be
    reused by the next ``open`` anywhere in the process, and the walk would go on from there."""
    await storage.save("kept.txt", b"x")
    at = storage._at("kept.txt")  # an operation mid-walk
    try:
        await storage.aclose()
        assert _is_open(at.root_fd), "closing the storage closed a descriptor still in use"
    finally:
        storage._release(at)
    assert not _is_open(at.root_fd), "the last user's release closes it"
    assert await storage.open("kept.txt") == b"x"  # and the storage opens a new one


async def test_a_taken_temp_name_is_passed_over(
    storage: FileSystemStorage, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Temp names are not drawn from the kernel's randomness each time; ``O_EXCL`` is what keeps
    them apart, so one that exists already (a crash's leftover, or planted) is skipped."""
    from bucketry_filesystem import storage as module

    root = Path(storage.location)
    await storage.save("first.txt", b"1")
    planted = root / (TEMP_PREFIX + "planted")
    planted.write_bytes(b"not ours")
    names = iter([planted.name, TEMP_PREFIX + "fresh"])
    monkeypatch.setattr(module._temp_names, "next", lambda: next(names))
    assert await storage.save("second.txt", b"2") == "second.txt"
    assert planted.read_bytes() == b"not ours"
    assert (root / "second.txt").read_bytes() == b"2"


def test_content_types_are_guessed_as_mimetypes_does() -> None:
    """Listing guesses a type per suffix, once; the answer must be the one ``mimetypes`` gives
    for the whole name."""
    import mimetypes

    from bucketry_filesystem.storage import _guess_type

    for name in [
        "a.txt",
        "d/photo.JPG",
        "archive.tar.gz",
        "x.b.c.json",
        ".env",
        "d/.hidden.txt",
        "..x.txt",
        "no-suffix",
        "d.dir/file",
        "weird.",
        "a.unknownsuffix",
        "p/q/r.html",
    ]:
        assert _guess_type(name) == mimetypes.guess_type(name)[0], name


async def test_every_way_out_of_a_walk_lets_go_of_the_root(
    storage: FileSystemStorage, outside: Path
) -> None:
    """A name refused, a name missing behind a file and a clash each end their walk early; when
    the storage closes, none of them may have kept its root's descriptor open."""
    from bucketry import BucketryError, NotFoundError

    await storage.save("f.txt", b"x")
    (Path(storage.location) / "escape").symlink_to(outside)
    (Path(storage.location) / "loop").symlink_to("loop")
    fd = storage._root._current
    assert fd is not None
    with pytest.raises(UnsafeNameError):
        await storage.open("escape/secret.txt")
    with pytest.raises(UnsafeNameError):  # a link to itself: the walk gives up after 40
        await storage.open("loop/x.txt")
    with pytest.raises(NotFoundError):
        await storage.open("f.txt/inside")
    with pytest.raises(BucketryError):
        await storage.save("f.txt/inside", b"y")
    await storage.aclose()
    assert not _is_open(fd), "a walk that ended early still holds the root"


def test_a_forked_child_draws_temp_names_of_its_own() -> None:
    """Temp names count on from a tag drawn per process; a child counting through its parent's
    names would collide with the parent's next save."""
    from bucketry_filesystem import storage as module

    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report its next name and leave at once
        try:
            os.write(write, module._temp_names.next().encode())
        finally:
            os._exit(0)
    os.close(write)
    child = os.read(read, 200).decode()
    os.close(read)
    os.waitpid(pid, 0)
    parent = module._temp_names.next()
    assert child.rsplit("-", 1)[0] != parent.rsplit("-", 1)[0]


async def test_a_retarget_that_meets_another_taken_name_leaves_no_descriptor(
    storage: FileSystemStorage,
) -> None:
    """When the alternative name a save moves to is taken as well, the walk to it is let go
    before the next one is tried."""
    from bucketry import WriteOptions

    await storage.save("d1/a.txt", b"1")
    await storage.save("d2/b.txt", b"2")
    alternatives = iter(["d2/b.txt", "d3/c.txt"])
    options = WriteOptions(overwrite=False, retarget=lambda taken: next(alternatives))

    async def content() -> AsyncIterator[bytes]:
        yield b"3"

    before = len(os.listdir("/proc/self/fd"))
    assert await storage._write("d1/a.txt", content(), options) == "d3/c.txt"
    assert len(os.listdir("/proc/self/fd")) == before, "a descriptor was left open"


async def test_a_copy_gets_the_file_mode_as_a_save_does(storage: FileSystemStorage) -> None:
    await storage.save("a.txt", b"x")
    await storage.copy("a.txt", "b.txt")
    assert stat.S_IMODE(os.stat(storage.path("b.txt")).st_mode) == 0o644


def test_a_blank_base_url_in_a_url_is_an_empty_base_not_a_missing_one() -> None:
    """``file:///srv/files?base_url=`` asks for bare names as URLs, not for ``file://`` URIs."""
    assert FileSystemStorage.from_url("file:///srv/files?base_url=").base_url == ""
    assert FileSystemStorage.from_url("file:///srv/files").base_url is None
