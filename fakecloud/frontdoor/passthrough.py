"""The transport the protocols above a front-door socket see.

    socket transport ─▶ Connection (limits, activity) ─▶ PassThroughTransport ─▶ protocol
                                                         protocol = sniffer, TLS layer, CXNet
                                                         stream or uvicorn; behind a TLS layer
                                                         the same choice is made again

It exists so that bytes already read while sniffing can be replayed to the next protocol
(asyncio's start_tls cannot be given bytes it did not read itself) and so that writes count as
activity for the idle limit.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any


def feed(protocol: asyncio.BaseProtocol, data: bytes) -> None:
    """Hand `data` to a protocol the way a socket transport would, buffered or not."""
    if not data:
        return
    if isinstance(protocol, asyncio.BufferedProtocol):
        view = memoryview(data)
        while view:
            buffer = memoryview(protocol.get_buffer(len(view)))
            count = min(len(buffer), len(view))
            buffer[:count] = view[:count]
            protocol.buffer_updated(count)
            view = view[count:]
    elif isinstance(protocol, asyncio.Protocol):
        protocol.data_received(data)


class PassThroughTransport(asyncio.Transport):
    """Passes bytes between the socket and the current protocol; see the module docstring."""

    # loop.start_tls() accepts any transport that carries this flag.
    _start_tls_compatible = True

    def __init__(self, socket_transport: asyncio.Transport, on_write: Callable[[], None]):
        super().__init__()
        self._socket = socket_transport
        self._on_write = on_write
        self._protocol: asyncio.BaseProtocol | None = None
        self._paused = False
        self._held = bytearray()

    def deliver(self, data: bytes) -> None:
        """Pass received bytes up, or hold them while reading is paused."""
        if self._paused or self._protocol is None:
            self._held += data
        else:
            feed(self._protocol, data)

    # Any: asyncio.BaseTransport's own signature (extra info values are of any type).
    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self._socket.get_extra_info(name, default)

    def is_closing(self) -> bool:
        return self._socket.is_closing()

    def close(self) -> None:
        self._socket.close()

    def abort(self) -> None:
        self._socket.abort()

    def _force_close(self, exc: BaseException | None) -> None:
        # asyncio's TLS layer calls this private name on the transport beneath it.
        self._socket.abort()

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self._protocol = protocol

    def get_protocol(self) -> asyncio.BaseProtocol:
        assert self._protocol is not None, "a protocol is set as soon as the connection is made"
        return self._protocol

    def is_reading(self) -> bool:
        return not self._paused

    def pause_reading(self) -> None:
        self._paused = True
        self._socket.pause_reading()

    def resume_reading(self) -> None:
        self._paused = False
        self._socket.resume_reading()
        if self._held and self._protocol is not None:
            held = bytes(self._held)
            self._held.clear()
            feed(self._protocol, held)

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self._on_write()
        self._socket.write(data)

    def write_eof(self) -> None:
        self._socket.write_eof()

    def can_write_eof(self) -> bool:
        return self._socket.can_write_eof()

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        self._socket.set_write_buffer_limits(high, low)

    def get_write_buffer_size(self) -> int:
        return self._socket.get_write_buffer_size()

    def get_write_buffer_limits(self) -> tuple[int, int]:
        return self._socket.get_write_buffer_limits()
