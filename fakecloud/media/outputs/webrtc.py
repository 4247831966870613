"""WebRTC for browsers (WHEP): one aiortc peer connection per viewer, sending the camera's
H.264 as it came, packetised into RTP payloads once per frame for all of the camera's viewers
(webrtc_packets.py).

LAN only: no STUN or TURN server, and the only ICE candidate is a host candidate on the
announce address (aioice would otherwise bind and announce every interface of the host)."""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections import Counter
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import Any

from aiortc import (
    RTCConfiguration,
    RTCIceGatherer,
    RTCPeerConnection,
    RTCSessionDescription,
)
from aiortc.exceptions import InternalError, InvalidAccessError, OperationError
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from fakecloud.media.frames import MediaFrame
from fakecloud.media.hub import MediaHub
from fakecloud.media.outputs.muxing import MonotonicClock
from fakecloud.media.outputs.streaming import StreamLimits, UnsupportedCodecError, live_batches
from fakecloud.media.outputs.webrtc_offer import OfferError, h264_preferences, profile_level_id
from fakecloud.media.outputs.webrtc_packets import (
    CameraPayloads,
    PackedFrame,
    SharedPayloads,
    install_packed_encoder,
)

log = logging.getLogger(__name__)

RTP_CLOCK = 90_000  # the video clock of RTP (RFC 6184)


class PeerLimitError(Exception):
    """Too many WebRTC viewers, in all or for this camera (HTTP 503)."""


class NoCandidateError(Exception):
    """No UDP socket could be bound on the announce address (HTTP 503)."""


@dataclass(frozen=True, slots=True)
class WebRtcLimits:
    """Security consideration: each peer costs sockets, DTLS state and a hub subscription, so
    their number is capped, and one that never completes ICE and DTLS is closed."""

    address: str = "127.0.0.1"  # the announce address: the ICE host candidate
    max_peers: int = 32
    max_peers_per_camera: int = 8
    connect_timeout: float = 15.0  # seconds from the answer to a connected peer


def from_latest_keyframe(batch: list[MediaFrame]) -> list[MediaFrame]:
    """The frames worth sending of what queued up: from the last keyframe on. Older frames
    would only add delay, and the decoder restarts cleanly at a keyframe."""
    for index in range(len(batch) - 1, 0, -1):
        if batch[index].keyframe:
            return batch[index:]
    return batch


class PassthroughTrack(MediaStreamTrack):
    """A video track whose `recv()` returns the camera's access units as `PackedFrame`s: RTP
    payloads (RFC 6184) shared with the camera's other viewers, never decoded or encoded. Its
    sender needs `install_packed_encoder`."""

    kind = "video"

    def __init__(
        self,
        batches: AsyncGenerator[list[MediaFrame], None],
        first: list[MediaFrame],
        payloads: CameraPayloads,
    ) -> None:
        super().__init__()
        self._batches = batches
        self._payloads = payloads
        self._pending = from_latest_keyframe(first)
        self._clock = MonotonicClock(RTP_CLOCK)
        self.sent = 0
        self.skipped = 0

    async def recv(self) -> PackedFrame:  # type: ignore[override]  # aiortc's: Frame | Packet
        if not self._pending:
            try:
                batch = await anext(self._batches)
            except StopAsyncIteration:
                self.stop()  # the camera stalled or the stream's time is up: "ended"
                raise MediaStreamError from None
            self._pending = from_latest_keyframe(batch)
            self.skipped += len(batch) - len(self._pending)
        frame = self._pending.pop(0)
        self.sent += 1
        return PackedFrame(self._payloads.payloads(frame), self._clock.ticks(frame.timestamp))

    async def close(self) -> None:
        """Release the hub subscription (after the sender stopped reading)."""
        self.stop()
        await self._batches.aclose()


async def gather_on(peer: RTCPeerConnection, address: str) -> None:
    """Gather the one host candidate on `address` for every transport of `peer`, before
    setLocalDescription (whose own gathering then finds the work done).

    Why by hand: aioice (aiortc's ICE) binds a socket on every address of every interface,
    except loopback, and has no option to choose one. This fills in its candidate list the way
    its own gathering does, with the address we choose. Raises NoCandidateError."""
    gatherers: list[RTCIceGatherer] = [
        transceiver.sender.transport.transport.iceGatherer for transceiver in peer.getTransceivers()
    ]
    if peer.sctp is not None:
        gatherers.append(peer.sctp.transport.transport.iceGatherer)
    for gatherer in dict.fromkeys(gatherers):
        connection = gatherer._connection  # aioice.Connection (pinned versions: pyproject)
        if connection._local_candidates_start:
            continue
        connection._local_candidates_start = True
        for component in sorted(connection._components):
            candidates = await connection.get_component_candidates(component, [address])
            connection._local_candidates += candidates
        connection._local_candidates_end = True
        if not connection._local_candidates:
            raise NoCandidateError(f"cannot open a WebRTC UDP port on {address}")


def lan_peer() -> RTCPeerConnection:
    """A peer connection without STUN or TURN servers: on the LAN, host candidates suffice."""
    return RTCPeerConnection(RTCConfiguration(iceServers=[]))


async def negotiate(
    peer: RTCPeerConnection,
    track: MediaStreamTrack,
    offer_sdp: str,
    *,
    camera_profile: str | None,
    address: str,
) -> str:
    """The SDP answer of `peer`, sending `track` as H.264 of the camera's profile, to a
    browser's offer. Raises OfferError (aiortc refused the offer) or NoCandidateError."""
    transceiver = peer.addTransceiver(track, direction="sendonly")
    install_packed_encoder(transceiver.sender)
    transceiver.setCodecPreferences(h264_preferences(camera_profile))
    try:
        await peer.setRemoteDescription(RTCSessionDescription(offer_sdp, "offer"))
    except (ValueError, InternalError, InvalidAccessError, OperationError) as error:
        raise OfferError(f"cannot answer this offer: {error}") from None
    await gather_on(peer, address)
    await peer.setLocalDescription(await peer.createAnswer())
    return str(peer.localDescription.sdp)


