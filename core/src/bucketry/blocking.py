"""Whether the running coroutine may block its thread.

A synchronous caller's thread may block: :class:`~bucketry.sync.SyncStorage` runs a backend
whose client is not bound to an event loop (the filesystem, memory) on a loop of the caller's
own thread, with :func:`blocking_allowed` true, so the backend makes its blocking calls right
there instead of handing each to a worker thread. Kept apart from the user-facing sync API, which
backends have no reason to import.
"""

from __future__ import annotations

import contextvars

__all__ = ["blocking_allowed"]

_blocking_allowed: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "bucketry_blocking_allowed", default=False
)


def blocking_allowed() -> bool:
    """Whether the running coroutine may block its thread: true inside a
    :class:`SyncStorage` call on the caller's own thread, where a backend should make its
    blocking calls directly rather than hand them to a worker thread."""
    return _blocking_allowed.get()
