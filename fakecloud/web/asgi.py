"""Serve the ASGI app on any asyncio transport: the HTTP port and the cloud front door share it."""

from __future__ import annotations

import asyncio
from typing import Any

import uvicorn
from uvicorn.server import ServerState

from fakecloud.frontdoor.budgets import Standing
from fakecloud.web.limits import HeadLimit, ProgressWatchdog


class AsgiProtocolFactory:
    """Builds uvicorn HTTP/1.1 protocol objects bound to one app, with request limits."""

    def __init__(
        self,
        app: Any,
        *,
        max_header_bytes: int = 64 * 1024,
        keep_alive: float = 15.0,
        progress_period: float = 30.0,
    ):
        # Security consideration: h11 caps a head still arriving and HeadLimit a complete one
        # (431), so a client cannot grow our buffers without bound; bodies are capped by
        # fakecloud.web.limits.BodyLimit, and a connection that makes no progress is closed by
        # its ProgressWatchdog. No endpoint speaks WebSocket, and an upgrade would hand the
        # socket to a protocol the listeners' connection accounting does not see: none.
        self.progress_period = progress_period
        self.config = uvicorn.Config(
            HeadLimit(app, max_header_bytes),
            http="h11",
            ws="none",
            lifespan="off",
            log_config=None,
            access_log=False,
            proxy_headers=False,
            server_header=False,
            h11_max_incomplete_event_size=max_header_bytes,
            timeout_keep_alive=int(keep_alive),
        )
        self.config.load()
        self.state = ServerState()

    def __call__(self) -> asyncio.Protocol:
        protocol = self.config.http_protocol_class(  # type: ignore[call-arg]
            config=self.config, server_state=self.state, app_state={}
        )
        ProgressWatchdog(protocol, self.progress_period)
        return protocol

    async def close_connections(self) -> None:
        for connection in list(self.state.connections):
            connection.shutdown()
        if self.state.tasks:
            await asyncio.wait(self.state.tasks, timeout=5)


def request_standing(protocol: Any) -> Standing:
    """How an HTTP connection served by `protocol` stands for the connection budget: SERVING
    while a complete request is being answered, IDLE between requests (keep-alive), PENDING
    before its first request is complete (a head or body still arriving).

    It reads uvicorn's h11 protocol state (`cycle`) as ProgressWatchdog does."""
    cycle = getattr(protocol, "cycle", None)
    if cycle is None or (cycle.more_body and not cycle.response_started):
        return Standing.PENDING
    if cycle.response_complete:
        return Standing.IDLE
    return Standing.SERVING