@dataclass(eq=False)
class WebRtcSession:
    """One browser watching one camera."""

    id: str
    camera_id: int
    peer: RTCPeerConnection | None = None
    track: PassthroughTrack | None = None
    answer: str = ""
    connected: bool = False
    deadline: asyncio.TimerHandle | None = None
    closing: bool = False


class WebRtcPeers:
    """Every WebRTC viewer: answers offers, ends sessions, closes unconnected peers."""

    def __init__(self, hub: MediaHub, limits: StreamLimits, webrtc: WebRtcLimits):
        self.hub = hub
        self.limits = limits
        self.webrtc = webrtc
        self._sessions: dict[str, WebRtcSession] = {}
        self._closing: set[asyncio.Task[None]] = set()
        self._payloads = SharedPayloads()
        self.refused = 0
        self.never_connected = 0
        # Frames of sessions already closed (status adds the open sessions' own).
        self.sent = 0
        self.skipped = 0

    def session(self, camera_id: int, session_id: str) -> WebRtcSession | None:
        session = self._sessions.get(session_id)
        return session if session is not None and session.camera_id == camera_id else None

    async def answer(self, camera_id: int, offer_sdp: str) -> WebRtcSession:
        """A session sending `camera_id`'s video, with the SDP answer to `offer_sdp`.

        Raises PeerLimitError, NoVideoError, HubFullError, UnsupportedCodecError, OfferError,
        NoCandidateError."""
        self._reserve(camera_id)
        session = WebRtcSession(secrets.token_urlsafe(16), camera_id)
        self._sessions[session.id] = session
        try:
            await self._negotiate(session, offer_sdp)
        except BaseException:
            await self._close(session)
            raise
        loop = asyncio.get_running_loop()
        session.deadline = loop.call_later(
            self.webrtc.connect_timeout, self._unless_connected, session
        )
        return session

    def _reserve(self, camera_id: int) -> None:
        watching = sum(1 for s in self._sessions.values() if s.camera_id == camera_id)
        if len(self._sessions) >= self.webrtc.max_peers:
            self.refused += 1
            raise PeerLimitError(f"fakecloud already has {self.webrtc.max_peers} WebRTC viewers")
        if watching >= self.webrtc.max_peers_per_camera:
            self.refused += 1
            raise PeerLimitError(
                f"camera {camera_id} already has {self.webrtc.max_peers_per_camera} WebRTC viewers"
            )

    async def _negotiate(self, session: WebRtcSession, offer_sdp: str) -> None:
        batches = live_batches(self.hub, session.camera_id, self.limits)
        try:
            first = await anext(batches)
        except BaseException:
            await batches.aclose()
            raise
        session.track = PassthroughTrack(batches, first, self._payloads.of(session.camera_id))
        if first[0].codec != "h264":
            raise UnsupportedCodecError(
                "this camera sends JPEG; WebRTC here carries only H.264, passed through "
                "without re-encoding (use the MJPEG stream)"
            )
        peer = session.peer = lan_peer()
        peer.on("connectionstatechange", lambda: self._state_changed(session))
        session.answer = await negotiate(
            peer,
            session.track,
            offer_sdp,
            camera_profile=profile_level_id(first[0].data),
            address=self.webrtc.address,
        )
        session.track.on("ended", lambda: self._end_soon(session))

    def _state_changed(self, session: WebRtcSession) -> None:
        state = session.peer.connectionState if session.peer else "closed"
        if state == "connected":
            session.connected = True
        elif state in ("failed", "closed"):
            self._end_soon(session)

    def _unless_connected(self, session: WebRtcSession) -> None:
        if not session.connected:
            self.never_connected += 1
            log.info("WebRTC viewer of camera %s never connected; closed", session.camera_id)
            self._end_soon(session)

    def _end_soon(self, session: WebRtcSession) -> None:
        """Close from a callback (aiortc's events and timers are not coroutines)."""
        if not session.closing and session.id in self._sessions:
            session.closing = True
            task = asyncio.get_running_loop().create_task(self._close(session))
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)

    async def end(self, camera_id: int, session_id: str) -> bool:
        """Close one session (the WHEP DELETE); False when there is no such session."""
        session = self.session(camera_id, session_id)
        if session is None:
            return False
        await self._close(session)
        return True

    async def _close(self, session: WebRtcSession) -> None:
        if self._sessions.pop(session.id, None) is None:
            return
        if session.deadline is not None:
            session.deadline.cancel()
        if session.peer is not None:
            await session.peer.close()  # stops the sender, so nothing reads the track any more
        if session.track is not None:
            self.sent += session.track.sent
            self.skipped += session.track.skipped
            await session.track.close()
        self._payloads.keep_only(s.camera_id for s in self._sessions.values())

    async def stop(self) -> None:
        closing = [self._close(session) for session in list(self._sessions.values())]
        await asyncio.gather(*closing, *self._closing)

    def status(self) -> dict[str, Any]:
        sessions = list(self._sessions.values())
        return {
            "peers": len(sessions),
            "connected": sum(session.connected for session in sessions),
            "cameras": dict(Counter(str(session.camera_id) for session in sessions)),
            "frames_sent": self.sent + sum(s.track.sent for s in sessions if s.track),
            "frames_skipped": self.skipped + sum(s.track.skipped for s in sessions if s.track),
            "frames_packetised": self._payloads.packetised(),
            "refused": self.refused,
            "never_connected": self.never_connected,
        }
