"""The relay's TCP fallback: SDNK datagrams framed as a u16 big-endian length, then the bytes.

Each connection is one endpoint's sink (a `TcpSink`); what it reads goes to the same datagram
handling as UDP, keyed by the connection.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Hashable

from fakecloud.net.sdnk import Address
from fakecloud.relay.accounting import RelayAccounting
from fakecloud.relay.sinks import TCP_LENGTH, Sink, TcpSink
from fakecloud.relay.table import SessionTable

DatagramHandler = Callable[[bytes, Hashable, Address, Sink], None]


class TcpFallback:
    def __init__(
        self,
        table: SessionTable,
        accounting: RelayAccounting,
        on_datagram: DatagramHandler,
        *,
        max_connections: int,
        max_datagram_bytes: int,
        queue_limit: int,
        inactivity_timeout: float,
    ) -> None:
        self._table = table
        self._accounting = accounting
        self._on_datagram = on_datagram
        self._max_connections = max_connections
        self._max_datagram = max_datagram_bytes
        self._queue_limit = queue_limit
        self._inactivity_timeout = inactivity_timeout
        self.sinks: set[TcpSink] = set()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if len(self.sinks) >= self._max_connections:
            self._accounting.drops["tcp_limit"] += 1
            writer.close()
            return
        sink = TcpSink(writer, self._queue_limit, self._inactivity_timeout, self._broken)
        self.sinks.add(sink)
        public = Address(*sink.address)
        try:
            while True:
                try:
                    async with asyncio.timeout(self._inactivity_timeout):
                        header = await reader.readexactly(TCP_LENGTH.size)
                except TimeoutError:
                    # Security consideration: an idle connection is closed unless it is a
                    # registered endpoint, whose party's silence the sweep judges (a viewer
                    # that only receives is alive while its session is).
                    if sink in self._table.endpoints:
                        continue
                    return
                (length,) = TCP_LENGTH.unpack(header)
                if length == 0 or length > self._max_datagram:
                    self._accounting.drop("oversize", header, public, length=length)
                    return
                async with asyncio.timeout(self._inactivity_timeout):
                    datagram = await reader.readexactly(length)
                self._on_datagram(datagram, sink, public, sink)
        except (asyncio.IncompleteReadError, OSError, TimeoutError):
            pass
        finally:
            self._broken(sink)

    def _broken(self, sink: TcpSink) -> None:
        endpoint = self._table.endpoints.get(sink)
        if endpoint is not None:
            self._table.remove_endpoint(endpoint)
        self.sinks.discard(sink)
        sink.close()

    def close_all(self) -> None:
        for sink in list(self.sinks):
            sink.close()
        self.sinks.clear()
