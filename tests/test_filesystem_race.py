"""The filesystem root holds against another process swapping a directory and a symlink.

The attacker owns a directory inside the root (``d``) and a symlink beside it (``swap``) that
points outside; a separate process exchanges the two atomically (``renameat2(RENAME_EXCHANGE)``)
as fast as it can while the storage saves, reads, copies, moves and deletes names under ``d/``.
A backend that checks a path and then uses it loses that race many times a second; one that
resolves each segment from a held directory descriptor never does: nothing outside is created,
deleted or read.
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bucketry import BucketryError
from bucketry_filesystem import FileSystemStorage

pytestmark = pytest.mark.anyio

SECONDS = 3.0
SWAPPER = """
import ctypes, sys, time
libc = ctypes.CDLL(None, use_errno=True)
a, b, seconds = sys.argv[1].encode(), sys.argv[2].encode(), float(sys.argv[3])
print("ready", flush=True)
deadline = time.monotonic() + seconds
swaps = 0
while time.monotonic() < deadline:
    if libc.renameat2(-100, a, -100, b, 2) != 0:  # AT_FDCWD, RENAME_EXCHANGE
        sys.exit(f"renameat2 failed: errno {ctypes.get_errno()}")
    swaps += 1
print(swaps, flush=True)
"""


async def test_a_racing_directory_symlink_swap_never_reaches_outside(tmp_path: Path) -> None:
    if not sys.platform.startswith("linux"):
        pytest.skip("renameat2(RENAME_EXCHANGE) is Linux's")
    root, outside = tmp_path / "root", tmp_path / "outside"
    (root / "d").mkdir(parents=True)
    outside.mkdir()
    names = [f"f{i}.txt" for i in range(8)]
    for name in names:
        (root / "d" / name).write_bytes(b"INSIDE")
        (outside / name).write_bytes(b"OUTSIDE")
    (root / "swap").symlink_to(outside, target_is_directory=True)
    before = {path.name: path.read_bytes() for path in outside.iterdir()}

    swapper = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        SWAPPER,
        str(root / "d"),
        str(root / "swap"),
        str(SECONDS),
        stdout=subprocess.PIPE,
    )
    outside_reads = operations = 0
    try:
        assert swapper.stdout is not None
        assert (await swapper.stdout.readline()).strip() == b"ready"
        async with FileSystemStorage(location=root, fsync=False) as storage:
            deadline = time.monotonic() + SECONDS
            index = 0
            while time.monotonic() < deadline:
                index += 1
                name = names[index % len(names)]
                with contextlib.suppress(BucketryError):
                    if await storage.open(f"d/{name}") == b"OUTSIDE":
                        outside_reads += 1
                with contextlib.suppress(BucketryError):
                    chunks = [chunk async for chunk in storage.stream(f"d/{name}")]
                    if b"".join(chunks) == b"OUTSIDE":
                        outside_reads += 1
                with contextlib.suppress(BucketryError):
                    await storage.save(f"d/new-{index}.txt", b"new", overwrite=index % 2 == 0)
                with contextlib.suppress(BucketryError):
                    await storage.save(f"d/sub{index}/deep.txt", b"deep")
                with contextlib.suppress(BucketryError):
                    await storage.copy(f"d/new-{index}.txt", f"d/copy-{index}.txt")
                with contextlib.suppress(BucketryError):
                    await storage.move(f"d/copy-{index}.txt", f"d/moved-{index}.txt")
                with contextlib.suppress(BucketryError):
                    await storage.delete(f"d/{names[(index + 3) % len(names)]}")
                with contextlib.suppress(BucketryError):
                    await storage.delete(f"d/moved-{index}.txt")
                with contextlib.suppress(BucketryError):
                    async for info in storage.list("d"):
                        if info.name.startswith("d/f"):
                            with contextlib.suppress(BucketryError):
                                if await storage.open(info.name) == b"OUTSIDE":
                                    outside_reads += 1
                            break
                operations += 9
                await asyncio.sleep(0)
    finally:
        output, _ = await asyncio.wait_for(swapper.communicate(), 30)
    out = output.decode()
    assert swapper.returncode == 0, out
    swaps = int(out.strip().splitlines()[-1])
    after = {
        str(path.relative_to(outside)): path.read_bytes() if path.is_file() else b"<directory>"
        for path in outside.rglob("*")
    }
    created = sorted(set(after) - set(before))
    deleted = sorted(set(before) - set(after))
    print(f"{operations} operations, {swaps} swaps: created {len(created)}, deleted {len(deleted)}")
    assert swaps > 1000, "the swapper did not race"
    assert operations > 500
    assert created == [], f"{len(created)} files created outside the root: {created[:5]}"
    assert deleted == [], f"{len(deleted)} files deleted outside the root: {deleted[:5]}"
    assert after == {name: before[name] for name in after}, "a file outside was changed"
    assert outside_reads == 0, f"{outside_reads} reads returned bytes from outside the root"
