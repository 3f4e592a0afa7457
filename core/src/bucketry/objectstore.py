"""What the object-store backends (S3, GCS, Azure, obstore) share and a directory-like backend
does not: keys under a prefix, creates whose answer may be lost, and names claimed before a
long upload.

Kept apart from :mod:`bucketry.storage`: the contract suite runs the core on the memory,
filesystem and minimal backends, none of which comes here; these paths are exercised by the
cloud backends' contract, fault and lost-answer runs on the emulators.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from bucketry.errors import AlreadyExistsError, UnsafeNameError
from bucketry.names import clean_name
from bucketry.storage import Storage, WriteOptions

__all__ = ["ObjectStoreStorage", "key_prefix", "name_for_key"]


def key_prefix(prefix: str) -> str:
    """A backend's ``prefix`` option as stored before every key: ``""`` or ``"a/b/"``."""
    stripped = prefix.strip("/")
    return stripped + "/" if stripped else ""


def name_for_key(key: str, prefix: str) -> str | None:
    """The name a listed object key stands for, or ``None`` if no name maps to it.

    Object stores hold keys bucketry would never write (console folder markers like ``dir/``,
    ``a//b``); listings skip them so every listed name can be opened.
    """
    if not key.startswith(prefix):
        return None
    name = key[len(prefix) :]
    try:
        return name if clean_name(name) == name else None
    except UnsafeNameError:
        return None


class ObjectStoreStorage(Storage):
    """A :class:`Storage` kept as keys in a bucket or container."""

    async def _create_retargeting(
        self, name: str, options: WriteOptions, create: Callable[[str], Awaitable[object]]
    ) -> str:
        """Call ``create(name)``; when the name is taken and retargeting is allowed, try the next.

        For requests whose content is still in hand (a small upload held in memory).
        """
        while True:
            try:
                await create(name)
            except AlreadyExistsError:
                if options.retarget is None:
                    raise
                name = options.retarget(name)
                continue
            return name

    async def _create_recognising_own_write(
        self,
        attempt: Callable[[], Awaitable[object]],
        holds: Callable[[], Awaitable[bool]],
        *,
        lost_answer: tuple[type[Exception], ...] = (AlreadyExistsError,),
    ) -> None:
        """Run a create-if-absent (or a commit) under the retry policy.

        If an attempt's response was lost after the backend stored the object, the retry finds
        the name taken (or, for a commit, the upload already gone: pass ``NotFoundError`` in
        ``lost_answer``). ``holds()`` then checks whether what is stored is what was sent (its
        ETag, CRC32C, MD5 or block list); if so the create succeeded, and is not a clash with
        another writer. Only a second attempt can meet its own write: every resend is the
        policy's (see :func:`~bucketry.retry.forbid_hidden_resends`).
        """
        attempts = 0

        async def counted() -> object:
            nonlocal attempts
            attempts += 1
            return await attempt()

        try:
            await self._retrying(counted)
        except lost_answer:
            if attempts > 1 and await holds():
                return
            raise

    async def _claim_name(self, name: str, options: WriteOptions) -> str:
        """Before a long upload that cannot change its name later, move off a taken name.

        A cheap look, not a guarantee: the upload's own create-if-absent stays the arbiter.
        """
        if not options.overwrite and options.retarget is not None:
            while await self._exists(name):
                name = options.retarget(name)
        return name
