"""The viewers of bench/streams: an RTSP player of fakecloud's RTSP server, an aiortc WebRTC
viewer, and the RTSP receiver ffmpeg's relay pushes into (the reference). Each notes when every
frame's last RTP packet arrives and maps the frame to the moment the simulated camera sent it.

Frames are matched to send times without decoding every picture: the first picture a viewer can
decode gives its test-pattern counter and RTP timestamp; later frames' counters follow from their
RTP timestamps (90 kHz, one camera frame = 90000 / fps), which every path here carries over from
the camera's own. VideoSender.sent_at turns a counter into the send time (CLOCK_MONOTONIC, the
loop clock of this process, where the cameras run).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

import av
import httpx
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.codecs.h264 import H264PayloadDescriptor
from aiortc.mediastreams import MediaStreamError

from fakecloud.media.outputs.webrtc import gather_on
from fakecloud.media.rtsp.access import camera_name
from fakecloud.media.rtsp.codec import Interleaved, RtspError, RtspReader, build_response
from fakecloud.media.testpattern import read_counter
from fakecloud.net.rtp import VIDEO_CLOCK_RATE, parse_rtp
from fakecloud.sim.video import LOOP_SECONDS, VideoSender

HOST = "127.0.0.1"
EXCHANGE_TIMEOUT = 20.0
RTP_WRAP = 1 << 32


class FrameTimes:
    """One viewer's frames: (arrival, milliseconds since the camera sent the frame)."""

    def __init__(self, sender: Callable[[], VideoSender | None], fps: int) -> None:
        self.sender = sender
        self.ticks_per_frame = VIDEO_CLOCK_RATE / fps
        self.loop_frames = LOOP_SECONDS * fps
        self.delays: list[tuple[float, float]] = []
        self._decoder = av.CodecContext.create("h264", "r")
        self._anchor: tuple[int, int] | None = None  # (RTP timestamp, counter shown)
        self._timestamp: int | None = None
        self._access_unit = bytearray()

    def packet(self, timestamp: int, marker: bool, payload: bytes, arrived: float) -> None:
        if timestamp != self._timestamp:  # a new frame (its first packets may have been lost)
            self._timestamp, self._access_unit = timestamp, bytearray()
        with contextlib.suppress(ValueError):
            self._access_unit += H264PayloadDescriptor.parse(payload)[1]
        if marker:
            self._frame(timestamp, bytes(self._access_unit), arrived)
            self._access_unit = bytearray()

    def _frame(self, timestamp: int, access_unit: bytes, arrived: float) -> None:
        if self._anchor is None:
            packet = av.Packet(access_unit)
            packet.pts = timestamp
            with contextlib.suppress(av.error.InvalidDataError):
                for picture in self._decoder.decode(packet):
                    counter = read_counter(picture.to_ndarray(format="gray"))
                    self._anchor = (int(picture.pts or timestamp), counter)
            if self._anchor is None:
                return
        origin, counter = self._anchor
        frames = round(((timestamp - origin) % RTP_WRAP) / self.ticks_per_frame)
        sender = self.sender()
        sent = sender.sent_at((counter + frames) % self.loop_frames, arrived) if sender else None
        if sent is not None:
            self.delays.append((arrived, (arrived - sent) * 1000))


async def _exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: str
) -> dict[str, str]:
    """Send one RTSP request; the response's headers (lower-case names), body skipped."""
    writer.write(request.encode())
    async with asyncio.timeout(EXCHANGE_TIMEOUT):
        head = (await reader.readuntil(b"\r\n\r\n")).decode()
        status, *lines = head.strip().split("\r\n")
        headers = {name.strip().lower(): value.strip() for name, _, value in
                   (line.partition(":") for line in lines)}  # fmt: skip
        await reader.readexactly(int(headers.get("content-length", "0")))
    if " 200 " not in f"{status} ":
        raise RuntimeError(f"{request.split()[0]}: {status}")
    return headers


