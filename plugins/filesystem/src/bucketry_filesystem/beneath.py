"""Resolving a name under the storage root with directory descriptors, so no rename can escape.

Checking a path (``realpath``) and then using it leaves a gap: between the two, another process
can swap a directory for a symbolic link to anywhere. Here every step of a name is opened
relative to the descriptor of the directory before it, with ``O_NOFOLLOW``, so the kernel never
follows a link this module has not read and judged itself. A link is followed only by reading it
(``readlink``) and continuing the walk from the root or from the directory that holds it; one that
leads outside the root (``..`` above it, or an absolute target elsewhere) is refused. What the
walk returns is a descriptor of the final directory, held open: every later operation (create,
open, rename, link, unlink, rmdir, scandir) is made relative to it, so a swap after the walk
changes nothing. This is what ``openat2(RESOLVE_IN_ROOT)`` does in the kernel; it is done here in
user space because Python has no ``openat2`` and some kernels or sandboxes refuse it.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["DIRECTORY_FLAGS", "Escape", "Resolved", "resolve"]

DIRECTORY_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
MAX_LINKS = 40  # as the kernel's own limit on links followed in one lookup


class Escape(Exception):
    """The name leads outside the root through a symbolic link or ``..``."""


@dataclass
class Resolved:
    """A name's final directory (``fd``) and its last segment (``entry``), with the directories
    walked through to reach it, so that emptied ones can be removed by name relative to their
    parents. ``close()`` closes every descriptor but the root's, which the caller owns."""

    root_fd: int
    entry: str
    chain: list[tuple[int, str]] = field(default_factory=list)
    """(descriptor of a directory, name of the child directory entered from it), root first."""
    fd: int = -1

    def __post_init__(self) -> None:
        if self.fd < 0:
            self.fd = self.root_fd

    def close(self) -> None:
        for fd, _ in self.chain[1:]:
            os.close(fd)
        if self.fd != self.root_fd:
            os.close(self.fd)
        self.chain, self.fd = [], self.root_fd

    def prune(self) -> None:
        """Remove the directories of this name that are now empty, deepest first, not the root."""
        while self.chain:
            parent, child = self.chain[-1]
            try:
                os.rmdir(child, dir_fd=parent)
            except OSError:
                return
            if self.fd != self.root_fd:
                os.close(self.fd)
            self.chain.pop()
            self.fd = parent


def resolve(
    root: str,
    root_fd: int,
    name: str,
    *,
    make_directory: Callable[[int, str], None] | None = None,
    follow_final: bool = True,
    directory: bool = False,
) -> Resolved:
    """Walk ``name`` from ``root_fd`` and return where its last segment lives.

    Missing directories raise ``FileNotFoundError`` unless ``make_directory(fd, segment)`` creates
    them. With ``follow_final`` a last segment that is a link is followed like the others (reads,
    stat); without, the link itself is the entry (unlink removes the link, never its target).
    With ``directory`` every segment is a directory and the result's ``fd`` is the last one's
    (``""`` is the root itself).
    """
    pending = name.split("/")
    result = Resolved(root_fd, "")
    links = 0
    try:
        while pending:
            segment = pending.pop(0)
            if segment in ("", "."):
                continue
            if segment == "..":
                if not result.chain:
                    raise Escape(name)
                if result.fd != root_fd:
                    os.close(result.fd)
                result.fd = result.chain.pop()[0]
                continue
            if not pending and not directory:
                if follow_final and _is_link(result.fd, segment):
                    links = _follow(root, result, segment, pending, links, name)
                    continue
                result.entry = segment
                return result
            try:
                child = _open_directory(result.fd, segment, make_directory)
            except OSError as exc:
                if exc.errno not in (errno.ELOOP, errno.ENOTDIR) or not _is_link(
                    result.fd, segment
                ):
                    raise
                links = _follow(root, result, segment, pending, links, name)
                continue
            result.chain.append((result.fd, segment))
            result.fd = child
        if directory:
            return result
        raise Escape(name)  # the name, or a link in it, came down to the root itself
    except BaseException:
        result.close()
        raise


def _open_directory(
    fd: int, segment: str, make_directory: Callable[[int, str], None] | None
) -> int:
    try:
        return os.open(segment, DIRECTORY_FLAGS, dir_fd=fd)
    except FileNotFoundError:
        if make_directory is None:
            raise
    with contextlib.suppress(FileExistsError):  # made by a concurrent writer: as good
        make_directory(fd, segment)
    return os.open(segment, DIRECTORY_FLAGS, dir_fd=fd)


def _is_link(fd: int, segment: str) -> bool:
    try:
        return stat.S_ISLNK(os.stat(segment, dir_fd=fd, follow_symlinks=False).st_mode)
    except FileNotFoundError:
        return False


def _follow(
    root: str, result: Resolved, segment: str, pending: list[str], links: int, name: str
) -> int:
    """Put the link's target in front of what is left to walk; restart at the root if absolute."""
    links += 1
    if links > MAX_LINKS:
        raise OSError(errno.ELOOP, "Too many levels of symbolic links", name)
    target = os.readlink(segment, dir_fd=result.fd)
    if target.startswith("/"):
        inside = root.rstrip("/") + "/"
        if target != root and not target.startswith(inside):
            raise Escape(name)
        target = target[len(inside) :] if target != root else ""
        if result.fd != result.root_fd:
            os.close(result.fd)
        for fd, _ in result.chain[1:]:
            os.close(fd)
        result.chain, result.fd = [], result.root_fd
    pending[:0] = target.split("/")
    return links
