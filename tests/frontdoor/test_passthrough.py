"""The pass-through transport (passthrough.py) on a real loopback connection."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fakecloud.frontdoor.passthrough import PassThroughTransport, feed
from tests.frontdoor.clients import HOST, IO_TIMEOUT


class Collector(asyncio.Protocol):
    """A protocol above the pass-through transport that keeps what it is given."""

    def __init__(self) -> None:
        self.data = bytearray()
        self.changed = asyncio.Event()

    def data_received(self, data: bytes) -> None:
        self.data += data
        self.changed.set()

    async def wait_for(self, expected: bytes) -> None:
        async with asyncio.timeout(IO_TIMEOUT):
            while bytes(self.data) != expected:
                self.changed.clear()
                await self.changed.wait()


class SmallBuffers(asyncio.BufferedProtocol):
    """A buffered protocol that offers at most `size` bytes of buffer at a time."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.buffer = bytearray(size)
        self.received = bytearray()

    def get_buffer(self, sizehint: int) -> bytearray:
        return self.buffer

    def buffer_updated(self, nbytes: int) -> None:
        self.received += self.buffer[:nbytes]


class SocketSide(asyncio.Protocol):
    """The socket's own protocol, as the front door's Connection is: it passes bytes on."""

    def __init__(self, ready: asyncio.Future[SocketSide]) -> None:
        self.ready = ready
        self.writes = 0
        self.arrived = asyncio.Event()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.pipe = PassThroughTransport(transport, on_write=self.count_write)
        self.ready.set_result(self)

    def count_write(self) -> None:
        self.writes += 1

    def data_received(self, data: bytes) -> None:
        self.pipe.deliver(data)
        self.arrived.set()


@dataclass
class Pair:
    server: SocketSide
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter


@pytest.fixture
async def pair() -> AsyncIterator[Pair]:
    loop = asyncio.get_running_loop()
    ready: asyncio.Future[SocketSide] = loop.create_future()
    server = await loop.create_server(lambda: SocketSide(ready), HOST, 0)
    reader, writer = await asyncio.open_connection(HOST, server.sockets[0].getsockname()[1])
    async with asyncio.timeout(IO_TIMEOUT):
        side = await ready
    yield Pair(side, reader, writer)
    writer.close()
    side.pipe.abort()
    server.close()
    await server.wait_closed()


async def test_bytes_read_before_a_protocol_is_set_are_replayed_on_resume(pair: Pair) -> None:
    pipe = pair.server.pipe
    pair.writer.write(b"first bytes")
    async with asyncio.timeout(IO_TIMEOUT):
        await pair.server.arrived.wait()
    collector = Collector()
    pipe.set_protocol(collector)
    pipe.pause_reading()
    assert not pipe.is_reading()
    assert collector.data == b""
    pipe.resume_reading()
    assert pipe.is_reading()
    await collector.wait_for(b"first bytes")
    pair.writer.write(b", then more")
    await collector.wait_for(b"first bytes, then more")
    assert pipe.get_protocol() is collector


async def test_writes_reach_the_socket_and_count_as_activity(pair: Pair) -> None:
    pipe = pair.server.pipe
    pipe.write(b"hello")
    pipe.write(memoryview(b" there"))
    assert pair.server.writes == 2
    async with asyncio.timeout(IO_TIMEOUT):
        assert await pair.reader.readexactly(11) == b"hello there"
    assert pipe.get_extra_info("peername") == pair.writer.get_extra_info("sockname")
    assert pipe.can_write_eof()
    pipe.write_eof()
    async with asyncio.timeout(IO_TIMEOUT):
        assert await pair.reader.read() == b""


@given(st.binary(max_size=2000), st.integers(min_value=1, max_value=64))
def test_feed_hands_a_buffered_protocol_every_byte_in_order(data: bytes, size: int) -> None:
    protocol = SmallBuffers(size)
    feed(protocol, data)
    assert protocol.received == data


@given(st.binary(max_size=2000))
def test_feed_hands_a_plain_protocol_the_bytes_in_one_call(data: bytes) -> None:
    collector = Collector()
    feed(collector, data)
    assert collector.data == data
