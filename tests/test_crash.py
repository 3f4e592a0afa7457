"""The filesystem backend survives SIGKILL at any point of a save.

A child process saves large files in a loop and is killed with SIGKILL after a random delay, 100
times. After every kill, every file under a final name must be complete (its bytes are derived
from its name, so any partial write shows); leftovers are temp files only, recognisable by their
prefix, and ``remove_temp_files`` clears them.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bucketry_filesystem import TEMP_PREFIX, FileSystemStorage

KILLS = 100

WRITER = r"""
import asyncio, hashlib, random, sys
from bucketry_filesystem import FileSystemStorage

def content(name):
    size = int(name.split("-")[1].split(".")[0])
    block = hashlib.sha256(name.encode()).digest() * 4096
    return (block * (size // len(block) + 1))[:size]

async def main(root, seed):
    rng = random.Random(seed)
    async with FileSystemStorage(location=root) as storage:
        print("ready", flush=True)
        while True:
            size = rng.randint(1, 16) * 131072 + rng.randint(0, 999)
            name = f"d{rng.randint(0, 3)}/f{rng.randint(0, 40)}-{size}.bin"
            await storage.save(name, content(name), overwrite=rng.random() < 0.5)

asyncio.run(main(sys.argv[1], int(sys.argv[2])))
"""


def expected(name: str) -> bytes:
    base = name.rsplit("/", 1)[-1]
    if "_" in base:  # an alternative name (stem_XXXXXXX.bin) holds its original's bytes
        stem, rest = base.split("_", 1)
        base = stem + rest[7:]
        name = name.rsplit("/", 1)[0] + "/" + base
    size = int(base.split("-")[1].split(".")[0])
    block = hashlib.sha256(name.encode()).digest() * 4096
    return (block * (size // len(block) + 1))[:size]


@pytest.mark.anyio
async def test_sigkill_never_leaves_a_partial_file(tmp_path: Path) -> None:
    root = tmp_path / "root"
    rng = random.Random(2026)
    killed_mid_write = 0
    started = time.monotonic()
    for kill in range(KILLS):
        round_started = time.time()
        child = subprocess.Popen(  # noqa: ASYNC220  # started and killed on purpose
            [sys.executable, "-c", WRITER, str(root), str(kill)],
            stdout=subprocess.PIPE,
        )
        assert child.stdout is not None
        assert child.stdout.readline().strip() == b"ready"
        await asyncio.sleep(rng.uniform(0.0, 0.25))
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
        assert child.returncode == -signal.SIGKILL
        temps = list(root.rglob(f"{TEMP_PREFIX}*"))
        killed_mid_write += bool(temps)
        async with FileSystemStorage(location=root) as storage:
            async for info in storage.list():  # what this round wrote; all of it at the end
                changed = info.last_modified and info.last_modified.timestamp() >= round_started - 1
                if changed:
                    assert await storage.open(info.name) == expected(info.name), info.name
    async with FileSystemStorage(location=root) as storage:
        async for info in storage.list():
            assert await storage.open(info.name) == expected(info.name), info.name
        leftovers = [p for p in root.rglob("*") if p.is_file() and p.name.startswith(TEMP_PREFIX)]
        removed = await storage.remove_temp_files(older_than=0)
        assert removed == len(leftovers)
        assert not [p for p in root.rglob("*") if p.name.startswith(TEMP_PREFIX)]
        files = [info async for info in storage.list()]
    print(
        f"\n{KILLS} SIGKILLs in {time.monotonic() - started:.1f} s; {killed_mid_write} left a temp "
        f"file behind (killed mid-write); {len(files)} complete files; {removed} temp files "
        "removed by remove_temp_files(); 0 partial files under a final name"
    )
    assert killed_mid_write >= KILLS // 4, "the kills should often land mid-write"
    assert files