async def rtsp_player(port: int, camera_id: int, times: FrameTimes) -> None:
    """Watch one camera over RTSP, RTP interleaved on TCP, as an NVR does, until cancelled."""
    reader, writer = await asyncio.open_connection(HOST, port)
    url = f"rtsp://{HOST}:{port}/{camera_id}"
    try:
        await _exchange(reader, writer, f"DESCRIBE {url} RTSP/1.0\r\nCSeq: 1\r\n\r\n")
        transport = "RTP/AVP/TCP;unicast;interleaved=0-1"
        setup = f"SETUP {url}/trackID=0 RTSP/1.0\r\nCSeq: 2\r\nTransport: {transport}\r\n\r\n"
        session = (await _exchange(reader, writer, setup))["session"].partition(";")[0]
        play = f"PLAY {url} RTSP/1.0\r\nCSeq: 3\r\nSession: {session}\r\n\r\n"
        await _exchange(reader, writer, play)
        loop = asyncio.get_running_loop()
        while True:
            mark = await reader.readexactly(4)
            data = await reader.readexactly(int.from_bytes(mark[2:4], "big"))
            if mark[0] == 0x24 and mark[1] == 0:
                rtp = parse_rtp(data)
                times.packet(rtp.timestamp, rtp.marker, rtp.payload, loop.time())
    finally:
        writer.close()


class WebRtcViewer:
    """One WHEP viewer (aiortc, as the browser's side) of one camera."""

    def __init__(self, times: FrameTimes) -> None:
        self.times = times
        self.peer = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.peer.addTransceiver("video", direction="recvonly")
        self._drain: asyncio.Task[None] | None = None

    async def start(self, client: httpx.AsyncClient, camera_id: int) -> None:
        await gather_on(self.peer, HOST)  # loopback only
        await self.peer.setLocalDescription(await self.peer.createOffer())
        response = await client.post(
            f"/api/cameras/{camera_id}/webrtc",
            content=self.peer.localDescription.sdp,
            headers={"content-type": "application/sdp"},
        )
        if response.status_code != 201:
            raise RuntimeError(f"WHEP offer: {response.status_code} {response.text[:200]}")
        await self.peer.setRemoteDescription(RTCSessionDescription(response.text, "answer"))
        receiver = next(t for t in self.peer.getTransceivers() if t.kind == "video").receiver
        handle = receiver._handle_rtp_packet
        loop = asyncio.get_running_loop()

        async def noted(packet: object, arrival_time_ms: int) -> None:
            self.times.packet(packet.timestamp, packet.marker, packet.payload, loop.time())  # type: ignore[attr-defined]
            await handle(packet, arrival_time_ms)

        receiver._handle_rtp_packet = noted  # a probe on the bench's own client
        self._drain = asyncio.create_task(self._take_pictures(receiver.track))

    @staticmethod
    async def _take_pictures(track: object) -> None:
        """aiortc decodes every frame into the track's queue: take them, or it grows."""
        with contextlib.suppress(MediaStreamError):
            while True:
                await track.recv()  # type: ignore[attr-defined]

    async def close(self) -> None:
        if self._drain is not None:
            self._drain.cancel()
        await self.peer.close()


class PushReceiver:
    """An RTSP server that takes what `ffmpeg ... -f rtsp` pushes (ANNOUNCE, SETUP, RECORD, RTP
    interleaved on TCP): the reference's end, where its frames' arrival is noted."""

    def __init__(self, times_for: Callable[[int], FrameTimes | None]) -> None:
        self.times_for = times_for
        self.server: asyncio.Server | None = None

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._serve, HOST, 0)
        return int(self.server.sockets[0].getsockname()[1])

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        parser, times = RtspReader(), None
        loop = asyncio.get_running_loop()
        try:
            while data := await reader.read(1 << 16):
                for message in parser.feed(data):
                    if isinstance(message, Interleaved):
                        if message.channel == 0 and times is not None:
                            rtp = parse_rtp(message.data)
                            times.packet(rtp.timestamp, rtp.marker, rtp.payload, loop.time())
                        continue
                    if message.method == "ANNOUNCE":
                        name = camera_name(message.uri)
                        times = self.times_for(int(name)) if name.isdigit() else None
                    headers = {"Session": "1"}
                    if message.method == "OPTIONS":
                        headers["Public"] = "OPTIONS, ANNOUNCE, SETUP, RECORD, TEARDOWN"
                    elif message.method == "SETUP":
                        headers["Transport"] = message.header("Transport") or ""
                    writer.write(build_response(message.cseq, 200, headers))
        except (RtspError, ConnectionError):
            pass
        finally:
            writer.close()

    def close(self) -> None:
        if self.server is not None:
            self.server.close()
