"""WebRTC viewers with a real WebRTC client: aiortc as the browser's side, on loopback, POSTing
its offer to the real HTTP server and decoding the test pattern's counter from what arrives."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import av
import httpx
import pytest
from aiortc import (
    RTCConfiguration,
    RTCPeerConnection,
    RTCRtpReceiver,
    RTCSessionDescription,
)
from aiortc.mediastreams import MediaStreamTrack
from aiortc.rtp import RtpPacket

from fakecloud.media.frames import MediaFrame
from fakecloud.media.outputs.webrtc import WebRtcLimits, from_latest_keyframe, gather_on
from fakecloud.media.testpattern import read_counter
from tests.media.outputs.conftest import (
    H264_CAMERA,
    JPEG_CAMERA,
    SILENT_CAMERA,
    UNKNOWN_CAMERA,
    MediaServer,
    running_media_server,
)

WITHIN = 20.0  # bound on every wait
LOOPBACK = "127.0.0.1"


@dataclass(frozen=True, slots=True)
class Received:
    counter: int
    arrived_at: float  # loop time the frame's last RTP packet (marker bit) reached the client
    decoded_at: float  # loop time aiortc handed the frame over, decoded


def nal_type(payload: bytes) -> int:
    """The type of the (first) NAL unit an RTP payload carries (RFC 6184 section 5.2)."""
    kind = payload[0] & 0x1F
    if kind == 24:  # STAP-A: the first aggregated unit, after its 16-bit size
        return payload[3] & 0x1F
    if kind == 28:  # FU-A: the fragmented unit's type is in the FU header
        return payload[1] & 0x1F
    return kind


class ArrivalProbe:
    """Notes when each frame's last RTP packet arrives at the client's receiver: a probe on the
    test's own client (wrapping aiortc's per-packet handler), so delays can be split into what
    fakecloud adds and what the receiver's jitter buffer and decoder add."""

    def __init__(self, receiver: RTCRtpReceiver) -> None:
        self.arrivals: dict[int, float] = {}
        self.first_nal_types: list[int] = []  # of the first frame that arrived, in order
        self._first_timestamp: int | None = None
        self._origin: int | None = None
        handle = receiver._handle_rtp_packet

        async def noted(packet: RtpPacket, arrival_time_ms: int) -> None:
            if self._first_timestamp in (None, packet.timestamp):
                self._first_timestamp = packet.timestamp
                self.first_nal_types.append(nal_type(packet.payload))
            if packet.marker:
                # Decoded frames' pts count from the first frame's RTP timestamp (aiortc's own
                # TimestampMapper), so arrivals are kept the same way.
                if self._origin is None:
                    self._origin = packet.timestamp
                pts = (packet.timestamp - self._origin) % 2**32
                self.arrivals.setdefault(pts, asyncio.get_running_loop().time())
            await handle(packet, arrival_time_ms)

        receiver._handle_rtp_packet = noted  # type: ignore[method-assign]

    def take(self, pts: int) -> float:
        return self.arrivals.pop(pts)


@dataclass
class Viewer:
    """The browser's side of one WHEP session."""

    peer: RTCPeerConnection
    track: MediaStreamTrack
    probe: ArrivalProbe
    location: str
    answer: str

    async def receive(self) -> Received:
        """The next decoded frame's counter, and when it arrived and was decoded."""
        async with asyncio.timeout(WITHIN):
            frame = await self.track.recv()
        decoded_at = asyncio.get_running_loop().time()
        assert isinstance(frame, av.VideoFrame) and frame.pts is not None
        counter = read_counter(frame.to_ndarray(format="gray"))
        return Received(counter, self.probe.take(frame.pts), decoded_at)

    async def counters(self, count: int) -> list[int]:
        return [(await self.receive()).counter for _ in range(count)]


def offering_peer(*, audio: bool = False) -> RTCPeerConnection:
    """A browser's WHEP peer: receive-only video (and audio, which fakecloud has none of)."""
    peer = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    if audio:
        peer.addTransceiver("audio", direction="recvonly")
    peer.addTransceiver("video", direction="recvonly")
    return peer


async def make_offer(peer: RTCPeerConnection) -> str:
    # Only loopback: tests send nothing to other addresses (the helper is the server's own).
    await gather_on(peer, LOOPBACK)
    await peer.setLocalDescription(await peer.createOffer())
    return str(peer.localDescription.sdp)


