"""A mixed workload that checks every answer, for running a backend through injected faults.

Each operation either succeeds with exactly the right bytes or raises a bucketry error; anything
else is counted against the backend. Afterwards, :func:`verify_survivors` reads every file whose
save returned (through a storage that bypasses the proxy) and compares it byte for byte.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from bucketry import BucketryError, Storage

__all__ = ["Figures", "mixed_workload", "verify_survivors"]


@dataclass
class Figures:
    """What happened; ``corruptions``, ``untranslated``, ``duplicates`` and
    ``old_versions_lost`` must be 0."""

    operations: int = 0
    succeeded: int = 0
    bucketry_errors: int = 0
    untranslated: int = 0
    corruptions: int = 0
    unverifiable_corruptions: int = 0
    bytes_verified: int = 0
    survivors_checked: int = 0
    survivors_lost: int = 0
    duplicates: int = 0
    failed_overwrites: int = 0
    old_versions_lost: int = 0
    by_operation: dict[str, int] = field(default_factory=dict)
    corrupt_by_operation: dict[str, int] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    untranslated_examples: list[str] = field(default_factory=list)
    error_examples: dict[str, list[str]] = field(default_factory=dict)
    lost_examples: list[str] = field(default_factory=list)
    overwritten: dict[str, bytes] = field(default_factory=dict, repr=False)
    """Names whose overwrite failed, with what they held before: each must still exist."""

    def row(self) -> dict[str, Any]:
        return {
            "ops": self.operations,
            "ok": self.succeeded,
            "bucketry errors": self.bucketry_errors,
            "untranslated": self.untranslated,
            "bytes verified": self.bytes_verified,
            "corruptions passed": self.corruptions,
            "survivors checked": self.survivors_checked,
            "survivors lost": self.survivors_lost,
            "duplicates": self.duplicates,
            "failed overwrites": self.failed_overwrites,
            "old versions lost": self.old_versions_lost,
        }


@dataclass
class _Model:
    files: dict[str, bytes] = field(default_factory=dict)
    uncertain: set[str] = field(default_factory=set)
    reading: Counter[str] = field(default_factory=Counter)
    counter: int = 0


def _payload(rng: random.Random, size: int) -> bytes:
    seed = rng.randbytes(64)
    return (hashlib.sha512(seed).digest() * (size // 64 + 1))[:size]


async def mixed_workload(
    storage: Storage,
    *,
    prefix: str,
    operations: int = 1000,
    concurrency: int = 8,
    large_size: int = 6 * 1024 * 1024,
    large_share: float = 0.03,
    seed: int = 0,
    unverifiable_range_reads: bool = False,
    unverifiable_above: int | None = None,
    unverifiable_metadata: bool = False,
) -> tuple[Figures, dict[str, bytes]]:
    """Run ``operations`` mixed calls; return the figures and the files that must survive.

    ``unverifiable_range_reads``: the protocol gives range reads no checksum (S3, GCS), so a byte
    flipped in transit cannot be caught by any client; such corruptions are counted apart, as are
    whole reads of objects over ``unverifiable_above`` bytes (S3 multipart objects, whose ETag is
    not an MD5 and whose stored checksum covers parts, not the object). ``unverifiable_metadata``:
    ``stat`` answers with a body no checksum covers (GCS's JSON API; S3 and Azure answer in
    headers, which the proxy does not change), so a flipped digit in a size is counted apart too.
    """
    rng = random.Random(seed)
    figures = Figures()
    model = _Model()
    lock = asyncio.Lock()
    ops = [
        "save",
        "save",
        "save",
        "open",
        "open",
        "range",
        "range",
        "stream",
        "overwrite",
        "stat",
        "list",
        "copy",
        "delete",
    ]

    def new_name() -> str:
        model.counter += 1
        return f"{prefix}f{model.counter:05d}.bin"

    def pick(op: str) -> str | None:
        # An overwrite never picks a file being read, copied or stat'ed: the reader would see
        # the new bytes (or size) and count them as damage. (Readers never pick a file being
        # overwritten: it is uncertain until the overwrite returns.)
        settled = [
            n
            for n in model.files
            if n not in model.uncertain and (op != "overwrite" or not model.reading[n])
        ]
        return rng.choice(settled) if settled else None

    async def one(index: int) -> None:
        op = rng.choice(ops)
        figures.by_operation[op] = figures.by_operation.get(op, 0) + 1
        target = pick(op)
        reading = target if op in ("open", "stream", "range", "copy", "stat") else None
        if reading is not None:
            model.reading[reading] += 1
        try:
            if op == "save" or target is None:
                op = "save"
                name = new_name()
                size = large_size if rng.random() < large_share else rng.randint(0, 64 * 1024)
                data = _payload(rng, size)
                overwrite = rng.random() < 0.5
                async with lock:
                    model.uncertain.add(name)
                stored = await storage.save(name, data, overwrite=overwrite)
                async with lock:
                    model.files[stored] = data
                    if stored == name:
                        model.uncertain.discard(name)
                    else:
                        # Every name is new, so only this save's own lost write can have taken
                        # it: the content is now stored twice. Counted; the first name stays
                        # uncertain.
                        figures.duplicates += 1
            elif op == "open":
                expected = model.files[target]
                got = await storage.open(target)
                big = unverifiable_above is not None and len(expected) > unverifiable_above
                _compare(figures, got, expected, verifiable=not big, op=op)
            elif op == "stream":
                # A whole streamed read: resumed after a break, it must still be checked whole.
                expected = model.files[target]
                got = b"".join([c async for c in storage.stream(target)])
                big = unverifiable_above is not None and len(expected) > unverifiable_above
                _compare(figures, got, expected, verifiable=not big, op=op)
            elif op == "overwrite":
                # Replacing an acknowledged file: if this fails, the file must still be there.
                before = model.files[target]
                size = len(before) if len(before) > 64 * 1024 else rng.randint(0, 64 * 1024)
                data = _payload(rng, size)
                async with lock:
                    model.uncertain.add(target)
                try:
                    await storage.save(target, data, overwrite=True)
                except BucketryError:
                    async with lock:
                        figures.failed_overwrites += 1
                        figures.overwritten[target] = before
                    raise
                async with lock:
                    model.files[target] = data
                    model.uncertain.discard(target)
            elif op == "range":
                expected = model.files[target]
                start = rng.randint(0, max(0, len(expected) - 1))
                end = rng.randint(start, len(expected))
                got = b"".join([c async for c in storage.stream(target, start=start, end=end)])
                whole = start == 0 and end == len(expected)
                big = unverifiable_above is not None and len(expected) > unverifiable_above
                checked = (whole and not big) or not unverifiable_range_reads
                _compare(figures, got, expected[start:end], verifiable=checked, op=op)
            elif op == "stat":
                size = len(model.files[target])
                info = await storage.stat(target)
                if info.size != size:
                    if unverifiable_metadata:
                        figures.unverifiable_corruptions += 1
                    else:
                        _count(figures, "stat")
            elif op == "list":
                names = [info.name async for info in storage.list(prefix)]
                settled = {n for n in model.files if n not in model.uncertain}
                if not settled <= set(names):
                    # Listing answers carry no checksum in S3, GCS or Azure: a name changed in
                    # transit cannot be told from a real one. Counted apart, never as passed.
                    figures.unverifiable_corruptions += 1
            elif op == "copy":
                destination = new_name()
                source_data = model.files[target]
                async with lock:
                    model.uncertain.add(destination)
                await storage.copy(target, destination, overwrite=True)
                async with lock:
                    model.files[destination] = source_data
                    model.uncertain.discard(destination)
            elif op == "delete":
                async with lock:
                    model.uncertain.add(target)
                await storage.delete(target)
                async with lock:
                    model.files.pop(target, None)
                    model.uncertain.discard(target)
            figures.succeeded += 1
        except BucketryError as exc:
            figures.bucketry_errors += 1
            kind = type(exc).__name__
            figures.errors[kind] = figures.errors.get(kind, 0) + 1
            examples = figures.error_examples.setdefault(kind, [])
            if len(examples) < 3:
                examples.append(f"{op}: {exc}")
        except Exception as exc:  # an SDK exception that escaped translation
            figures.untranslated += 1
            if len(figures.untranslated_examples) < 5:
                figures.untranslated_examples.append(f"{op}: {type(exc).__name__}: {exc}")
        finally:
            figures.operations += 1
            if reading is not None:
                model.reading[reading] -= 1

    semaphore = asyncio.Semaphore(concurrency)

    async def limited(index: int) -> None:
        async with semaphore:
            await one(index)

    await asyncio.gather(*(limited(index) for index in range(operations)))
    survivors = {n: d for n, d in model.files.items() if n not in model.uncertain}
    return figures, survivors


def _count(figures: Figures, op: str) -> None:
    figures.corruptions += 1
    figures.corrupt_by_operation[op] = figures.corrupt_by_operation.get(op, 0) + 1


def _compare(figures: Figures, got: bytes, expected: bytes, *, verifiable: bool, op: str) -> None:
    if got == expected:
        figures.bytes_verified += len(got)
    elif verifiable:
        _count(figures, op)
    else:
        figures.unverifiable_corruptions += 1


async def verify_survivors(storage: Storage, survivors: dict[str, bytes], figures: Figures) -> None:
    """Every save that returned must read back byte for byte (``storage`` bypasses the proxy),
    and every file whose overwrite failed must still exist."""
    for name in figures.overwritten:
        if not await storage.exists(name):
            figures.old_versions_lost += 1
            if len(figures.lost_examples) < 5:
                figures.lost_examples.append(f"{name}: gone after a failed overwrite")
    for name, data in survivors.items():
        figures.survivors_checked += 1
        try:
            got = await storage.open(name)
            problem = None if got == data else f"{len(got)} bytes read, {len(data)} saved"
        except BucketryError as exc:
            problem = f"{type(exc).__name__}: {exc}"
        if problem is not None:
            figures.survivors_lost += 1
            if len(figures.lost_examples) < 5:
                figures.lost_examples.append(f"{name}: {problem}")
