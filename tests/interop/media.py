"""Video as the public Tend clients get it: the command exchange, the SDNK rendezvous on two
UDP sockets, then a quiet media socket, RTCP receiver reports every 2 s on the control socket,
chunk reassembly, RTP, `w1` decryption and H.264 out (PROTOCOL.md sections 4 and 9).

R (tend-stream.ts): require-video-send with the user alias to the camera's REST alias, the 438
offer, require-audio-send and its 436, start-video/audio-receive; REQ_CONN_INFO on both
channels until both CONN_INFOs, ACK_CONN_INFO, REQ_PUNCH seq 0/1 three times, RES_PUNCH
counters 7..12 once seven punches came in, ACK_PUNCH + REQ_PUNCH seq 2 on each RES_PUNCH.
K (cxs.ts, p2p.ts): require-video-send with the device id to `<id>:<mac>`, the
`accept-video-receive|` offer, REGISTER `V_<id>` on media port p and control port p+1 until
PEERS, RELAY_ACK, PUNCH + CONNECT every 100 ms until CONNECTED on both, then start-video-receive
with the same CorrelationID.

Both end with stop-video-receive (and stop-audio-receive) carrying the CorrelationID of the
matching require, and an RTCP BYE on the control socket.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import socket
import time
from collections import Counter
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, cast

from tests.interop.clients import LoginFailed, RestCamera, Signalling
from tests.interop.wire import (
    CONNECT,
    CONNECTED,
    PEERS,
    PUNCH,
    Action,
    CxFrame,
    KAssembler,
    KCamera,
    RAssembler,
    ReceptionStats,
    WireError,
    k_peers,
    k_w1_records,
    media_id,
    one_byte,
    parse_rtp,
    punch,
    r_peers,
    r_res_punch,
    register,
    relay_ack,
    relay_offer,
    rtcp_bye,
    sdnk_type,
    w1_records,
)

Endpoint = tuple[str, int]
OnH264 = Callable[[bytes, float], None]
RTCP_SECONDS = 2.0  # K's receiver-report interval
OFFER_TIMEOUT = 15.0


class UdpChannel(asyncio.DatagramProtocol):
    """One UDP socket; counts what it sends so a test can see the media socket stay quiet."""

    def __init__(self, on_message: Callable[[UdpChannel, bytes, Endpoint], None]) -> None:
        self.on_message = on_message
        self.transport: asyncio.DatagramTransport | None = None
        self.sent = 0
        self.received = 0

    @classmethod
    async def bind(
        cls, host: str, port: int, on_message: Callable[[UdpChannel, bytes, Endpoint], None]
    ) -> UdpChannel:
        loop = asyncio.get_running_loop()
        _, channel = await loop.create_datagram_endpoint(
            lambda: cls(on_message), local_addr=(host, port)
        )
        return channel

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | object, int]) -> None:
        self.received += 1
        self.on_message(self, data, (str(addr[0]), int(addr[1])))

    @property
    def port(self) -> int:
        assert self.transport is not None
        return int(self.transport.get_extra_info("sockname")[1])

    def send(self, data: bytes, to: Endpoint) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.sendto(data, to)
            self.sent += 1

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


def route_address(relay: Endpoint) -> str:
    """The local address that routes to the relay (K's localAddress: a connected UDP socket
    sends nothing). R asks for the route to 8.8.8.8; we never name a public address."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect((relay[0], 9))
        return str(probe.getsockname()[0])


@dataclass
class VideoReceiver:
    """What both clients do with media: RTP stats for the reports, H.264 records out."""

    key: bytes
    on_h264: OnH264
    stats: ReceptionStats = field(default_factory=ReceptionStats)
    own_ssrc: int = field(default_factory=lambda: secrets.randbits(32))
    rtp_packets: int = 0
    decrypt_failures: int = 0

    def rtp(self, packet: bytes, records: Callable[[bytes, bytes], list[bytes]]) -> None:
        parsed = parse_rtp(packet)
        if parsed is None:
            return
        self.rtp_packets += 1
        self.stats.observe(parsed)
        try:
            found = records(parsed.payload, self.key)
        except WireError:
            self.decrypt_failures += 1
            return
        if found:
            self.on_h264(b"".join(found), time.monotonic())

    def report(self) -> bytes | None:
        return self.stats.receiver_report(self.own_ssrc, time.monotonic())

    def goodbye(self) -> bytes:
        report = self.report()
        return (report or b"") + rtcp_bye(self.own_ssrc)


