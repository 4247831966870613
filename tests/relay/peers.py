"""Loopback test clients that speak SDNK the way the two public Tend clients do."""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Callable
from typing import Any, TypeVar

from fakecloud.net.sdnk import Address, Peers, SdnkPacket, decode, is_sdnk

RECEIVE_TIMEOUT = 5.0
PacketT = TypeVar("PacketT")
TCP_LENGTH = struct.Struct(">H")


class _Inbox(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.queue: asyncio.Queue[tuple[bytes, tuple[str, int]]] = asyncio.Queue()

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        self.queue.put_nowait((data, (str(addr[0]), int(addr[1]))))


class UdpPeer:
    """One UDP socket on loopback with an inbox of everything it receives."""

    def __init__(self, transport: asyncio.DatagramTransport, inbox: _Inbox) -> None:
        self._transport = transport
        self._inbox = inbox
        host, port = transport.get_extra_info("sockname")[:2]
        self.address = Address(host, port)
        self.packets: list[SdnkPacket] = []
        self.media: list[bytes] = []
        self.sources: list[tuple[str, int]] = []

    @classmethod
    async def bind(cls, host: str = "127.0.0.1") -> UdpPeer:
        transport, inbox = await asyncio.get_running_loop().create_datagram_endpoint(
            _Inbox, local_addr=(host, 0)
        )
        return cls(transport, inbox)

    def send(self, data: bytes, to: tuple[str, int]) -> None:
        self._transport.sendto(data, to)

    async def until(
        self, condition: Callable[[UdpPeer], bool], within: float = RECEIVE_TIMEOUT
    ) -> None:
        """Receive (sorting SDNK packets from media) until `condition` holds."""
        async with asyncio.timeout(within):
            while not condition(self):
                data, source = await self._inbox.queue.get()
                self.sources.append(source)
                if is_sdnk(data):
                    self.packets.append(decode(data))
                else:
                    self.media.append(data)

    def of_type(self, packet_type: type[PacketT]) -> list[PacketT]:
        return [packet for packet in self.packets if isinstance(packet, packet_type)]

    async def peers(self) -> Peers:
        await self.until(lambda peer: bool(peer.of_type(Peers)))
        return self.of_type(Peers)[-1]

    async def media_count(self, count: int, within: float = RECEIVE_TIMEOUT) -> list[bytes]:
        await self.until(lambda peer: len(peer.media) >= count, within)
        return self.media

    def close(self) -> None:
        self._transport.close()


class TcpPeer:
    """A TCP-fallback client: datagrams framed as u16 big-endian length + bytes."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def connect(cls, port: int) -> TcpPeer:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer)

    async def send(self, datagram: bytes) -> None:
        self.writer.write(TCP_LENGTH.pack(len(datagram)) + datagram)
        await self.writer.drain()

    async def receive(self, within: float = RECEIVE_TIMEOUT) -> bytes:
        async with asyncio.timeout(within):
            (length,) = TCP_LENGTH.unpack(await self.reader.readexactly(TCP_LENGTH.size))
            return await self.reader.readexactly(length)

    async def close(self) -> None:
        self.writer.close()
        await self.writer.wait_closed()
