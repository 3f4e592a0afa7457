"""bucketry against the raw SDKs and its peers, on the same emulators, in one run.

    python3 -m uv run --all-packages --all-extras --group bench python bench/run.py  # about 35 min
    ... bench/run.py --quick                                     # a smoke run, < 2 min
    ... bench/run.py --backends s3 filesystem --scenarios overhead listing

Emulators run in their own processes, so their CPU is not counted as the client's. Wall time on
an emulator measures the emulator (moto saturates one core near 400 requests/s); client CPU time
per operation is what a library costs. Every figure is the median of the repetitions. Writes
``bench/results/latest.md`` and ``bench/results/latest.png``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import resource
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from contenders import Bucketry, Contender, Endpoints, bucketry_storage, contenders
from large_upload_rss import create_bench_bucket, measure_transfer, moto_process
from large_upload_rss import stream as stream_large

from tests.emulators import azurite_server, fake_gcs_server

MiB = 1024 * 1024
RESULTS = Path(__file__).resolve().parent / "results"
BACKENDS = ["filesystem", "s3", "gcs", "azure"]
SCENARIOS = ["overhead", "large", "listing", "scaling"]
CONCURRENCY = {"s3": 32, "gcs": 32, "azure": 32, "filesystem": 32}


@contextlib.contextmanager
def emulators(backends: list[str], workdir: str) -> Iterator[Endpoints]:
    with contextlib.ExitStack() as stack:
        endpoints = Endpoints(workdir=workdir)
        if "s3" in backends:
            endpoints.s3 = stack.enter_context(moto_process())
        if "gcs" in backends:
            endpoints.gcs = stack.enter_context(fake_gcs_server())
        if "azure" in backends:
            endpoints.azure = stack.enter_context(azurite_server())
        for backend in backends:
            if backend != "filesystem":
                create_bench_bucket(backend, getattr(endpoints, backend))
        yield endpoints


# -- scenarios 1 and 2: small objects, bucketry vs raw SDK vs peers -------------------------------


@contextlib.contextmanager
def frozen_heap() -> Iterator[None]:
    """Keep what every contender shares out of the collector's full passes.

    The bench process imports every SDK and peer: some 100k objects a full (generation 2)
    collection walks, 40-120 ms each time. Such a pass comes every few thousand operations and
    falls on whichever contender's turn it happens to start in, moving that turn's CPU per
    operation by 20-60 µs, more than the differences measured. Frozen after the contenders have
    opened, those objects are no longer walked; each contender still pays for collecting what it
    allocates itself, and each turn starts from an empty young generation (``put_get``).
    """
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


async def put_get(contender: Contender, count: int, concurrency: int, tag: str) -> dict[str, float]:
    data = os.urandom(4096)
    limit = asyncio.Semaphore(concurrency)
    gc.collect()  # what the previous turn left is not charged to this one

    async def one(index: int, write: bool) -> None:
        async with limit:
            key = f"o-{tag}-{index:06d}"
            if write:
                await contender.put(key, data)
            else:
                assert await contender.get(key) == data

    before, wall = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    await asyncio.gather(*(one(index, True) for index in range(count)))
    await asyncio.gather(*(one(index, False) for index in range(count)))
    after, wall = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter() - wall
    per_op = 1e6 / (2 * count)
    # Every thread's CPU, split: user time is the libraries' own work; system time is the
    # kernel's, where a file system's cost of a new file per save shows.
    user = (after.ru_utime - before.ru_utime) * per_op
    system = (after.ru_stime - before.ru_stime) * per_op
    return {
        "cpu_us_per_op": user + system,
        "user_us_per_op": user,
        "system_us_per_op": system,
        "wall_s": wall,
        "ops_per_s": 2 * count / wall,
    }


async def overhead(
    backend: str, endpoints: Endpoints, count: int, repeats: int
) -> list[dict[str, Any]]:
    """Every contender, open side by side, takes its turn in each repetition (the order rotates),
    so a slow spell of the machine or the emulator falls on all of them, not on whoever ran then.
    Ratios are medians of the per-repetition ratios, which cancels that drift further."""
    concurrency = CONCURRENCY[backend]
    chosen = [c for c in contenders(backend, endpoints) if c.small]
    samples: dict[str, list[dict[str, float]]] = {c.name: [] for c in chosen}
    async with contextlib.AsyncExitStack() as stack:
        for contender in chosen:
            await stack.enter_async_context(contender)
            await put_get(contender, min(count, 50), concurrency, "warm")  # warm-up
        stack.enter_context(frozen_heap())
        for repetition in range(repeats):
            turn = repetition % len(chosen)
            for contender in chosen[turn:] + chosen[:turn]:
                # The same keys each time: emulators slow down as objects pile up.
                samples[contender.name].append(await put_get(contender, count, concurrency, "run"))
    base = samples[next(c.name for c in chosen if c.kind == "bucketry")]
    rows = []
    for contender in chosen:
        mine = samples[contender.name]
        rows.append(
            {
                "backend": backend,
                "contender": contender.name,
                "kind": contender.kind,
                "cpu_us_per_op": statistics.median(s["cpu_us_per_op"] for s in mine),
                "user_us_per_op": statistics.median(s["user_us_per_op"] for s in mine),
                "system_us_per_op": statistics.median(s["system_us_per_op"] for s in mine),
                "wall_s": statistics.median(s["wall_s"] for s in mine),
                "ops_per_s": statistics.median(s["ops_per_s"] for s in mine),
                "bucketry_cpu_ratio": statistics.median(
                    b["cpu_us_per_op"] / m["cpu_us_per_op"] for b, m in zip(base, mine, strict=True)
                ),
                "bucketry_wall_ratio": statistics.median(
                    b["wall_s"] / m["wall_s"] for b, m in zip(base, mine, strict=True)
                ),
            }
        )
        print(
            f"  {backend:10} {contender.name:38} {rows[-1]['cpu_us_per_op']:8.0f} µs CPU/op "
            f"{rows[-1]['ops_per_s']:8.0f} ops/s  bucketry CPU ratio "
            f"{rows[-1]['bucketry_cpu_ratio']:.2f}",
            flush=True,
        )
    if backend != "filesystem":
        # CPU time moves by +-20 % between runs here; the number of Python function calls an
        # operation makes does not, so its ratio is the steady measure of the Python work each
        # library does for the same requests. (The filesystem contenders work in threads, which
        # cProfile does not follow; obstore's work is in Rust, which it does not see either.)
        for index, contender in enumerate(chosen):
            async with contender:
                rows[index]["calls_per_op"] = await function_calls_per_op(
                    put_get(contender, count, concurrency, "run"), 2 * count
                )
        for row in rows:
            row["bucketry_calls_ratio"] = rows[0]["calls_per_op"] / row["calls_per_op"]
    return rows


async def function_calls_per_op(work: Awaitable[Any], operations: int) -> float:
    """Python function calls (cProfile's count, built-ins included) per operation of ``work``."""
    import cProfile
    import pstats

    profile = cProfile.Profile()
    profile.enable()
    try:
        await work
    finally:
        profile.disable()
    return pstats.Stats(profile).total_calls / operations  # type: ignore[attr-defined,no-any-return]


# -- scenario 5: scaling with concurrency --------------------------------------------------------

SCALING = (1, 8, 32, 128)


async def scaling(
    backend: str, endpoints: Endpoints, count: int, repeats: int
) -> list[dict[str, Any]]:
    """Ops/s and client CPU per operation at each concurrency, every contender taking its turn in
    each repetition, as in the small-object scenario."""
    chosen = [c for c in contenders(backend, endpoints) if c.small]
    rows: list[dict[str, Any]] = []
    async with contextlib.AsyncExitStack() as stack:
        for contender in chosen:
            await stack.enter_async_context(contender)
            await put_get(contender, min(count, 50), 8, "warm")
        stack.enter_context(frozen_heap())
        for concurrency in SCALING:
            samples: dict[str, list[dict[str, float]]] = {c.name: [] for c in chosen}
            for repetition in range(repeats):
                turn = repetition % len(chosen)
                for contender in chosen[turn:] + chosen[:turn]:
                    samples[contender.name].append(
                        await put_get(contender, count, concurrency, "scale")
                    )
            for contender in chosen:
                mine = samples[contender.name]
                rows.append(
                    {
                        "backend": backend,
                        "contender": contender.name,
                        "kind": contender.kind,
                        "concurrency": concurrency,
                        "cpu_us_per_op": statistics.median(s["cpu_us_per_op"] for s in mine),
                        "ops_per_s": statistics.median(s["ops_per_s"] for s in mine),
                    }
                )
                print(
                    f"  {backend:10} c={concurrency:<4} {contender.name:38} "
                    f"{rows[-1]['cpu_us_per_op']:8.0f} µs CPU/op {rows[-1]['ops_per_s']:8.0f} ops/s",
                    flush=True,
                )
    return rows


def scaling_chart(rows: list[dict[str, Any]], path: Path) -> None:
    """One panel per backend: ops/s against concurrency, bucketry in red (one line style per
    engine), the raw SDK in black, peers in other colours; CPU per operation is in the table."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    backends = list(dict.fromkeys(row["backend"] for row in rows))
    figure, axes = plt.subplots(1, len(backends), figsize=(4.6 * len(backends), 4.2), squeeze=False)
    for axis, backend in zip(axes[0], backends, strict=True):
        mine = [row for row in rows if row["backend"] == backend]
        peers = iter(["#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#7f7f7f"])
        styles = iter(["-", "--", ":"])
        for name in dict.fromkeys(row["contender"] for row in mine):
            line = [row for row in mine if row["contender"] == name]
            kind = line[0]["kind"]
            ours = kind == "bucketry"
            axis.plot(
                [row["concurrency"] for row in line],
                [row["ops_per_s"] for row in line],
                marker="o",
                color="#d62728" if ours else "#000000" if kind == "raw" else next(peers),
                linestyle=next(styles) if ours else "-",
                linewidth=2.2 if ours else 1.2,
                label=name,
            )
        axis.set_xscale("log", base=2)
        axis.set_xticks(list(SCALING), [str(c) for c in SCALING])
        axis.set_title(backend)
        axis.set_xlabel("concurrency")
        axis.set_ylabel("ops/s (4 KiB put + get)")
        axis.legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


# -- scenario 3: large objects -------------------------------------------------------------------


async def large(backend: str, workdir: str, size: int, repeats: int) -> list[dict[str, Any]]:
    """bucketry (and its obstore engine), the raw SDK and the peers that can stream a large
    object, in turns, each sample on an emulator started for it (Azurite keeps deleted blobs in
    memory for a while: a shared one would slow whoever comes later). Medians of the
    throughputs over ``repeats`` runs; the largest memory growth of any run.

    On the file system bucketry and the raw ``os.write`` ceiling take turns, so both see the
    same state of the page cache and of the disk's write-back."""
    block = os.urandom(MiB)
    samples: dict[tuple[str, str], list[dict[str, float]]] = {}
    with emulators([backend], workdir) as endpoints:
        names = [c.name for c in _large_contenders(backend, endpoints)]
    for _ in range(repeats):
        for name in names:
            with emulators([backend], workdir) as endpoints:
                contender = next(c for c in _large_contenders(backend, endpoints) if c.name == name)
                sample = await measure_transfer(contender, size, block)
                if backend == "filesystem":
                    raw = Path(endpoints.workdir) / "raw.bin"
                    sample["raw_os_write_mb_s"] = await raw_os_write(raw, size, block)
            samples.setdefault((name, contender.kind), []).append(sample)
    rows = []
    for (name, kind), runs in samples.items():
        row: dict[str, Any] = {"backend": backend, "contender": name, "kind": kind}
        row["repeats"] = len(runs)
        for key in runs[0]:
            values = [run[key] for run in runs]
            row[key] = max(values) if "rss" in key else statistics.median(values)
        if backend == "filesystem":
            row["vs_raw_os"] = row["upload_mb_s"] / row["raw_os_write_mb_s"]
        print(
            f"  {backend:10} {name:32} up {row['upload_mb_s']:7.1f} MB/s "
            f"(+{row['upload_peak_rss_growth_mib']:.1f} MiB)  down {row['download_mb_s']:7.1f} "
            f"MB/s (+{row['download_peak_rss_growth_mib']:.1f} MiB)",
            flush=True,
        )
        rows.append(row)
    return rows


def _large_contenders(backend: str, endpoints: Endpoints) -> list[Contender]:
    if backend == "filesystem":
        return [Bucketry("bucketry", lambda: bucketry_storage(backend, endpoints))]
    return [c for c in contenders(backend, endpoints) if c.large]


async def raw_os_write(path: Path, size: int, block: bytes) -> float:
    """The ceiling: the same async stream written by ``os.write`` on the event-loop thread itself
    (which an async library must not do: it blocks the loop), then fsynced as bucketry does."""
    started = time.perf_counter()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        async for chunk in stream_large(size, block):
            os.write(fd, chunk)
        os.fsync(fd)
    finally:
        os.close(fd)
    seconds = time.perf_counter() - started
    path.unlink()
    return size / 1e6 / seconds


# -- scenario 4: listing -------------------------------------------------------------------------


def _rss_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


async def listing(
    backend: str, endpoints: Endpoints, count: int, repeats: int
) -> list[dict[str, Any]]:
    """List ``count`` objects under one prefix with bucketry (and its obstore engine) and with
    each peer's own listing call, every contender in turns, ``repeats`` times. A peer that
    returns the whole list at once (fsspec's ``find``) has its first entry when it returns."""
    from bucketry import create_storage

    prefix = "l"
    if backend == "memory":
        memory = create_storage("memory://")
        await asyncio.gather(*(memory.save(f"{prefix}/{i:07d}", b"x") for i in range(count)))
        chosen: list[Contender] = [Bucketry("bucketry", lambda: memory)]
    elif backend == "filesystem":
        root = Path(endpoints.workdir) / "listing"
        for directory in range(count // 1000 + 1):
            (root / prefix / f"d{directory:04d}").mkdir(parents=True, exist_ok=True)
        for index in range(count):
            (root / prefix / f"d{index // 1000:04d}" / f"{index:07d}").write_bytes(b"x")
        listed = Endpoints(workdir=str(root))
        chosen = [
            Bucketry("bucketry", lambda: bucketry_storage(backend, listed, location=str(root))),
            *(c for c in contenders(backend, listed) if c.lists and c.kind != "bucketry"),
        ]
        for contender in chosen[1:]:
            contender.root = root  # type: ignore[attr-defined]
    else:
        chosen = [c for c in contenders(backend, endpoints) if c.lists]
        chosen = [c for c in chosen if "no read-back" not in c.name]  # the same lister twice
        raw = next(c for c in chosen if c.kind == "raw")
        async with raw:
            limit = asyncio.Semaphore(CONCURRENCY[backend])

            async def put(index: int) -> None:
                async with limit:
                    await raw.put(f"{prefix}/{index:07d}", b"x")

            await asyncio.gather(*(put(index) for index in range(count)))
    samples: dict[str, list[dict[str, float]]] = {c.name: [] for c in chosen}
    async with contextlib.AsyncExitStack() as stack:
        for contender in chosen:
            await stack.enter_async_context(contender)
        for repetition in range(repeats):
            for contender in _rotated(chosen, repetition):
                samples[contender.name].append(await _list_once(contender, prefix, count))
    rows = []
    for contender in chosen:
        runs = samples[contender.name]
        total = statistics.median(r["total_s"] for r in runs)
        rows.append(
            {
                "backend": backend,
                "contender": contender.name,
                "kind": contender.kind,
                "objects": count,
                "first_entry_s": statistics.median(r["first_entry_s"] for r in runs),
                "total_s": total,
                "entries_per_s": count / total,
                "peak_rss_growth_mib": max(r["peak_rss_growth_mib"] for r in runs),
                "cpu_us_per_entry": statistics.median(r["cpu_us_per_entry"] for r in runs),
            }
        )
        print(
            f"  {backend:10} {contender.name:32} {count} objects: first after "
            f"{rows[-1]['first_entry_s'] * 1000:.1f} ms, all in {total:.2f} s, "
            f"+{rows[-1]['peak_rss_growth_mib']:.1f} MiB",
            flush=True,
        )
    return rows


def _rotated(chosen: list[Contender], repetition: int) -> list[Contender]:
    shift = repetition % len(chosen)
    return chosen[shift:] + chosen[:shift]


async def _list_once(contender: Contender, prefix: str, count: int) -> dict[str, float]:
    gc.collect()
    baseline = _rss_kib("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")
    cpu, started = time.process_time(), time.perf_counter()
    first = None
    seen = 0
    async for _ in contender.list_names(prefix):
        if first is None:
            first = time.perf_counter() - started
        seen += 1
    total = time.perf_counter() - started
    cpu = time.process_time() - cpu
    growth = (_rss_kib("VmHWM") - baseline) / 1024
    assert seen == count, (contender.name, seen, count)
    return {
        "first_entry_s": first or 0.0,
        "total_s": total,
        "peak_rss_growth_mib": growth,
        "cpu_us_per_entry": cpu / count * 1e6,
    }


# -- report --------------------------------------------------------------------------------------


def markdown(results: dict[str, Any], arguments: argparse.Namespace) -> str:
    lines = [
        f"Run {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on {os.cpu_count()} cores; "
        f"{'quick' if arguments.quick else 'default'} sizes. Medians of {arguments.repeats} runs.",
        "",
    ]
    if results.get("overhead"):
        lines += [
            f"**Small objects** (4 KiB put then get, {arguments.objects} objects, concurrency 32 on "
            "every backend); every contender takes its turn in each repetition. "
            "*CPU ratio* = bucketry's client CPU per operation / "
            "this contender's, the median of the ratios within each repetition (below 1: "
            "bucketry uses less). *User / system*: the client CPU split into the libraries' own "
            "work and the kernel's (on the filesystem, the kernel's cost of a new file per "
            "save, which the atomic-replace floor prices).",
            "",
            "*Calls/op*: Python function calls per operation (cProfile, one more repetition; "
            "in brackets bucketry's calls / this contender's). Unlike CPU time it does not move "
            "between runs: against the raw SDK making the same requests it is the steady measure "
            "of what the adapter adds, against a peer of the Python work each does. Not counted "
            "on the filesystem (its contenders work in threads cProfile does not follow); "
            "obstore's work is in Rust, which it does not see.",
            "",
            "| backend | contender | client CPU µs/op | user / system | ops/s (wall) "
            "| bucketry CPU ratio | bucketry wall ratio | calls/op |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for row in results["overhead"]:
            share = f"{row['calls_per_op']:.0f}" if "calls_per_op" in row else ""
            if row.get("bucketry_calls_ratio") and row["kind"] != "bucketry":
                share += f" ({row['bucketry_calls_ratio']:.3f})"
            lines.append(
                f"| {row['backend']} | {row['contender']}{' (raw SDK)' if row['kind'] == 'raw' else ''} "
                f"| {row['cpu_us_per_op']:.0f} | {_split(row)} | {row['ops_per_s']:.0f} "
                f"| {row['bucketry_cpu_ratio']:.2f} | {row['bucketry_wall_ratio']:.2f} | {share} |"
            )
        lines.append("")
    if results.get("large"):
        lines += [
            f"**Large objects** ({arguments.large_mib} MiB async stream saved, then streamed "
            f"back; throughput is the median of {arguments.repeats} runs, memory the largest "
            "growth of any run; "
            "*vs raw os.write*: bucketry's upload / the same stream written with `os.write` "
            "on the event-loop thread and fsynced, runs taken in turns).",
            "",
            "| backend | contender | upload MB/s | upload peak RSS growth MiB | download MB/s | download peak RSS growth MiB | vs raw os.write |",
            "|---|---|---|---|---|---|---|",
        ]
        for row in results["large"]:
            versus = f"{row['vs_raw_os']:.2f}" if "vs_raw_os" in row else ""
            who = row.get("contender", row["backend"])
            who += " (raw SDK)" if row.get("kind") == "raw" else ""
            lines.append(
                f"| {row['backend']} | {who} | {row['upload_mb_s']:.1f} | {row['upload_peak_rss_growth_mib']:.1f} "
                f"| {row['download_mb_s']:.1f} | {row['download_peak_rss_growth_mib']:.1f} | {versus} |"
            )
        lines.append("")
    if results.get("scaling"):
        lines += [
            f"**Scaling** ({arguments.scaling_objects} objects of 4 KiB put then get at each "
            f"concurrency, medians of {arguments.scaling_repeats} runs taken in turns; chart: "
            f"`{arguments.output}-scaling.png`). Cells: ops/s, client CPU µs/op.",
            "",
            "| backend | contender | " + " | ".join(f"c={c}" for c in SCALING) + " |",
            "|---|---|" + "---|" * len(SCALING),
        ]
        rows = results["scaling"]
        for key in dict.fromkeys((row["backend"], row["contender"]) for row in rows):
            cells = {
                row["concurrency"]: f"{row['ops_per_s']:.0f}, {row['cpu_us_per_op']:.0f}"
                for row in rows
                if (row["backend"], row["contender"]) == key
            }
            lines.append(
                f"| {key[0]} | {key[1]} | " + " | ".join(cells.get(c, "") for c in SCALING) + " |"
            )
        lines.append("")
    if results.get("listing"):
        lines += [
            "**Listing** every object under one prefix, each contender with its own listing "
            "call, in turns; medians of the repetitions, memory the largest growth. bucketry's "
            "`list()` streams page by page; a peer that returns the whole list at once has its "
            "first entry when it returns.",
            "",
            "| backend | contender | objects | first entry ms | total s | entries/s "
            "| client CPU µs/entry | peak RSS growth MiB |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for row in results["listing"]:
            lines.append(
                f"| {row['backend']} | {row.get('contender', 'bucketry')} | {row['objects']} "
                f"| {row['first_entry_s'] * 1000:.1f} | {row['total_s']:.2f} "
                f"| {row['entries_per_s']:.0f} | {row.get('cpu_us_per_entry', 0):.1f} "
                f"| {row['peak_rss_growth_mib']:.1f} |"
            )
        lines.append("")
    return "\n".join(lines)


def _split(row: dict[str, Any]) -> str:
    if "user_us_per_op" not in row:
        return ""
    return f"{row['user_us_per_op']:.0f} / {row['system_us_per_op']:.0f}"


def chart(results: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = results.get("overhead") or []
    if not rows:
        return
    backends = list(dict.fromkeys(row["backend"] for row in rows))
    figure, axes = plt.subplots(1, len(backends), figsize=(4.2 * len(backends), 4.2), squeeze=False)
    for axis, backend in zip(axes[0], backends, strict=True):
        chosen = [row for row in rows if row["backend"] == backend]
        colours = [
            "#d62728" if r["kind"] == "bucketry" else "#1f77b4" if r["kind"] == "raw" else "#7f7f7f"
            for r in chosen
        ]
        axis.barh(
            [r["contender"] for r in chosen], [r["cpu_us_per_op"] for r in chosen], color=colours
        )
        axis.set_title(f"{backend}: client CPU µs per op")
        axis.invert_yaxis()
        axis.tick_params(axis="y", labelsize=8)
    figure.suptitle("4 KiB put+get: bucketry (red), raw SDK (blue), peers (grey); lower is better")
    figure.tight_layout()
    figure.savefig(path, dpi=110)


async def main_async(arguments: argparse.Namespace) -> dict[str, Any]:
    """Each scenario, and each backend within it, on emulators started fresh for it: an
    emulator slowed by what an earlier scenario left in it (Azurite keeps every blob, deleted
    ones for a while too, in memory) would measure those leftovers, or time out."""
    results: dict[str, Any] = {"overhead": [], "large": [], "listing": [], "scaling": []}
    with tempfile.TemporaryDirectory(prefix="bucketry-bench-") as workdir:
        if "overhead" in arguments.scenarios:
            print("small objects: bucketry, raw SDK and peers", flush=True)
            for backend in arguments.backends:
                with emulators([backend], workdir) as endpoints:
                    results["overhead"] += await overhead(
                        backend, endpoints, arguments.objects, arguments.repeats
                    )
            keep(results, arguments)
        if "listing" in arguments.scenarios:
            print("listing", flush=True)
            for backend in ["memory", *arguments.backends]:
                local = backend in ("memory", "filesystem")
                count = arguments.list_local if local else arguments.list_remote
                with emulators([] if backend == "memory" else [backend], workdir) as endpoints:
                    results["listing"] += await listing(
                        backend, endpoints, count, arguments.repeats
                    )
            keep(results, arguments)
        if "large" in arguments.scenarios:
            print(f"large objects: {arguments.large_mib} MiB", flush=True)
            for backend in arguments.backends:
                results["large"] += await large(
                    backend, workdir, arguments.large_mib * MiB, arguments.repeats
                )
                keep(results, arguments)
        if "scaling" in arguments.scenarios:
            print(f"scaling: concurrency {', '.join(map(str, SCALING))}", flush=True)
            for backend in arguments.backends:
                with emulators([backend], workdir) as endpoints:
                    results["scaling"] += await scaling(
                        backend, endpoints, arguments.scaling_objects, arguments.scaling_repeats
                    )
    return results


def keep(results: dict[str, Any], arguments: argparse.Namespace) -> None:
    """What is measured so far, so that a run that fails later loses none of it."""
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{arguments.output}.partial.json").write_text(json.dumps(results, indent=1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run")
    parser.add_argument("--backends", nargs="+", choices=BACKENDS, default=BACKENDS)
    parser.add_argument("--scenarios", nargs="+", choices=SCENARIOS, default=SCENARIOS)
    parser.add_argument(
        "--large-mib",
        type=int,
        default=None,
        help="size of the large-object stream (default 512, quick 64; 1024 takes the emulators "
        "past 15 minutes: Azurite's ranged reads of a 1 GiB blob ran at 3.5 MB/s here)",
    )
    parser.add_argument(
        "--output",
        default="latest",
        help="name of the report under bench/results/ (a partial run should not replace latest)",
    )
    arguments = parser.parse_args()
    arguments.objects = 200 if arguments.quick else 1000
    arguments.repeats = 3 if arguments.quick else 5
    if arguments.large_mib is None:
        arguments.large_mib = 64 if arguments.quick else 512
    arguments.list_local = 10_000 if arguments.quick else 100_000
    # 10,000 on the emulators, not 100,000: moto slows with the bucket's size (a run that filled
    # it with 100,000 objects was still on its first S3 listings after 20 minutes).
    arguments.list_remote = 1_000 if arguments.quick else 10_000
    arguments.scaling_objects = 100 if arguments.quick else 250
    arguments.scaling_repeats = arguments.repeats
    # A terminated run still stops the emulators it started (their context managers run).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    started = time.perf_counter()
    results = asyncio.run(main_async(arguments))
    report = markdown(results, arguments)
    RESULTS.mkdir(exist_ok=True)
    out = arguments.output
    (RESULTS / f"{out}.partial.json").unlink(missing_ok=True)
    (RESULTS / f"{out}.md").write_text(report)
    (RESULTS / f"{out}.json").write_text(json.dumps(results, indent=1))
    chart(results, RESULTS / f"{out}.png")
    if results.get("scaling"):
        scaling_chart(results["scaling"], RESULTS / f"{out}-scaling.png")
    print("\n" + report)
    print(f"took {time.perf_counter() - started:.0f} s; wrote {RESULTS}/{out}.md and its charts")


if __name__ == "__main__":
    main()
