"""System calls per 4 KiB put + get on the local disk: bucketry against its peers, counted.

    python3 -m uv run --all-packages --all-extras --group bench python bench/syscalls.py

CPU time per operation moves with the machine; the calls a library asks the kernel for do not.
Each contender runs ``count`` put+get pairs at concurrency 1 under ``strace -f -c`` (threads
included), once with ``count`` and once with none; the difference divided by the operations is
what one operation costs, start-up excluded. Needs ``strace``. Run on demand; nothing here is a
test.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

CONTENDERS = ["bucketry (fsync)", "bucketry (no fsync)", "aiofiles", "fsspec local", "django"]
RESULTS = Path(__file__).resolve().parent / "results"


def _make(name: str, workdir: str) -> Any:
    from contenders import (
        Aiofiles,
        Bucketry,
        DjangoFileSystem,
        Endpoints,
        FsspecLocal,
        bucketry_storage,
    )

    endpoints = Endpoints(workdir=workdir)
    if name.startswith("bucketry"):
        fsync = name == "bucketry (fsync)"
        return Bucketry(name, lambda: bucketry_storage("filesystem", endpoints, fsync=fsync))
    return {"aiofiles": Aiofiles, "fsspec local": FsspecLocal, "django": DjangoFileSystem}[name](
        f"{workdir}/{name.split()[0]}"
    )


async def _inner(name: str, count: int, workdir: str) -> None:
    data = os.urandom(4096)
    async with _make(name, workdir) as contender:
        await contender.put("warm", data)  # the first call opens what every later one reuses
        await contender.get("warm")
        for index in range(count):
            await contender.put(f"o{index:05d}", data)
            assert await contender.get(f"o{index:05d}") == data


def _calls(name: str, count: int) -> dict[str, int]:
    """Calls by syscall name for one run of ``count`` put+get pairs."""
    with tempfile.TemporaryDirectory() as workdir, tempfile.NamedTemporaryFile() as out:
        inner = ["--inner", name, "--count", str(count), "--workdir", workdir]
        strace = ["strace", "-f", "-c", "-o", out.name]
        subprocess.run([*strace, sys.executable, __file__, *inner], check=True)
        counts: dict[str, int] = {}
        for line in Path(out.name).read_text().splitlines():
            fields = line.split()
            # "% time  seconds  usecs/call  calls  [errors]  syscall"
            if len(fields) >= 5 and re.fullmatch(r"[\d.]+", fields[0]) and fields[-1] != "total":
                counts[fields[-1]] = int(fields[3])
        return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inner", help=argparse.SUPPRESS)
    parser.add_argument("--workdir", help=argparse.SUPPRESS)
    parser.add_argument("--count", type=int, default=200)
    arguments = parser.parse_args()
    if arguments.inner:
        asyncio.run(_inner(arguments.inner, arguments.count, arguments.workdir))
        return
    lines = [
        f"System calls per 4 KiB put + get ({arguments.count} pairs at concurrency 1, "
        "start-up subtracted; `strace -f -c`, worker threads included).",
        "",
        "| contender | calls per put+get (futex apart) | futex | most frequent |",
        "|---|---|---|---|",
    ]
    for name in CONTENDERS:
        full, empty = _calls(name, arguments.count), _calls(name, 0)
        per = {
            call: (full.get(call, 0) - empty.get(call, 0)) / arguments.count
            for call in full.keys() | empty.keys()
        }
        # futex counts how often threads waited on each other, which moves between runs; it is
        # scheduling, not work asked of the kernel, so it is shown apart.
        futex = per.pop("futex", 0.0)
        top = sorted(((n, c) for c, n in per.items() if n >= 0.5), reverse=True)[:12]
        lines.append(
            f"| {name} | {sum(per.values()):.1f} | {futex:.1f} | "
            + ", ".join(f"{call} {n:.1f}" for n, call in top)
            + " |"
        )
        print(lines[-1], flush=True)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "syscalls.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
