"""Loopback test clients that speak SDNK the way the two public Tend clients do.

`r_viewer` follows R (rfiorentino1/homebridge-myq src/tend-stream.ts): ids (own alias, camera
alias), REQ_CONN_INFO on both channels until both have PEERS, ACK_CONN_INFO, REQ_PUNCH 0/1 three
times each on both channels, RES_PUNCH counters 7..12 on both once 7 punches came back.
`k_viewer` follows K (KyleBoyer/homebridge-myq-camera src/p2p.ts): the camera's `V_<deviceId>`
twice, REGISTER until PEERS, RELAY_ACK, PUNCH + CONNECT(1) until CONNECTED. After that both are
quiet on the media socket; `receiver_report` and `bye` are what K sends on its control socket.

Every `UdpPeer` also does what both clients do whatever their state: it answers every CONNECT
with CONNECTED echoing its byte, and PEERS with RELAY_ACK (unless the relay sent its own RELAY_ACK
first, as it does to sockets it trusts from the start), which is how the relay's challenges get
answered (docs/relay.md, "Who may watch").
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Callable
from typing import Any, TypeVar, cast

from fakecloud.net.rtp import RtcpPacket, RtcpType, build_rtcp, rtcp_bye
from fakecloud.net.sdnk import (
    Address,
    Connect,
    Connected,
    Peers,
    Punch,
    Register,
    RelayAck,
    SdnkError,
    SdnkPacket,
    decode,
    is_sdnk,
)
from fakecloud.relay.proof import PROOF_ROUNDS

RECEIVE_TIMEOUT = 5.0
PacketT = TypeVar("PacketT")
TCP_LENGTH = struct.Struct(">H")


def _sdnk(data: bytes) -> SdnkPacket | None:
    try:
        return decode(data) if is_sdnk(data) else None
    except SdnkError:
        return None


class _Inbox(asyncio.DatagramProtocol):
    """Queues what arrives, answering PEERS and CONNECT at once as both public clients do."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[tuple[bytes, tuple[str, int]]] = asyncio.Queue()
        self.transport: asyncio.DatagramTransport | None = None
        self.registered: Register | None = None  # the last REGISTER this socket sent
        # The relay acknowledged this socket itself (RELAY_ACK before PEERS: a trusted socket).
        self.acknowledged = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        source = (str(addr[0]), int(addr[1]))
        packet = _sdnk(data)
        assert self.transport is not None
        if isinstance(packet, RelayAck):
            self.acknowledged = True
        elif isinstance(packet, Connect):
            self.transport.sendto(Connected(packet.counter).encode(), source)
        elif isinstance(packet, Peers) and self.registered is not None and not self.acknowledged:
            mine = self.registered
            self.transport.sendto(RelayAck(mine.channel, mine.kind, mine.ids).encode(), source)
        self.queue.put_nowait((data, source))


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
        if isinstance(packet := _sdnk(data), Register):
            self._inbox.registered = packet
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

    async def proven(self) -> None:
        """Until the relay's challenges have all been echoed (each is a distinct byte), so the
        relay handles this socket's next datagram as from a proven address; a socket the relay
        trusts from the start (the camera's) gets RELAY_ACK with its PEERS instead."""
        await self.until(
            lambda peer: bool(peer.of_type(RelayAck)) or len(challenges(peer)) >= PROOF_ROUNDS
        )

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


Relay = tuple[str, int]
R_PUNCH_THRESHOLD = 7  # R answers with RES_PUNCH once this many punches came back
R_CONNECT_COUNTERS = range(7, 13)
VIEWER_SSRC = 0x5EED0001


def challenges(peer: UdpPeer) -> set[int | None]:
    """The CONNECT bytes the relay sent this socket (its challenges, then R's counters)."""
    return {connect.counter for connect in peer.of_type(Connect)}


async def _register_both(
    relay: Relay, ids: tuple[str, str], host: str = "127.0.0.1"
) -> list[UdpPeer]:
    """REGISTER both channels and wait for PEERS and the proof of the socket's address."""
    sockets = [await UdpPeer.bind(host), await UdpPeer.bind(host)]
    for channel, sock in enumerate(sockets):
        sock.send(Register(channel, "V", sock.address, ids).encode(), relay)
    for sock in sockets:
        await sock.peers()
        await sock.proven()
    return sockets


async def r_viewer(relay: Relay, own_id: str, camera_id: str) -> list[UdpPeer]:
    """R's viewer: [media socket, control socket], punched through and acknowledged."""
    ids = (own_id, camera_id)
    sockets = await _register_both(relay, ids)
    for channel, sock in enumerate(sockets):
        sock.send(RelayAck(channel, "V", ids).encode(), relay)
    for sequence in (0, 1, 0, 1, 0, 1):
        for sock in sockets:
            peers = sock.of_type(Peers)[-1]
            # R's reading: host from slot 3 (public), port from slot 2.
            sock.send(Punch(sequence, ids).encode(), (peers.slots[3].host, peers.slots[2].port))
    for sock in sockets:
        await sock.until(lambda peer: len(peer.of_type(Punch)) >= 6)
    assert sum(len(sock.of_type(Punch)) for sock in sockets) >= R_PUNCH_THRESHOLD
    for counter in R_CONNECT_COUNTERS:
        for sock in sockets:
            sock.send(Connect(counter, header_counter=counter).encode(), sock.sources[-1])
    for sock in sockets:
        await sock.until(lambda peer: len(peer.of_type(Connected)) >= len(R_CONNECT_COUNTERS))
        assert [c.echo for c in sock.of_type(Connected)] == list(R_CONNECT_COUNTERS)
    return sockets


async def k_viewer(relay: Relay, camera_id: str, host: str = "127.0.0.1") -> list[UdpPeer]:
    """K's viewer: the camera's id twice, RELAY_ACK, PUNCH + CONNECT until CONNECTED."""
    ids = (camera_id, camera_id)
    sockets = await _register_both(relay, ids, host)
    for channel, sock in enumerate(sockets):
        chosen = next(s for s in reversed(sock.of_type(Peers)[-1].slots) if s.port)
        sock.send(RelayAck(channel, "V", ids).encode(), relay)
        sock.send(Punch(0, ids).encode(), (chosen.host, chosen.port))
        sock.send(Connect(1).encode(), (chosen.host, chosen.port))
    for sock in sockets:
        await sock.until(lambda peer: bool(peer.of_type(Connected)))
        assert sock.of_type(Connected)[0].echo == 1
    return sockets


def _report_block(source_ssrc: int, reporter_ssrc: int) -> RtcpPacket:
    body = reporter_ssrc.to_bytes(4, "big") + source_ssrc.to_bytes(4, "big") + bytes(20)
    return RtcpPacket(RtcpType.RECEIVER_REPORT, 1, body)


def receiver_report(source_ssrc: int, reporter_ssrc: int = VIEWER_SSRC) -> bytes:
    """K's 32-byte receiver report (one report block; the statistics do not matter here)."""
    return build_rtcp([_report_block(source_ssrc, reporter_ssrc)])


def bye(source_ssrc: int, reporter_ssrc: int = VIEWER_SSRC) -> bytes:
    """A leaving viewer's compound RTCP: its last receiver report, then BYE."""
    return rtcp_bye(reporter_ssrc, (_report_block(source_ssrc, reporter_ssrc),))