class Stream:
    """Common to both: the signalling, the two channels, the RTCP timer and the stop."""

    style = "?"

    def __init__(self, signalling: Signalling, key: str, destination: str, on_h264: OnH264) -> None:
        self.signalling = signalling
        self.destination = destination  # CX_DSTID: R the REST alias, K `<id>:<mac>`
        self.video = VideoReceiver(key.encode("ascii"), on_h264)
        self.media: UdpChannel | None = None
        self.control: UdpChannel | None = None
        self.control_peer: Endpoint | None = None
        self.relay: Endpoint | None = None
        self.sent_when_ready = 0  # media-socket sends when the punch finished
        self.sdnk_received: Counter[tuple[int, int]] = Counter()  # (channel, type) seen
        self.rtcp_sent = 0
        self._tasks: list[asyncio.Task[None]] = []
        self._stops: list[tuple[str, str]] = []  # (command, original CorrelationID)

    async def _offer(self, command: str, wanted: Callable[[CxFrame], bool]) -> tuple[str, CxFrame]:
        correlation = await self.signalling.command(self.destination, command)
        frame = await self.signalling.link.wait_for(wanted, OFFER_TIMEOUT)
        if frame.action == Action.ERROR:
            raise LoginFailed(f"{command} refused: {frame.properties.as_dict()}")
        return correlation, frame

    def _kind(self, channel: int, data: bytes) -> int | None:
        kind = sdnk_type(data)
        if kind is not None:
            self.sdnk_received[channel, kind] += 1
        return kind

    def _background(self, coroutine: Coroutine[Any, Any, None]) -> None:
        self._tasks.append(asyncio.create_task(coroutine))

    async def _receiver_reports(self) -> None:
        while True:
            await asyncio.sleep(RTCP_SECONDS)  # the client's own cadence
            report = self.video.report()
            if report is not None and self.control is not None and self.control_peer:
                self.control.send(report, self.control_peer)
                self.rtcp_sent += 1

    def quiet_since_ready(self) -> int:
        """Datagrams the media socket sent after the punch finished (R and K: none unless
        the peer punches again)."""
        return (self.media.sent if self.media else 0) - self.sent_when_ready

    def _ready(self) -> None:
        self.sent_when_ready = self.media.sent if self.media else 0
        self._background(self._receiver_reports())
        self._background(self.signalling.keep_alive_forever())
        self._background(self.signalling.drain())

    async def stop(self) -> None:
        """Stops with the original CorrelationIDs, an RTCP BYE, then the sockets close."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        with contextlib.suppress(ConnectionError, OSError):
            for command, correlation in self._stops:
                await self.signalling.command(self.destination, command, correlation)
        if self.control is not None and self.control_peer is not None:
            self.control.send(self.video.goodbye(), self.control_peer)
        for channel in (self.media, self.control):
            if channel is not None:
                channel.close()


class RStream(Stream):
    """tend-stream.ts, with the camera found over REST (its alias and p2pKey)."""

    style = "R"

    def __init__(self, signalling: Signalling, camera: RestCamera, on_h264: OnH264) -> None:
        super().__init__(signalling, camera.aes_key, camera.alias, on_h264)
        self.camera = camera
        self.assembler = RAssembler()
        self.peers: dict[int, tuple[str, str, int]] = {}  # channel -> (lan ip, public ip, port)
        self.prefer_lan = False
        self.incoming_punches = 0
        self.res_counter = 0
        self.sent_seq2: set[int] = set()
        self.audio_offer: CxFrame | None = None
        self._ids = (media_id(signalling.alias), media_id(camera.alias))

    def _target(self, channel: int) -> Endpoint:
        lan, public, port = self.peers[channel]
        return (lan if self.prefer_lan and lan else public, port)

    def _on_udp(self, channel: UdpChannel, data: bytes, source: Endpoint) -> None:
        number = 0 if channel is self.media else 1
        kind = self._kind(number, data)
        if kind == PEERS:
            found = r_peers(data)
            if found is not None and number not in self.peers:
                self.peers[number] = (found.lan_ip, found.public_ip, found.port)
        elif kind == PUNCH:
            self.incoming_punches += 1
            if number in self.peers and source[0] == self.peers[number][0]:
                self.prefer_lan = True
        elif kind == CONNECT and number in self.peers:
            echo = data[20] if len(data) > 20 else 0
            channel.send(one_byte(CONNECTED, echo), self._target(number))
            if number not in self.sent_seq2:
                channel.send(punch(2, self._ids), self._target(number))
                self.sent_seq2.add(number)
        elif kind is None and number == 0:
            for packet in self.assembler.feed(data, time.monotonic()):
                self.video.rtp(packet, w1_records)

    async def start(self) -> None:
        alias, destination = self.signalling.alias, self.destination
        video_correlation, offer = await self._offer(
            f"require-video-send|{alias}|8|", lambda f: f.action == Action.VIDEOMID
        )
        self.relay = relay_offer(offer.options)
        session = f"{alias}:{int(time.time() * 1000)}"
        audio_correlation = await self.signalling.command(
            destination, f"require-audio-send|{alias}|{session}|8|"
        )
        with contextlib.suppress(TimeoutError):  # R goes on without the 436
            self.audio_offer = await self.signalling.link.wait_for(
                lambda f: f.action == Action.CHATMID, OFFER_TIMEOUT
            )
        await self.signalling.command(destination, f"start-video-receive|{alias}|8|")
        await self.signalling.command(destination, f"start-audio-receive|{alias}|{session}|8|")
        self._stops = [
            (f"stop-video-receive|{alias}|8|", video_correlation),
            (f"stop-audio-receive|{alias}|{session}|8|", audio_correlation),
        ]
        local = route_address(self.relay)
        self.media = await UdpChannel.bind(local, 0, self._on_udp)
        self.control = await UdpChannel.bind(local, 0, self._on_udp)
        await self._rendezvous(local)
        self.control_peer = self._target(1)
        self._ready()

    async def _rendezvous(self, local: str) -> None:
        assert self.media and self.control and self.relay
        channels = ((0, self.media), (1, self.control))
        deadline = time.monotonic() + 15.0
        while len(self.peers) < 2:
            if time.monotonic() > deadline:
                raise LoginFailed(f"Camera never registered with relay ({sorted(self.peers)})")
            for number, channel in channels:
                channel.send(register(number, local, channel.port, self._ids), self.relay)
            await asyncio.sleep(0.2)  # R's pacing
            if len(self.peers) == 2:
                break
            await asyncio.sleep(0.4)
        for _ in range(4):  # the ACK, then three reinforcing ones 50 ms apart
            for number, channel in channels:
                channel.send(relay_ack(number, self._ids), self.relay)
            await asyncio.sleep(0.05)
        for sequence in (0, 1):
            for _ in range(3):
                for number, channel in channels:
                    for target in self._punch_targets(number):
                        channel.send(punch(sequence, self._ids), target)
                await asyncio.sleep(0.06)
        self._background(self._punch_responder())

    def _punch_targets(self, channel: int) -> list[Endpoint]:
        lan, public, port = self.peers[channel]
        extra = [(lan, port)] if lan and lan not in (public, "0.0.0.0") else []
        return [(public, port), *extra]

    async def _punch_responder(self) -> None:
        """R's 50 ms timer: RES_PUNCH counters 7..12 on both channels once seven punches came."""
        assert self.media and self.control
        while self.res_counter < 12:
            await asyncio.sleep(0.05)
            if self.incoming_punches >= 7:
                self.res_counter = max(self.res_counter + 1, 7)
                self.media.send(r_res_punch(self.res_counter), self._target(0))
                self.control.send(r_res_punch(self.res_counter), self._target(1))
        self.sent_when_ready = self.media.sent  # the punch is over: quiet from here on