@contextlib.asynccontextmanager
async def watching(
    client: httpx.AsyncClient, camera_id: int, *, as_json: bool = False, audio: bool = False
) -> AsyncIterator[Viewer]:
    """A connected WHEP viewer of `camera_id`; closed (peer and session) on the way out."""
    peer = offering_peer(audio=audio)
    try:
        offer = await make_offer(peer)
        url = f"/api/cameras/{camera_id}/webrtc"
        if as_json:
            response = await client.post(url, json={"type": "offer", "sdp": offer})
        else:
            response = await client.post(
                url, content=offer, headers={"content-type": "application/sdp"}
            )
        assert response.status_code == 201, response.text
        answer = response.json()["sdp"] if as_json else response.text
        await peer.setRemoteDescription(RTCSessionDescription(answer, "answer"))
        receiver = next(t for t in peer.getTransceivers() if t.kind == "video").receiver
        probe = ArrivalProbe(receiver)
        yield Viewer(peer, receiver.track, probe, response.headers["location"], answer)
    finally:
        await peer.close()


@pytest.fixture
async def media_server() -> AsyncIterator[MediaServer]:
    async with running_media_server() as server:
        yield server


@pytest.fixture
async def client(media_server: MediaServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=media_server.base_url, timeout=WITHIN) as http:
        yield http


def webrtc_status(server: MediaServer) -> dict[str, Any]:
    status: dict[str, Any] = server.outputs.status()["webrtc"]
    return status


async def test_a_viewer_decodes_increasing_counters(
    media_server: MediaServer, client: httpx.AsyncClient
) -> None:
    async with watching(client, H264_CAMERA) as viewer:
        counters = await viewer.counters(30)
        assert counters == sorted(counters) and counters[-1] > counters[0]
        # H.264 only, passed through; the only candidate is the announce address (loopback).
        assert "H264/90000" in viewer.answer and "VP8" not in viewer.answer
        candidates = [line for line in viewer.answer.splitlines() if line.startswith("a=candidate")]
        assert candidates and all(f" {LOOPBACK} " in line for line in candidates)
        status = webrtc_status(media_server)
        assert status["peers"] == 1 and status["connected"] == 1
        assert status["cameras"] == {str(H264_CAMERA): 1}
        assert media_server.hub.status()["cameras"][str(H264_CAMERA)]["viewers"] == 1
        # DELETE ends the session: the peer is closed and the hub subscription released.
        response = await client.delete(viewer.location)
        assert response.status_code == 204
        async with asyncio.timeout(WITHIN):
            await media_server.released.get()
        assert webrtc_status(media_server)["peers"] == 0
        assert (await client.delete(viewer.location)).status_code == 404


async def test_json_offers_with_audio_get_json_answers(client: httpx.AsyncClient) -> None:
    async with watching(client, H264_CAMERA, as_json=True, audio=True) as viewer:
        assert len(await viewer.counters(3)) == 3


