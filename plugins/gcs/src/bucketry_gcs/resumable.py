"""GCS's resumable upload protocol: the chunks of one session, and its status check.

A session takes chunks in order, each a multiple of 256 KiB but the last, and answers 308 with
the bytes it holds (``Range: bytes=0-N``) until the last one, then the object's JSON. Retries,
own writes and damage are the engine's; this module only speaks the protocol.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import aiohttp

from bucketry.backend import (
    BucketryError,
    IntegrityError,
    UnavailableError,
)
from bucketry_gcs.errors import UnreadableAnswer, parsed

__all__ = ["FinishedEarly", "Session"]


class FinishedEarly(BucketryError):
    """The session finished, storing ``answer``, before all chunks were sent: passed through
    the policy unretried (a bucketry error it does not retry), judged where it is caught."""

    def __init__(self, answer: Mapping[str, Any]) -> None:
        super().__init__("finished early")
        self.answer = answer


class Session:
    """One resumable upload session at ``uri``; ``send(headers=, data=, ok=)`` PUTs to it."""

    def __init__(
        self, name: str, uri: str, send: Callable[..., Awaitable[aiohttp.ClientResponse]]
    ) -> None:
        self.name, self.uri, self._send = name, uri, send

    def chunk(
        self, chunk: bytes, offset: int, total: int | None = None, crc32c: str | None = None
    ) -> Callable[[], Awaitable[Any]]:
        """One chunk's request, for the policy: the object's JSON after the last one.

        After a failed attempt the chunk's fate is unknown (it may have arrived, wholly or in
        part, and only its answer been lost), so the next attempt first asks the session how
        many bytes it holds and sends only the rest; a finished session answers with the
        object (GCS), or is gone (fake-gcs-server: 404, and the engine's own-write check
        decides). The last chunk carries the object's CRC32C, which GCS checks before it
        finalises the upload.
        """
        end, size, asked = offset + len(chunk), "*" if total is None else str(total), False

        async def attempt() -> Any:
            nonlocal asked
            start = offset
            if asked:
                held = await self._progress(f"bytes */{size}", b"")
                if isinstance(held, dict):
                    if total is None:  # more chunks were still to come
                        raise FinishedEarly(held)
                    return held
                if not offset <= held <= end:
                    raise IntegrityError(
                        f"The GCS upload session of {self.name!r} holds {held} bytes, but "
                        f"{offset} to {end} were sent; save it again."
                    )
                if held == end and total is None:
                    return None  # the chunk arrived; only its answer was lost
                start = held
            asked = True
            span = f"bytes {start}-{end - 1}/{size}" if start < end else f"bytes */{size}"
            hashed = {"X-Goog-Hash": f"crc32c={crc32c}"} if crc32c else {}
            held = await self._progress(span, chunk[start - offset :], hashed)
            if isinstance(held, dict) or (total is None and held == end):
                return held if isinstance(held, dict) else None
            raise UnavailableError(
                f"GCS acknowledged {held} bytes of {self.name!r} after {end} were sent; "
                "asking again."
            )

        return attempt

    async def _progress(
        self, span: str, data: bytes, headers: Mapping[str, str] | None = None
    ) -> int | dict[str, Any]:
        """How many bytes the session holds (308), or the object's JSON if it finished."""
        headers = {"Content-Range": span, **(headers or {})}
        response = await self._send(headers=headers, data=data, ok=(200, 201, 308))
        if response.status != 308:
            finished: dict[str, Any] = await parsed(response, dict)
            return finished
        response.release()
        committed = response.headers.get("Range", "")
        first, _, last = committed.removeprefix("bytes=").partition("-")
        if committed and (first != "0" or not last.isdigit()):
            raise UnreadableAnswer(f"upload state {committed!r}")
        return int(last) + 1 if committed else 0
