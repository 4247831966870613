"""DNS over TCP: length-prefixed queries, with bounded connection slots and deadlines."""

from __future__ import annotations

import asyncio
import struct

from fakecloud.dns.responder import MAX_QUERY_BYTES, Responder

_LENGTH = struct.Struct("!H")


class TcpServer:
    """Answers DNS-over-TCP connections with what the Responder decides."""

    def __init__(
        self,
        responder: Responder,
        *,
        max_connections: int,
        max_per_client: int | None,
        idle_timeout: float,
        connection_seconds: float,
    ) -> None:
        self._responder = responder
        self._counters = responder.counters
        self._max_connections = max_connections
        # Security consideration: one client may hold only a share of the TCP slots, so a
        # single host opening connections cannot lock every other resolver out.
        self._max_per_client = max_per_client or max(1, max_connections // 8)
        self._per_client: dict[str, int] = {}
        self._idle_timeout = idle_timeout
        self._connection_seconds = connection_seconds
        self._server: asyncio.Server | None = None
        # whatever the task running each connection returns is unused
        self._handlers: set[asyncio.Task[object]] = set()

    async def open(self, bind: str, port: int) -> None:
        self._server = await asyncio.start_server(self._serve, bind, port, limit=MAX_QUERY_BYTES)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in self._handlers:
            task.cancel()
        await asyncio.gather(*self._handlers, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        peer = str(writer.get_extra_info("peername")[0])
        held = self._per_client.get(peer, 0)
        if len(self._handlers) >= self._max_connections or task is None:
            self._counters.tcp_connections_rejected += 1
            writer.transport.abort()
            return
        if held >= self._max_per_client:
            self._counters.tcp_client_share_rejected += 1
            writer.transport.abort()
            return
        self._handlers.add(task)
        self._per_client[peer] = held + 1
        try:
            # Security consideration: the whole connection has a deadline, not only each
            # message, so a client sending one query just inside the idle limit, again and
            # again, still gives its slot back.
            async with asyncio.timeout(self._connection_seconds) as deadline:
                await self._session(reader, writer, peer)
        except (TimeoutError, asyncio.IncompleteReadError, ConnectionError):
            if deadline.expired():
                self._counters.tcp_connections_expired += 1
        finally:
            self._handlers.discard(task)
            remaining = self._per_client.pop(peer) - 1
            if remaining:
                self._per_client[peer] = remaining
            writer.transport.abort()

    async def _session(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, peer: str
    ) -> None:
        """Answer length-prefixed queries in order until the client goes quiet or misbehaves."""
        while True:
            # Security consideration: each message must arrive whole within the idle limit,
            # so a client trickling bytes cannot hold a connection slot for long.
            async with asyncio.timeout(self._idle_timeout):
                (length,) = _LENGTH.unpack(await reader.readexactly(_LENGTH.size))
                if length > MAX_QUERY_BYTES:
                    self._counters.dropped += 1
                    return
                data = await reader.readexactly(length)
            reply, forward = self._responder.decide(data, peer, "tcp")
            if forward is not None:
                reply = await self._responder.forward(data, *forward)
            if reply is None:
                continue
            writer.write(_LENGTH.pack(len(reply)) + reply)
            async with asyncio.timeout(self._idle_timeout):
                await writer.drain()