async def test_viewers_of_one_camera_share_its_packets(
    media_server: MediaServer, client: httpx.AsyncClient
) -> None:
    camera = media_server.cameras[H264_CAMERA]
    async with contextlib.AsyncExitStack() as stack:
        viewers = [await stack.enter_async_context(watching(client, H264_CAMERA)) for _ in "abc"]
        for counters in await asyncio.gather(*(viewer.counters(10) for viewer in viewers)):
            assert counters == sorted(counters) and counters[-1] > counters[0]
        # One joining mid-GOP starts on a keyframe (SPS and PPS, then IDR slices) and decodes.
        await camera.wait_for_frames(camera.pattern.gop // 2)
        late = await stack.enter_async_context(watching(client, H264_CAMERA))
        counters = await late.counters(10)
        assert counters == sorted(counters) and counters[-1] > counters[0]
        for viewer in [*viewers, late]:
            types = viewer.probe.first_nal_types
            assert types[0] == 7 and 5 in types and 1 not in types, types
        status = webrtc_status(media_server)
        assert status["cameras"] == {str(H264_CAMERA): 4}
        # Each frame was split into RTP payloads once for all four, not once per viewer.
        assert status["frames_sent"] > 2 * status["frames_packetised"] > 0


async def test_refusals(client: httpx.AsyncClient) -> None:
    url = f"/api/cameras/{H264_CAMERA}/webrtc"
    sdp = {"content-type": "application/sdp"}
    response = await client.post(url, content=b"hello", headers=sdp)
    assert response.status_code == 400 and "v=0" in response.json()["detail"]
    response = await client.post(url, content=b"v=0\r\n", headers={"content-type": "text/plain"})
    assert response.status_code == 415
    response = await client.post(url, content=b"v=0" + b" " * 40_000, headers=sdp)
    assert response.status_code == 413
    response = await client.post(f"/api/cameras/{UNKNOWN_CAMERA}/webrtc", content=b"", headers=sdp)
    assert response.status_code == 404
    offer = await make_offer(peer := offering_peer())
    await peer.close()
    response = await client.post(f"/api/cameras/{JPEG_CAMERA}/webrtc", content=offer, headers=sdp)
    assert response.status_code == 409 and "JPEG" in response.json()["detail"]
    # A session id of another camera, or of none, is not found.
    assert (await client.delete(f"/api/cameras/{H264_CAMERA}/webrtc/nope")).status_code == 404


async def test_an_offer_without_h264_is_400(
    media_server: MediaServer, client: httpx.AsyncClient
) -> None:
    peer = offering_peer()
    codecs = RTCRtpReceiver.getCapabilities("video").codecs
    peer.getTransceivers()[0].setCodecPreferences([c for c in codecs if c.mimeType == "video/VP8"])
    offer = await make_offer(peer)
    await peer.close()
    response = await client.post(
        f"/api/cameras/{H264_CAMERA}/webrtc",
        content=offer,
        headers={"content-type": "application/sdp"},
    )
    assert response.status_code == 400 and "no H.264" in response.json()["detail"]
    assert webrtc_status(media_server)["peers"] == 0


async def test_a_silent_camera_is_504() -> None:
    async with (
        running_media_server(video_timeout=0.3) as server,
        httpx.AsyncClient(base_url=server.base_url, timeout=WITHIN) as client,
    ):
        offer = await make_offer(peer := offering_peer())
        await peer.close()
        response = await client.post(
            f"/api/cameras/{SILENT_CAMERA}/webrtc",
            content=offer,
            headers={"content-type": "application/sdp"},
        )
        assert response.status_code == 504
        assert webrtc_status(server)["peers"] == 0


@pytest.mark.parametrize(
    ("max_peers", "per_camera", "refusal"),
    [
        (2, 1, f"camera {H264_CAMERA} already has 1 WebRTC viewers"),
        (1, 8, "fakecloud already has 1 WebRTC viewers"),
    ],
)
async def test_limits_and_unconnected_peers_are_closed(
    max_peers: int, per_camera: int, refusal: str
) -> None:
    limits = WebRtcLimits(LOOPBACK, max_peers, per_camera, connect_timeout=0.5)
    async with (
        running_media_server(webrtc=limits) as server,
        httpx.AsyncClient(base_url=server.base_url, timeout=WITHIN) as client,
    ):
        sdp = {"content-type": "application/sdp"}
        url = f"/api/cameras/{H264_CAMERA}/webrtc"
        # An offer whose peer never connects (its answer is never applied).
        silent, other = offering_peer(), offering_peer()
        try:
            response = await client.post(url, content=await make_offer(silent), headers=sdp)
            assert response.status_code == 201
            refused = await client.post(url, content=await make_offer(other), headers=sdp)
            assert refused.status_code == 503 and refused.json()["detail"] == refusal
            # After the connect deadline the first is closed, and its slot is free again.
            async with asyncio.timeout(WITHIN):
                await server.released.get()
        finally:
            await silent.close()
            await other.close()
        status = webrtc_status(server)
        assert status["peers"] == 0 and status["never_connected"] == 1
        assert status["refused"] == 1
        async with watching(client, H264_CAMERA) as viewer:
            assert len(await viewer.counters(3)) == 3


async def test_an_announce_address_not_of_this_host_is_503() -> None:
    # A documentation address (RFC 5737): binding it fails, and nothing is sent anywhere.
    limits = WebRtcLimits("192.0.2.1")
    async with (
        running_media_server(webrtc=limits) as server,
        httpx.AsyncClient(base_url=server.base_url, timeout=WITHIN) as client,
    ):
        offer = await make_offer(peer := offering_peer())
        await peer.close()
        response = await client.post(
            f"/api/cameras/{H264_CAMERA}/webrtc",
            content=offer,
            headers={"content-type": "application/sdp"},
        )
        assert response.status_code == 503
        assert response.json()["detail"] == "cannot open a WebRTC UDP port on 192.0.2.1"
        assert webrtc_status(server)["peers"] == 0


def frame(keyframe: bool, timestamp: float) -> MediaFrame:
    return MediaFrame("h264", b"\x00\x00\x01\x65", timestamp, keyframe)


def test_a_backlog_is_skipped_to_its_latest_keyframe() -> None:
    backlog = [frame(True, 0), frame(False, 1), frame(True, 2), frame(False, 3)]
    assert from_latest_keyframe(backlog) == backlog[2:]
    assert from_latest_keyframe(backlog[:2]) == backlog[:2]
    assert from_latest_keyframe(backlog[1:2]) == backlog[1:2]


async def test_a_camera_that_stops_ends_the_session() -> None:
    async with (
        running_media_server(idle_timeout=0.5) as server,
        httpx.AsyncClient(base_url=server.base_url, timeout=WITHIN) as client,
        watching(client, H264_CAMERA) as viewer,
    ):
        assert len(await viewer.counters(3)) == 3
        await server.cameras[H264_CAMERA].stop()  # the camera goes silent
        # The stalled stream ends the session, which releases the hub's subscription.
        async with asyncio.timeout(WITHIN):
            await server.released.get()
        assert webrtc_status(server)["peers"] == 0
        assert (await client.delete(viewer.location)).status_code == 404
