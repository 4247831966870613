"""RTP payloads for WebRTC viewers, packetised once per camera frame and shared by every viewer
of that camera.

aiortc's sender packs an `av.Packet` it gets from a track itself: it copies the access unit,
splits it into NAL units and packetises them (RFC 6184) for every viewer, so N viewers of one
camera do the same work N times. Here the track hands the sender a `PackedFrame` (payloads
already made, shared) and a `PackedFrameEncoder` installed on the sender passes them on.
Only the RTP header, the timestamp and the SRTP encryption remain per viewer.

The encoder sits in a private attribute of aiortc's RTCRtpSender (aiortc has no public way to
supply one), so pyproject.toml pins aiortc's exact version and the tests check the hook."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from aiortc import RTCRtpSender
from aiortc.codecs.base import Encoder

from fakecloud.media.frames import MediaFrame
from fakecloud.media.rtsp.h264 import H264Payloader, H264RtpError

# Where RTCRtpSender keeps its encoder (name-mangled `self.__encoder`, aiortc 1.16.0): its
# `_next_encoded_frame` makes one only while this is None, and calls its `pack()` for anything
# a track returns that is not a decoded frame.
SENDER_ENCODER = "_RTCRtpSender__encoder"
# Frames of one camera whose payloads are kept: a viewer lags at most the hub's queue (64 by
# default) behind the newest frame; older ones are packetised again, which is only slower.
KEPT_FRAMES = 64


@dataclass(frozen=True, slots=True)
class PackedFrame:
    """One access unit for one viewer: the camera's shared payloads, the viewer's timestamp."""

    payloads: list[bytes]
    timestamp: int  # RTP ticks (90 kHz) on this viewer's own clock


class PackedFrameEncoder(Encoder):
    """The sender's encoder for a track of `PackedFrame`s: the packing is already done."""

    def encode(self, frame: Any, force_keyframe: bool = False) -> tuple[list[bytes], int]:
        raise TypeError("a passthrough track sends no decoded frames, so nothing is encoded")

    def pack(self, packet: Any) -> tuple[list[bytes], int]:
        assert isinstance(packet, PackedFrame)
        return packet.payloads, packet.timestamp


def install_packed_encoder(sender: RTCRtpSender) -> None:
    """Make `sender` send the `PackedFrame`s its track returns as they are. Must be called
    before the sender starts (then its encoder is still None). Raises RuntimeError when the
    installed aiortc keeps its encoder elsewhere, rather than sending nothing."""
    if getattr(sender, SENDER_ENCODER, "missing") is not None:
        raise RuntimeError(
            f"aiortc's RTCRtpSender has no unset {SENDER_ENCODER} any more: the shared WebRTC "
            "packetisation needs the aiortc version pinned in pyproject.toml"
        )
    setattr(sender, SENDER_ENCODER, PackedFrameEncoder())


class CameraPayloads:
    """The RTP payloads of one camera's recent frames. The hub hands the same MediaFrame object
    to every viewer, so the frame's identity is the key (each entry keeps its frame alive, so
    an id is not reused while it is cached)."""

    def __init__(self, kept: int = KEPT_FRAMES) -> None:
        self.kept = kept
        self.packetised = 0
        self._payloader = H264Payloader()  # aiortc's packetiser, as RTSP uses it
        self._recent: dict[int, tuple[MediaFrame, list[bytes]]] = {}

    def payloads(self, frame: MediaFrame) -> list[bytes]:
        """The frame's RTP payloads; none for one without a NAL unit (the sender skips it)."""
        cached = self._recent.get(id(frame))
        if cached is not None and cached[0] is frame:
            return cached[1]
        try:
            payloads = self._payloader.payloads(frame.data)
        except H264RtpError:
            payloads = []
        self.packetised += 1
        self._recent[id(frame)] = (frame, payloads)
        if len(self._recent) > self.kept:
            del self._recent[next(iter(self._recent))]  # the oldest (insertion order)
        return payloads


class SharedPayloads:
    """A `CameraPayloads` per camera that has WebRTC viewers."""

    def __init__(self) -> None:
        self._cameras: dict[int, CameraPayloads] = {}
        self._packetised_before = 0  # by cameras since dropped

    def of(self, camera_id: int) -> CameraPayloads:
        payloads = self._cameras.get(camera_id)
        if payloads is None:
            payloads = self._cameras[camera_id] = CameraPayloads()
        return payloads

    def keep_only(self, camera_ids: Iterable[int]) -> None:
        """Drop the payloads of cameras nobody watches over WebRTC any more."""
        watched = set(camera_ids)
        for camera_id in [c for c in self._cameras if c not in watched]:
            self._packetised_before += self._cameras.pop(camera_id).packetised

    def packetised(self) -> int:
        """Frames packetised so far, for all viewers of all cameras."""
        return self._packetised_before + sum(c.packetised for c in self._cameras.values())
