"""A loopback HTTP proxy for tests: records what a backend sends and can tamper with replies.

It stands between a real client and a real emulator; nothing is faked but the change a test asks
for, so a test can prove what bucketry puts on the wire (a precondition, chunk boundaries) and how
it reacts to a reply that was altered in transit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import aiohttp
from aiohttp import web

HOP_BY_HOP = {"content-length", "transfer-encoding", "connection", "content-encoding", "host"}


@dataclass
class Recorded:
    method: str
    path_qs: str
    headers: dict[str, str]
    body_size: int
    status: int = 0


Transform = Callable[[Recorded, bytes], bytes]


@dataclass
class RecordingProxy:
    target: str
    requests: list[Recorded] = field(default_factory=list)
    transform: Transform | None = None
    _runner: web.AppRunner | None = None
    _session: aiohttp.ClientSession | None = None
    url: str = ""

    async def __aenter__(self) -> RecordingProxy:
        app = web.Application(client_max_size=1 << 30)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"
        self._session = aiohttp.ClientSession(auto_decompress=False)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._session is not None:
            await self._session.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        assert self._session is not None
        body = await request.read()
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP}
        record = Recorded(request.method, request.path_qs, dict(request.headers), len(body))
        self.requests.append(record)
        async with self._session.request(
            request.method, self.target + request.path_qs, headers=headers, data=body
        ) as upstream:
            data = await upstream.read()
            record.status = upstream.status
            reply_headers = {
                k: v.replace(self.target, self.url) if k.lower() == "location" else v
                for k, v in upstream.headers.items()
                if k.lower() not in HOP_BY_HOP
            }
        if self.transform is not None:
            data = self.transform(record, data)
        return web.Response(status=record.status, body=data, headers=reply_headers)
