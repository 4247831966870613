"""Where the relay sends datagrams: a UDP address, a TCP fallback connection or a local tap.

Every sink accepts a datagram without ever waiting, so one slow receiver cannot delay the
camera or the other viewers.
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
from collections.abc import Callable
from typing import Protocol

from fakecloud.relay.queues import DatagramQueue, Overflow

# TCP fallback framing: u16 big-endian length, then the datagram (our hypothesis, not observed).
TCP_LENGTH = struct.Struct(">H")


class Sink(Protocol):
    def send(self, datagram: bytes) -> bool:
        """Hand over a datagram without blocking; False when it (or an older one) was dropped."""
        ...

    def close(self) -> None: ...


class UdpSink:
    """One remote UDP address behind the relay's shared socket."""

    def __init__(
        self, transport: asyncio.DatagramTransport, address: tuple[str, int], buffer_limit: int
    ) -> None:
        self._transport = transport
        self.address = address
        self._buffer_limit = buffer_limit

    def send(self, datagram: bytes) -> bool:
        # asyncio buffers without limit when the kernel says EAGAIN; refuse instead of growing.
        if self._transport.is_closing():
            return False
        # asyncio's datagram transports all count their buffer; typeshed does not declare it.
        if self._transport.get_write_buffer_size() > self._buffer_limit:  # type: ignore[attr-defined]
            return False
        self._transport.sendto(datagram, self.address)
        return True

    def close(self) -> None:
        """Nothing to release: the socket belongs to the relay."""


class TcpSink:
    """A TCP fallback connection: a bounded queue drained by one writer task."""

    def __init__(
        self,
        writer: asyncio.StreamWriter,
        queue_limit: int,
        write_timeout: float,
        on_broken: Callable[[TcpSink], None],
    ) -> None:
        self._writer = writer
        self._queue = DatagramQueue(queue_limit)
        self._write_timeout = write_timeout
        self._on_broken = on_broken
        self._task = asyncio.get_running_loop().create_task(self._drain())
        peer = writer.get_extra_info("peername")
        self.address: tuple[str, int] = (str(peer[0]), int(peer[1]))

    def send(self, datagram: bytes) -> bool:
        return self._queue.put(datagram)

    def close(self) -> None:
        self._queue.close()
        self._task.cancel()
        self._writer.close()

    async def _drain(self) -> None:
        try:
            while (datagram := await self._queue.get()) is not None:
                self._writer.write(TCP_LENGTH.pack(len(datagram)) + datagram)
                # Security consideration: a client that stops reading is cut off after
                # write_timeout instead of pinning its queue and socket forever.
                async with asyncio.timeout(self._write_timeout):
                    await self._writer.drain()
        except (OSError, TimeoutError):
            self._on_broken(self)
        finally:
            with contextlib.suppress(Exception):
                self._writer.close()


class Tap:
    """fakecloud as a viewer: an async iterator of the camera's media datagrams.

    Iteration ends when the session is released, times out or the tap is closed.
    """

    def __init__(
        self, queue_limit: int, overflow: Overflow, on_close: Callable[[Tap], None]
    ) -> None:
        self._queue = DatagramQueue(queue_limit, overflow)
        self._on_close = on_close

    @property
    def dropped(self) -> int:
        """Datagrams lost because this tap's consumer fell behind."""
        return self._queue.dropped

    @property
    def closed(self) -> bool:
        return self._queue.closed

    def send(self, datagram: bytes) -> bool:
        return self._queue.put(datagram)

    def close(self) -> None:
        if not self._queue.closed:
            self._queue.close()
            self._on_close(self)

    def __aiter__(self) -> Tap:
        return self

    async def __anext__(self) -> bytes:
        datagram = await self._queue.get()
        if datagram is None:
            raise StopAsyncIteration
        return datagram
