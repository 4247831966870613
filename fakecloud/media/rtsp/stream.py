"""One RTSP client's RTP stream: frames in, numbered RTP packets out, continuous across cameras.

A camera that reconnects starts a new stream with its own clock. The client keeps one SSRC,
sequence numbers that never skip, and timestamps that continue by the wall-clock time the gap
took, so a player or NVR sees a short pause, not a new stream (RFC 3550 §5.1).
"""

from __future__ import annotations

import secrets

from fakecloud.media.frames import MediaFrame
from fakecloud.media.rtsp.h264 import H264Payloader
from fakecloud.media.rtsp.jpeg import jpeg_payloads
from fakecloud.media.rtsp.sdp import Track
from fakecloud.net.rtp import VIDEO_CLOCK_RATE, RtpPacket, build_rtp

SEQUENCE_MODULO = 1 << 16
TIMESTAMP_MODULO = 1 << 32
# A frame more than this far from the previous one (either way) starts a new camera stream.
MAX_FRAME_STEP = 2.0


class ContinuousClock:
    """Frame timestamps (seconds) to 90 kHz ticks that only ever move forward."""

    def __init__(self, start: int = 0):
        self._base = start
        self._origin: float | None = None
        self._last_tick = start
        self._last_wall = 0.0

    def ticks(self, timestamp: float, now: float) -> int:
        """Ticks for a frame stamped `timestamp` that is being sent at wall time `now`."""
        if self._origin is None:
            self._origin = timestamp
        else:
            value = self._base + round((timestamp - self._origin) * VIDEO_CLOCK_RATE)
            step = value - self._last_tick
            if 0 <= step <= MAX_FRAME_STEP * VIDEO_CLOCK_RATE:
                self._last_tick, self._last_wall = value, now
                return value
            # A new camera stream: go on from the last frame by the time that really passed.
            gap = max(1, round((now - self._last_wall) * VIDEO_CLOCK_RATE))
            self._base, self._origin = self._last_tick + gap, timestamp
        self._last_tick, self._last_wall = self._base, now
        return self._base


class RtpStream:
    def __init__(self, track: Track, ssrc: int | None = None):
        self.track = track
        self.ssrc = secrets.randbits(32) if ssrc is None else ssrc
        # Random starting points (RFC 3550 §5.1), also reported in the PLAY reply's RTP-Info.
        self.first_sequence = self._sequence = secrets.randbits(16)
        self.first_timestamp = secrets.randbits(32)
        self._clock = ContinuousClock(self.first_timestamp)
        self._h264 = H264Payloader() if track.codec == "h264" else None

    def packets(self, frame: MediaFrame, now: float) -> list[bytes]:
        """The RTP packets of one frame; H264RtpError or JpegRtpError when it cannot be sent."""
        if self._h264 is not None:
            payloads = self._h264.payloads(frame.data)
        else:
            payloads = jpeg_payloads(frame.data)
        timestamp = self._clock.ticks(frame.timestamp, now) % TIMESTAMP_MODULO
        packets = []
        for index, payload in enumerate(payloads):
            packet = RtpPacket(
                payload_type=self.track.payload_type,
                sequence=self._sequence,
                timestamp=timestamp,
                ssrc=self.ssrc,
                payload=payload,
                marker=index == len(payloads) - 1,
            )
            packets.append(build_rtp(packet))
            self._sequence = (self._sequence + 1) % SEQUENCE_MODULO
        return packets