class KStream(Stream):
    """cxs.ts getVideoConnection/startVideo and p2p.ts P2PMediaSession ('V', 'w1')."""

    style = "K"

    def __init__(self, signalling: Signalling, camera: KCamera, on_h264: OnH264) -> None:
        super().__init__(signalling, camera.aes_key, camera.destination, on_h264)
        self.camera = camera
        self.assembler = KAssembler()
        self.local = ""
        self.peer: dict[int, Endpoint] = {}
        self.connected: set[int] = set()
        self._ids = (media_id(camera.device_id), media_id(camera.device_id))

    def _on_udp(self, channel: UdpChannel, data: bytes, source: Endpoint) -> None:
        number = 0 if channel is self.media else 1
        kind = self._kind(number, data)
        if kind == PEERS and self.relay is not None:
            endpoints = k_peers(data)
            chosen = next((e for e in endpoints if e[0] == self.camera.local_ip), None)
            chosen = chosen or next((e for e in endpoints if _private(e[0], self.local)), None)
            chosen = chosen or (endpoints[-1] if endpoints else None)
            if chosen is not None:
                self.peer[number] = chosen
                channel.send(relay_ack(number, self._ids), self.relay)
        elif kind == PUNCH:
            self.peer[number] = source
            for sequence in range(3):
                channel.send(punch(sequence, self._ids), source)
        elif kind == CONNECT:
            self.peer[number] = source
            channel.send(one_byte(CONNECTED, data[20] if len(data) > 20 else 1), source)
        elif kind == CONNECTED:
            self.peer[number] = source
            self.connected.add(number)
        elif kind is None and number == 0:
            for packet in self.assembler.feed(data):
                self.video.rtp(packet, k_w1_records)
        elif kind is None:
            self.video.stats.observe_rtcp(data, time.monotonic())

    async def start(self, punch_timeout: float = 8.0) -> None:
        device = self.camera.device_id
        correlation, offer = await self._offer(
            f"require-video-send|{device}|9|", lambda f: f.body.startswith(b"accept-video-receive|")
        )
        self.relay = relay_offer(offer.options)
        self._stops = [(f"stop-video-receive|{device}|9|", correlation)]
        await self._punch(punch_timeout)
        self.control_peer = self.peer.get(1)
        await self.signalling.command(
            self.destination, f"start-video-receive|{device}|9|", correlation
        )
        await self.signalling.command(
            self.destination, f"modify-device|{device}|QTY=3+FPS=20+SIZE=0+SAVE=0|"
        )
        self._ready()

    async def _bind_pair(self) -> None:
        """K's bindPair: media on a free port p, control on p+1 (a hundred tries)."""
        for _ in range(100):
            media = await UdpChannel.bind(self.local, 0, self._on_udp)
            if media.port == 65535:
                media.close()
                continue
            try:
                control = await UdpChannel.bind(self.local, media.port + 1, self._on_udp)
            except OSError:
                media.close()
                continue
            self.media, self.control = media, control
            return
        raise LoginFailed("could not allocate consecutive RTP/RTCP ports")

    async def _punch(self, timeout: float) -> None:  # noqa: ASYNC109 - K's own punch limit
        assert self.relay is not None
        self.local = route_address(self.relay)
        await self._bind_pair()
        assert self.media and self.control
        channels = ((0, self.media), (1, self.control))
        sequence = 0
        try:
            async with asyncio.timeout(timeout):
                while len(self.connected) < 2:
                    for number, channel in channels:
                        if number not in self.peer:  # the channel byte: 1 = control (RTCP)
                            packet = register(number, self.local, channel.port, self._ids)
                            channel.send(packet, self.relay)
                        elif number not in self.connected:
                            channel.send(punch(sequence, self._ids), self.peer[number])
                            channel.send(one_byte(CONNECT, 1), self.peer[number])
                    sequence = min(sequence + 1, 2)
                    await asyncio.sleep(0.1)  # K's drive interval
        except TimeoutError:
            raise LoginFailed(
                f"Seedonk hole punch timed out (peers {self.peer}, connected {self.connected})"
            ) from None


def _private(address: str, own: str) -> bool:
    """K's isPrivate (10/8, 172.16/12, 192.168/16), and not our own address."""
    parts = [int(part) for part in address.split(".")]
    private = (
        parts[0] == 10 or (parts[0] == 172 and 16 <= parts[1] <= 31) or parts[:2] == [192, 168]
    )
    return private and address != own
