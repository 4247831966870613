"""One RTSP client connection and its session: SETUP, PLAY and the RTP it is sent.

Security consideration: a client that stalls never slows anyone. The hub's queue for it is
bounded (it skips to the next keyframe when behind); so is what waits in its TCP send buffer:
past `max_buffered` bytes its frames are dropped until the next keyframe. UDP is sent only to the
connection's own address (never to a `destination` it names), so the server is no reflector.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from fakecloud.media.hub import HubFullError, MediaHub, Subscription
from fakecloud.media.rtsp.codec import RtspError, RtspRequest, interleaved, parse_transport
from fakecloud.media.rtsp.h264 import H264RtpError
from fakecloud.media.rtsp.jpeg import JpegRtpError
from fakecloud.media.rtsp.sdp import TRACK, Track, build_sdp
from fakecloud.media.rtsp.stream import RtpStream

log = logging.getLogger(__name__)

UDP_PAIR_ATTEMPTS = 20
Reply = tuple[int, dict[str, str], bytes]


@dataclass(frozen=True, slots=True)
class RtspLimits:
    """Security consideration: how long a client may be silent, and how much may wait for it."""

    idle_timeout: float = 30.0  # seconds a connection without a session may stay silent
    session_timeout: int = 60  # seconds without a request or RTCP before a session ends
    max_buffered: int = 2 << 20  # bytes waiting for a TCP client before it skips to a keyframe


class _Rtcp(asyncio.DatagramProtocol):
    """The server's RTCP port: receiver reports count as liveness; their content is unused."""

    def __init__(self, heard: Callable[[tuple[str, int]], None]):
        self.heard = heard

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.heard((addr[0], addr[1]))


@dataclass
class UdpPorts:
    rtp: asyncio.DatagramTransport
    rtcp: asyncio.DatagramTransport

    @property
    def ports(self) -> tuple[int, int]:
        return self.rtp.get_extra_info("sockname")[1], self.rtcp.get_extra_info("sockname")[1]

    def close(self) -> None:
        self.rtp.close()
        self.rtcp.close()


async def bind_udp_pair(host: str, heard: Callable[[tuple[str, int]], None]) -> UdpPorts:
    """An even RTP port and the next one for RTCP (RFC 3550 §11), as players expect."""
    loop = asyncio.get_running_loop()
    for _ in range(UDP_PAIR_ATTEMPTS):
        rtp, _protocol = await loop.create_datagram_endpoint(
            asyncio.DatagramProtocol, local_addr=(host, 0)
        )
        port = rtp.get_extra_info("sockname")[1]
        if port % 2 == 0 and port < 0xFFFF:
            try:
                rtcp, _ = await loop.create_datagram_endpoint(
                    lambda: _Rtcp(heard), local_addr=(host, port + 1)
                )
            except OSError:
                pass
            else:
                return UdpPorts(rtp, rtcp)
        rtp.close()
    raise OSError(f"no free even/odd UDP port pair after {UDP_PAIR_ATTEMPTS} tries")


@dataclass
class RtspSession:
    id: str
    camera_id: int
    stream: RtpStream
    tcp: bool
    channel: int = 0  # interleaved RTP channel
    client_port: int = 0  # the client's UDP RTP port
    client_rtcp_port: int = 0
    sender: asyncio.Task[None] | None = None
    dropped: int = 0
    sent_frames: int = 0
    needs_keyframe: bool = True  # after a drop, frames wait for the next keyframe

    @property
    def playing(self) -> bool:
        return self.sender is not None and not self.sender.done()


