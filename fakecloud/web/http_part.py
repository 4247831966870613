"""The plain-HTTP listener for the dashboard, JSON API and Seedonk REST."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections import Counter
from typing import Any

from fakecloud.core.errors import UserError
from fakecloud.frontdoor.budgets import ConnectionBudget, Slots, admit_to_both
from fakecloud.web.asgi import AsgiProtocolFactory, request_standing

log = logging.getLogger(__name__)

DEFAULT_MAX_CONNECTIONS = 512


class HttpPart:
    name = "http"

    def __init__(
        self,
        protocols: AsgiProtocolFactory,
        host: str,
        port: int,
        *,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
        budget: ConnectionBudget | None = None,
        serves: str = "dashboard and REST API",
    ):
        self.protocols = protocols
        self.serves = serves  # what the start-up log line says is on the port
        self.host = host
        self.port = port
        # Security consideration: the HTTP port has its own cap besides the process-wide budget
        # (shared with the front door), so held HTTP connections cannot take every slot. Like
        # the budget, a full cap makes room by closing an idle keep-alive connection or one
        # whose request is not complete, never a request being answered.
        self.max_connections = max_connections
        self.cap = ConnectionBudget(
            max_connections, max_connections, pre_login_share=1.0, name="HTTP port"
        )
        self.budget = budget or ConnectionBudget(
            max_connections, max_connections, pre_login_share=1.0
        )
        self.active: set[_CountedConnection] = set()
        self.counters: Counter[str] = Counter()
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            self._server = await loop.create_server(
                lambda: _CountedConnection(self), self.host, self.port
            )
        except OSError as error:
            raise UserError(
                f"cannot listen for HTTP on {self.host}:{self.port}: {error.strerror}"
            ) from None
        self.port = self._server.sockets[0].getsockname()[1]
        log.info("%s on http://%s:%d/", self.serves, self.host, self.port)

    async def stop(self) -> None:
        if self._server:
            self._server.close()
            await self.protocols.close_connections()
            await self._server.wait_closed()
            self._server = None

    def status(self) -> dict[str, Any]:
        return {
            "listening": self._server is not None,
            "address": f"{self.host}:{self.port}",
            "active_connections": len(self.active),
            "connections": dict(self.counters),
            "evicted": dict(self.cap.evicted),
        }


# What a refused connection delegates to (the socket is aborted before any byte is read).
_NOT_ADMITTED = asyncio.Protocol()


class _CountedConnection(asyncio.Protocol):
    """One HTTP-port connection: admitted against the caps, then served by uvicorn's protocol.

    It stays the socket's protocol for the connection's whole life (uvicorn replaces its own
    protocol only for WebSocket upgrades, which AsgiProtocolFactory turns off), so every
    admitted connection releases its slot."""

    def __init__(self, part: HttpPart) -> None:
        self._part = part
        self._inner: asyncio.Protocol = _NOT_ADMITTED
        self._slots: Slots | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        part = self._part
        host = str((transport.get_extra_info("peername") or ("?",))[0])
        slots, outcome = admit_to_both(
            part.cap, part.budget, host, functools.partial(self._evict, transport)
        )
        part.counters[outcome] += 1
        if slots is None:
            transport.abort()
            return
        self._slots = slots
        part.active.add(self)
        inner = self._inner = part.protocols()
        slots.watch(functools.partial(request_standing, inner))
        inner.connection_made(transport)

    def _evict(self, transport: asyncio.BaseTransport) -> None:
        """A budget took this connection's slot back to make room (an idle keep-alive
        connection, or one whose request is not complete)."""
        if not transport.is_closing():
            self._part.counters["evicted"] += 1
        transport.abort()

    def data_received(self, data: bytes) -> None:
        self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self._inner.eof_received()

    def pause_writing(self) -> None:
        self._inner.pause_writing()

    def resume_writing(self) -> None:
        self._inner.resume_writing()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._slots is None:
            return
        self._part.active.discard(self)
        self._slots.release()
        self._inner.connection_lost(exc)
