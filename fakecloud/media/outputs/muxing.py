"""What the FLV, MPEG-TS and fMP4 muxers share: packets from frames, with timestamps they
accept, and a sink that collects what a muxer writes."""

from __future__ import annotations

import av
import av.video.stream

from fakecloud.media.frames import MediaFrame


class ChunkSink:
    """A write-only file for PyAV's muxer: collects what it writes until taken."""

    def __init__(self) -> None:
        self._chunks: list[bytes] = []

    def write(self, data: bytes) -> int:
        self._chunks.append(bytes(data))
        return len(data)

    def take(self) -> bytes:
        data = b"".join(self._chunks)
        self._chunks.clear()
        return data


class MonotonicClock:
    """Stream timestamps (seconds) to muxer ticks that start at 0 and always increase, because
    muxers reject a timestamp that goes backwards and cameras restart their clocks."""

    def __init__(self, ticks_per_second: int):
        self.ticks_per_second = ticks_per_second
        self._origin: float | None = None
        self._offset = 0
        self._last = -1

    def ticks(self, timestamp: float) -> int:
        if self._origin is None:
            self._origin = timestamp
        value = round((timestamp - self._origin) * self.ticks_per_second) + self._offset
        if value <= self._last:
            # Rebase so time continues just after the previous frame.
            self._offset += self._last + 1 - value
            value = self._last + 1
        self._last = value
        return value


def video_packet(frame: MediaFrame, stream: av.video.stream.VideoStream, ticks: int) -> av.Packet:
    """A packet of `stream` carrying one access unit at `ticks` (in the stream's time base)."""
    packet = av.Packet(frame.data)
    packet.stream = stream
    packet.time_base = stream.time_base
    packet.pts = packet.dts = ticks  # no B-frames from cameras [I]: decode order = display order
    packet.is_keyframe = frame.keyframe
    return packet