class RtspConnection:
    METHODS = ("OPTIONS", "DESCRIBE", "SETUP", "PLAY", "TEARDOWN", "GET_PARAMETER")

    def __init__(
        self,
        writer: asyncio.StreamWriter,
        udp: UdpPorts | None,
        counters: Counter[str],
        limits: RtspLimits,
    ):
        self.writer = writer
        self.limits = limits
        self.udp = udp
        self.counters = counters
        peer = writer.get_extra_info("peername")
        self.client: str | None = peer[0] if peer else None
        local = writer.get_extra_info("sockname")
        self.server_address: str = local[0] if local else "0.0.0.0"
        self.tracks: dict[int, Track] = {}  # described to this client, by camera id
        self.session: RtspSession | None = None
        self._last_heard = asyncio.get_running_loop().time()

    # -- liveness ---------------------------------------------------------------------------

    def heard(self) -> None:
        self._last_heard = asyncio.get_running_loop().time()

    @property
    def patience(self) -> float:
        """Seconds left before the silence of this client ends its connection (and session)."""
        limits = self.limits
        limit = limits.idle_timeout if self.session is None else limits.session_timeout
        return limit - (asyncio.get_running_loop().time() - self._last_heard)

    def sends_to(self, address: tuple[str, int]) -> bool:
        session = self.session
        return (
            session is not None
            and not session.tcp
            and address == (self.client, session.client_rtcp_port)
        )

    # -- requests ---------------------------------------------------------------------------

    def describe(self, request: RtspRequest, camera_id: int, track: Track) -> Reply:
        sdp = build_sdp(track, secrets.randbits(62), self.server_address, f"camera {camera_id}")
        base = request.uri.rstrip("/") + "/"
        return 200, {"Content-Type": "application/sdp", "Content-Base": base}, sdp.encode()

    def setup(self, request: RtspRequest, camera_id: int, track: Track) -> Reply:
        if self.session is not None:
            if self.session.camera_id != camera_id or request.header("Session") is None:
                raise RtspError(459, "one camera, one track per session")
            return self._transport_reply(self.session)
        transport = parse_transport(request.header("Transport"))
        if not transport.tcp and (self.udp is None or self.client is None):
            raise RtspError(461, "RTP over UDP is not available; use RTP/AVP/TCP")
        session = RtspSession(
            id=secrets.token_hex(8),  # unguessable: PLAY and TEARDOWN carry only this
            camera_id=camera_id,
            stream=RtpStream(track),
            tcp=transport.tcp,
            channel=transport.channels[0],
            client_port=transport.client_ports[0],
            client_rtcp_port=transport.client_ports[1],
        )
        self.session = session
        return self._transport_reply(session)

    def _transport_reply(self, session: RtspSession) -> Reply:
        ssrc = f"ssrc={session.stream.ssrc:08X}"
        if session.tcp:
            spec = f"RTP/AVP/TCP;unicast;interleaved={session.channel}-{session.channel + 1}"
        else:
            assert self.udp is not None
            rtp, rtcp = self.udp.ports
            spec = (
                f"RTP/AVP;unicast;client_port={session.client_port}-{session.client_rtcp_port}"
                f";server_port={rtp}-{rtcp}"
            )
        return 200, {"Transport": f"{spec};{ssrc}", **self._session_header(session)}, b""

    def _session_header(self, session: RtspSession) -> dict[str, str]:
        return {"Session": f"{session.id};timeout={self.limits.session_timeout}"}

    def _own_session(self, request: RtspRequest) -> RtspSession:
        session = self.session
        given = (request.header("Session") or "").partition(";")[0].strip()
        if session is None or not secrets.compare_digest(given, session.id):
            raise RtspError(454, "no such session on this connection")
        return session

    def play(self, request: RtspRequest, hub: MediaHub) -> Reply:
        session = self._own_session(request)
        if not session.playing:
            try:
                frames = hub.subscribe(session.camera_id)
            except HubFullError as error:
                raise RtspError(503, str(error)) from None
            session.sender = asyncio.get_running_loop().create_task(
                self._send(session, frames), name=f"rtsp-{session.id}"
            )
        stream = session.stream
        info = f"url={request.uri.rstrip('/')}/{TRACK};seq={stream.first_sequence}"
        headers = {
            "Range": "npt=0.000-",
            "RTP-Info": f"{info};rtptime={stream.first_timestamp}",
            **self._session_header(session),
        }
        return 200, headers, b""

    async def teardown(self, request: RtspRequest) -> Reply:
        session = self._own_session(request)
        await self._end_session()
        return 200, {"Session": session.id}, b""

    def keepalive(self, request: RtspRequest) -> Reply:
        if request.header("Session") is None:
            return 200, {}, b""
        return 200, self._session_header(self._own_session(request)), b""

    # -- media ------------------------------------------------------------------------------

    async def _send(self, session: RtspSession, subscription: Subscription) -> None:
        """Follow the camera for as long as the session lasts, across camera reconnects."""
        loop = asyncio.get_running_loop()
        codec = session.stream.track.codec
        async with subscription as frames:
            async for frame in frames:
                if frame.codec != codec or self.writer.is_closing():
                    continue
                buffered = self.writer.transport.get_write_buffer_size()
                behind = session.tcp and buffered > self.limits.max_buffered
                if behind or (session.needs_keyframe and not frame.keyframe):
                    session.needs_keyframe = True
                    session.dropped += 1
                    self.counters["dropped_frames"] += 1
                    continue
                session.needs_keyframe = False
                try:
                    packets = session.stream.packets(frame, loop.time())
                except (H264RtpError, JpegRtpError) as error:
                    self.counters["unsendable_frames"] += 1
                    log.debug("camera %s: %s", session.camera_id, error)
                    continue
                self._deliver(session, packets)
                session.sent_frames += 1

    def _deliver(self, session: RtspSession, packets: list[bytes]) -> None:
        if session.tcp:
            self.writer.write(b"".join(interleaved(session.channel, p) for p in packets))
        elif self.udp is not None and self.client is not None:
            for packet in packets:  # UDP never waits: the kernel drops what it cannot send
                self.udp.rtp.sendto(packet, (self.client, session.client_port))

    def write(self, data: bytes) -> None:
        if not self.writer.is_closing():
            self.writer.write(data)

    async def _end_session(self) -> None:
        session, self.session = self.session, None
        if session is not None and session.sender is not None:
            session.sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await session.sender

    async def close(self) -> None:
        await self._end_session()
        self.writer.close()
        with contextlib.suppress(ConnectionError):
            await self.writer.wait_closed()
