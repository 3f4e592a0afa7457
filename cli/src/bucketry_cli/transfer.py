"""Copying between targets: server-side inside one storage, streamed between two.

A streamed copy reads the source in chunks and hands them straight to the destination's ``save``,
so no file is ever held whole in memory, whatever its size. Progress is reported per chunk to an
optional callback (the command line draws it as a bar on a terminal).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from bucketry.errors import NotFoundError
from bucketry.info import Capability
from bucketry_cli.targets import Target

__all__ = ["Copied", "copy_one", "copy_tree", "plan_tree"]

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
