"""Copying between targets: server-side inside one storage, streamed between two.

A streamed copy reads the source in chunks and hands them straight to the destination's ``save``,
so no file is ever held whole in memory, whatever its size. Progress is reported per chunk to an
optional callback (the command line draws it as a bar on a terminal).
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

from bucketry.errors import NotFoundError
from bucketry.info import Capability, FileInfo
from bucketry_cli.targets import Target

__all__ = ["Copied", "SyncPlan", "copy_one", "copy_tree", "plan_sync", "plan_tree"]

Advance = Callable[[int], None]


@dataclass(frozen=True)
class Copied:
    source: str
    destination: str
    size: int
    server_side: bool
    skipped: bool = False


async def _counted(chunks: AsyncIterator[bytes], advance: Advance | None) -> AsyncIterator[bytes]:
    async for chunk in chunks:
        if advance is not None:
            advance(len(chunk))
        yield chunk


async def copy_one(
    source: Target,
    destination: Target,
    *,
    advance: Advance | None = None,
    no_clobber: bool = False,
) -> Copied:
    """Copy one file; into ``destination`` as a directory when it is spelled as one."""
    info = await source.storage.stat(source.path)
    if destination.is_directory:
        destination = destination.child(source.path.rsplit("/", 1)[-1])
    shown = source.shown(), destination.shown()
    if no_clobber and await destination.storage.exists(destination.path):
        return Copied(*shown, info.size, False, skipped=True)
    if source.same_storage_as(destination) and source.storage.supports(Capability.SERVER_SIDE_COPY):
        await source.storage.copy(source.path, destination.path, overwrite=True)
        if advance is not None:
            advance(info.size)
        return Copied(*shown, info.size, True)
    content_type = info.content_type if source.storage.supports(Capability.CONTENT_TYPE) else None
    await destination.storage.save(
        destination.path,
        _counted(source.storage.stream(source.path), advance),
        content_type=content_type,
        overwrite=True,
    )
    return Copied(*shown, info.size, False)


async def plan_tree(source: Target) -> list[tuple[str, int]]:
    """Every file under ``source`` as (path relative to it, size); listing streams page by page."""
    prefix = source.path if not source.path or source.path.endswith("/") else source.path + "/"
    files = [(info.name[len(prefix) :], info.size) async for info in source.storage.list(prefix)]
    if not files and source.path and await source.storage.exists(source.path.rstrip("/")):
        raise NotFoundError(f"{source.spelled} is a file; copy it without -r.")
    return files


async def copy_tree(
    source: Target,
    destination: Target,
    files: list[tuple[str, int]],
    *,
    advance: Advance | None = None,
    no_clobber: bool = False,
    concurrency: int = 4,
) -> list[Copied]:
    """Copy every planned file under ``source`` to the same relative path under ``destination``."""
    prefix = source.path if not source.path or source.path.endswith("/") else source.path + "/"
    root = destination if destination.is_directory else destination.child("")
    limit = asyncio.Semaphore(concurrency)

    async def one(relative: str) -> Copied:
        async with limit:
            return await copy_one(
                Target(source.storage, prefix + relative, source.local, source.spelled),
                root.child(relative),
                advance=advance,
                no_clobber=no_clobber,
            )

    return list(await asyncio.gather(*(one(relative) for relative, _ in files)))


@dataclass
class SyncPlan:
    """What ``sync`` will do: files to copy (with why), names to delete, how many match."""

    copy: list[tuple[str, int, str]] = field(default_factory=list)
    delete: list[str] = field(default_factory=list)
    unchanged: int = 0


async def _tree(target: Target) -> dict[str, FileInfo]:
    prefix = target.path if not target.path or target.path.endswith("/") else target.path + "/"
    return {info.name[len(prefix) :]: info async for info in target.storage.list(prefix)}


async def _digest(target: Target, relative: str) -> str:
    hasher = hashlib.sha256()
    async for chunk in target.child(relative).storage.stream(target.child(relative).path):
        hasher.update(chunk)
    return hasher.hexdigest()


async def plan_sync(
    source: Target, destination: Target, *, checksum: bool = False, delete: bool = False
) -> SyncPlan:
    """Compare the two trees as ``aws s3 sync`` does: a file is copied when it is new, its size
    differs, or the source's is newer (with ``checksum``, when the bytes differ instead: both
    sides are read). Names only at the destination are deleted with ``delete``."""
    theirs, ours = await _tree(source), await _tree(destination.child(""))
    plan = SyncPlan()
    for relative, info in sorted(theirs.items()):
        there = ours.get(relative)
        if there is None:
            plan.copy.append((relative, info.size, "new"))
        elif there.size != info.size:
            plan.copy.append((relative, info.size, "size differs"))
        elif checksum:
            root = destination.child("")
            if await _digest(source.child(""), relative) != await _digest(root, relative):
                plan.copy.append((relative, info.size, "content differs"))
            else:
                plan.unchanged += 1
        elif (
            info.last_modified is not None
            and there.last_modified is not None
            and info.last_modified > there.last_modified
        ):
            plan.copy.append((relative, info.size, "newer"))
        else:
            plan.unchanged += 1
    if delete:
        plan.delete = sorted(set(ours) - set(theirs))
    return plan
