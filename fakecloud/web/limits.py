"""Request limits every HTTP listener applies (the HTTP port and each cloud port's front door)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

ASGIApp = Any


class BodyLimit:
    """Security consideration: a request body must declare its length (Content-Length) and stay
    under `max_bytes`, so no client can make the server buffer without bound. h11 delivers
    exactly the declared length, so checking the header is enough. fakecloud's own endpoints
    take small forms; no camera or app is known to send chunked bodies."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            headers = dict(scope["headers"])
            if b"transfer-encoding" in headers:
                await _refuse(send, 411, "send a Content-Length; chunked bodies are not accepted")
                return
            length = headers.get(b"content-length", b"0")
            if not length.isdigit() or int(length) > self.max_bytes:
                await _refuse(send, 413, f"request bodies are limited to {self.max_bytes} bytes")
                return
        await self.app(scope, receive, send)


class HeadLimit:
    """Security consideration: h11 caps only a head that is still incomplete, so a whole
    oversized head that arrives in one read (a 100 KB header) would pass. This counts the parsed
    request line and headers as sent (each header line with its ": " and CRLF) and answers 431
    and closes when they exceed `max_bytes`."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and head_size(scope) > self.max_bytes:
            await _refuse(send, 431, f"request heads are limited to {self.max_bytes} bytes")
            return
        await self.app(scope, receive, send)


def head_size(scope: dict[str, Any]) -> int:
    """Bytes of an HTTP/1.1 request head as the client sent it (give or take the version)."""
    target = len(scope.get("raw_path") or b"") + len(scope.get("query_string") or b"") + 1
    request_line = len(scope.get("method", "")) + target + len(" HTTP/1.1\r\n") + 1
    headers = sum(len(name) + len(value) + 4 for name, value in scope.get("headers", ()))
    return request_line + headers + 2


async def _refuse(send: Any, status: int, reason: str) -> None:
    body = json.dumps({"detail": reason}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class ProgressWatchdog:
    """Security consideration: closes an HTTP connection that makes no progress for `period`
    seconds: no complete request head yet (slowloris), a request body still arriving, or an
    idle connection after its response. A request waiting on the app (a snapshot waiting for
    video) or a streaming response is progress and is left alone.

    It reads uvicorn's h11 protocol state (`transport`, `cycle`); tests/web/test_limits.py
    fails if a uvicorn release changes it."""

    def __init__(self, protocol: Any, period: float) -> None:
        self.protocol = protocol
        self.period = period
        self._loop = asyncio.get_running_loop()
        self._last_cycle: Any = None
        self._loop.call_later(period, self._check)

    def _check(self) -> None:
        transport = getattr(self.protocol, "transport", None)
        if transport is None or transport.is_closing():
            return
        cycle = self.protocol.cycle
        stalled = cycle is None or (
            cycle is self._last_cycle
            and (cycle.response_complete or (cycle.more_body and not cycle.response_started))
        )
        if stalled:
            transport.close()
            return
        self._last_cycle = cycle
        self._loop.call_later(self.period, self._check)
