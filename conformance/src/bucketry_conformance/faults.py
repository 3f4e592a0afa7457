"""A loopback HTTP/1.1 proxy that injects faults between a storage client and its server.

Put it in front of an emulator (or any HTTP endpoint you own) and point the backend at it::

    async with FaultProxy("http://127.0.0.1:9000", FaultPlan(rate=0.2, seed=1)) as proxy:
        storage = S3Storage(bucket="b", endpoint_url=proxy.url, ...)

At ``rate`` of requests it injects one fault, drawn by weight from :data:`FAULT_KINDS`:

- ``error``: a 503 without forwarding (S3's ``SlowDown`` XML, GCS's JSON, Azure's ``ServerBusy``);
- ``error_bare``: a 500 without forwarding whose body names an error code and nothing else (no
  message), the sparse answers some proxies and gateways give;
- ``reset_before``: the connection is dropped before the request is forwarded;
- ``reset_mid``: the request is forwarded (so it may have taken effect) and the connection is
  dropped halfway through the response: the lost-response case;
- ``reset_after``: the request is forwarded (and takes effect) and the connection is dropped
  before any of the answer is sent: the lost answer an HTTP client may resend by itself;
- ``flip_reset``: one byte in the first half of the response body is changed, that half is sent
  and the connection dropped: a damaged read that will be resumed;
- ``truncate``: the response is cut short, then the connection closed;
- ``latency``: the response is held back for a moment;
- ``flip_response`` / ``flip_request``: one byte of the response or request body is changed.

:meth:`FaultProxy.inject` aims one fault at the next request that matches a method and a piece
of its path, for tests that must not depend on chance. Everything is in memory and bounded; the
proxy only listens on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

__all__ = ["FAULT_KINDS", "FaultPlan", "FaultProxy"]

FAULT_KINDS = (
    "error",
    "error_bare",
    "reset_before",
    "reset_mid",
    "reset_after",
    "flip_reset",
    "truncate",
    "latency",
    "flip_response",
    "flip_request",
)

_ERROR_BODIES = {
    "s3": (
        "application/xml",
        b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code>'
        b"<Message>Please reduce your request rate.</Message></Error>",
    ),
    "gcs": (
        "application/json",
        b'{"error": {"code": 503, "message": "Backend Error", '
        b'"errors": [{"reason": "backendError"}]}}',
    ),
    "azure": (
        "application/xml",
        b'<?xml version="1.0" encoding="utf-8"?><Error><Code>ServerBusy</Code>'
        b"<Message>The server is busy.</Message></Error>",
    ),
}


_BARE_ERROR_BODIES = {
    "s3": ("application/xml", b"<Error><Code>InternalError</Code></Error>"),
    "gcs": ("application/json", b'{"error": {"code": 500}}'),
    "azure": (
        "application/xml",
        b'<?xml version="1.0" encoding="utf-8"?><Error><Code>InternalError</Code></Error>',
    ),
}


@dataclass
class FaultPlan:
    """How often, and which, faults to inject. ``seed`` makes a run repeatable."""

    rate: float = 0.2
    weights: dict[str, float] = field(default_factory=lambda: dict.fromkeys(FAULT_KINDS, 1.0))
    dialect: str = "s3"
    latency: tuple[float, float] = (0.05, 0.3)
    seed: int | None = None


@dataclass
class _Message:
    head: bytes
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key.lower() == name:
                return value
        return None


class FaultProxy:
    """The proxy; an async context manager. ``injected`` counts the faults by kind."""

    def __init__(self, upstream: str, plan: FaultPlan | None = None) -> None:
        parts = urlsplit(upstream)
        self.upstream = upstream.rstrip("/")
        self._host = parts.hostname or "127.0.0.1"
        self._port = parts.port or 80
        self.plan = plan or FaultPlan()
        self._random = random.Random(self.plan.seed)
        self.injected: Counter[str] = Counter()
        self.requests = 0
        self.enabled = True
        self.url = ""
        self._aimed: list[list[Any]] = []
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.StreamWriter] = set()

    async def __aenter__(self) -> FaultProxy:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._server is not None:
            self._server.close()
            for writer in list(self._connections):
                writer.close()
            await self._server.wait_closed()

    def inject(
        self, kind: str, *, method: str | None = None, where: str = "", skip: int = 0
    ) -> None:
        """Inject ``kind`` into a coming request with this method whose path contains ``where``:
        the first such request after ``skip`` of them have passed.

        Aimed faults are used in the order they were asked for, before any drawn by chance.
        """
        if kind not in FAULT_KINDS:
            raise ValueError(f"Unknown fault {kind!r}; choose from {', '.join(FAULT_KINDS)}.")
        self._aimed.append([kind, method.upper() if method else None, where, skip])

    def forget_aimed(self) -> None:
        """Drop aimed faults that have not met their request yet."""
        self._aimed.clear()

    def _aimed_at(self, request: _Message) -> str | None:
        method, _, rest = request.head.decode("latin-1").partition(" ")
        path = rest.rsplit(" ", 1)[0]
        for index, (kind, wanted, where, skip) in enumerate(self._aimed):
            if (wanted is None or wanted == method) and where in path:
                if skip:
                    self._aimed[index][3] -= 1
                    return None
                del self._aimed[index]
                return str(kind)
        return None

    def _draw(self) -> str | None:
        if not self.enabled or self._random.random() >= self.plan.rate:
            return None
        kinds = [kind for kind, weight in self.plan.weights.items() if weight > 0]
        weights = [self.plan.weights[kind] for kind in kinds]
        return self._random.choices(kinds, weights)[0]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._connections.add(writer)
        try:
            while True:
                request = await _read_message(reader, writer, is_request=True)
                if request is None:
                    return
                self.requests += 1
                fault = self._aimed_at(request) or self._draw()
                if fault is not None:
                    self.injected[fault] += 1
                if not await self._answer(request, fault, writer):
                    return
        except (ConnectionError, asyncio.IncompleteReadError, ValueError):
            return
        finally:
            self._connections.discard(writer)
            with contextlib.suppress(Exception):
                writer.close()

    async def _answer(
        self, request: _Message, fault: str | None, writer: asyncio.StreamWriter
    ) -> bool:
        """Answer one request; return whether the client connection stays open."""
        if fault == "reset_before":
            _abort(writer)
            return False
        if fault in ("error", "error_bare"):
            bodies = _ERROR_BODIES if fault == "error" else _BARE_ERROR_BODIES
            content_type, body = bodies.get(self.plan.dialect, bodies["s3"])
            status = b"503 Service Unavailable" if fault == "error" else b"500 Internal Error"
            code = b"ServerBusy" if fault == "error" else b"InternalError"
            extra = b"\r\nx-ms-error-code: " + code if self.plan.dialect == "azure" else b""
            writer.write(
                b"HTTP/1.1 "
                + status
                + b"\r\nContent-Type: "
                + content_type.encode()
                + extra
                + b"\r\nRetry-After: 0\r\nContent-Length: "
                + str(len(body)).encode()
                + b"\r\n\r\n"
                + body
            )
            await writer.drain()
            return True
        body = request.body
        if fault == "flip_request" and body:
            body = _flip(body, self._random)
        response = await self._forward(request, body)
        response_body = response.body
        if fault == "flip_response" and response_body:
            response_body = _flip(response_body, self._random)
        if fault == "latency":
            await asyncio.sleep(self._random.uniform(*self.plan.latency))
        is_head = request.head.startswith(b"HEAD ")
        length = int(response.header("content-length") or 0) if is_head else len(response_body)
        head = _response_head(response, length, self.upstream, self.url)
        if fault == "reset_after":
            _abort(writer)
            return False
        if fault == "flip_reset":
            half = response_body[: len(response_body) // 2]
            if half:
                half = _flip(half, self._random)
            writer.write(head + half)
            await writer.drain()
            _abort(writer)
            return False
        if fault in ("reset_mid", "truncate"):
            writer.write(head + response_body[: len(response_body) // 2])
            await writer.drain()
            if fault == "reset_mid":
                _abort(writer)
            else:
                writer.close()
            return False
        writer.write(head + response_body)
        await writer.drain()
        return True

    async def _forward(self, request: _Message, body: bytes) -> _Message:
        reader, writer = await asyncio.open_connection(self._host, self._port)
        try:
            headers = [
                (key, value)
                for key, value in request.headers
                if key.lower()
                not in ("connection", "expect", "transfer-encoding", "content-length")
            ]
            lines = [request.head.decode("latin-1")]
            lines += [f"{key}: {value}" for key, value in headers]
            lines += ["Connection: close"]
            if body or request.header("content-length") is not None:
                lines.append(f"Content-Length: {len(body)}")
            writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
            await writer.drain()
            method = request.head.split(b" ", 1)[0]
            response = await _read_message(reader, None, is_request=False, method=method)
            if response is None:
                raise ConnectionError("upstream closed without answering")
            return response
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()


def _flip(body: bytes, rng: random.Random) -> bytes:
    index = rng.randrange(len(body))
    return body[:index] + bytes([body[index] ^ 0x5A]) + body[index + 1 :]


def _abort(writer: asyncio.StreamWriter) -> None:
    transport: Any = writer.transport
    transport.abort()  # an RST, not a clean close


def _response_head(response: _Message, length: int, upstream: str, proxy: str) -> bytes:
    lines = [response.head.decode("latin-1")]
    for key, value in response.headers:
        lowered = key.lower()
        if lowered in ("content-length", "transfer-encoding", "connection"):
            continue
        if lowered == "location":
            value = value.replace(upstream, proxy)
        lines.append(f"{key}: {value}")
    status = response.head.split(b" ", 2)[1] if b" " in response.head else b"200"
    if status not in (b"204", b"304") and not status.startswith(b"1"):
        lines.append(f"Content-Length: {length}")
    lines.append("Connection: keep-alive")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


async def _read_message(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter | None,
    *,
    is_request: bool,
    method: bytes = b"GET",
) -> _Message | None:
    try:
        raw = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as exc:
        if not exc.partial:
            return None
        raise
    lines = raw[:-4].split(b"\r\n")
    head, headers = lines[0], []
    for line in lines[1:]:
        key, _, value = line.decode("latin-1").partition(":")
        headers.append((key.strip(), value.strip()))
    message = _Message(head, headers, b"")
    if is_request and (message.header("expect") or "").lower() == "100-continue" and writer:
        writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        await writer.drain()
    status = b"" if is_request else (head.split(b" ", 2)[1] if b" " in head else b"")
    no_body = not is_request and (
        method == b"HEAD" or status in (b"204", b"304") or status.startswith(b"1")
    )
    if no_body:
        return message
    length = message.header("content-length")
    if (message.header("transfer-encoding") or "").lower() == "chunked":
        parts = []
        while True:
            size_line = await reader.readuntil(b"\r\n")
            size = int(size_line.split(b";")[0].strip(), 16)
            if size == 0:
                await reader.readuntil(b"\r\n")
                break
            parts.append(await reader.readexactly(size))
            await reader.readexactly(2)
        message.body = b"".join(parts)
    elif length is not None:
        message.body = await reader.readexactly(int(length))
    elif not is_request:
        message.body = await reader.read()
    return message
