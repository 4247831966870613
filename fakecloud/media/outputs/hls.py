"""HLS live playlists: H.264 passed through into MPEG-TS segments, in memory, per camera.

A camera's packager starts with the first playlist request and stops `linger` seconds (at least
three target durations) after the last playlist or segment request (packaging.py). Segments are
cut at keyframes once `segment_seconds` have passed, so a camera's keyframe interval sets the
shortest possible segment.
"""

from __future__ import annotations

import asyncio
import io
import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import av

from fakecloud.media.frames import MediaFrame
from fakecloud.media.outputs.muxing import MonotonicClock, video_packet
from fakecloud.media.outputs.packaging import LiveSession, Packager, SegmentOptions
from fakecloud.media.outputs.pictures import PictureError

MPEGTS_CLOCK = 90_000
PLAYLIST_TYPE = "application/vnd.apple.mpegurl"
SEGMENT_TYPE = "video/mp2t"


@dataclass(frozen=True, slots=True)
class Segment:
    sequence: int
    duration: float
    data: bytes
    discontinuity: bool  # frames were lost just before this segment


def mux_segment(frames: Sequence[MediaFrame], ticks: Sequence[int]) -> bytes:
    """One self-contained MPEG-TS segment (PAT/PMT first) from a keyframe and what follows."""
    output = io.BytesIO()
    try:
        with av.open(output, "w", format="mpegts") as container:
            stream = container.add_mux_stream("h264")
            stream.time_base = Fraction(1, MPEGTS_CLOCK)
            for frame, tick in zip(frames, ticks, strict=True):
                container.mux(video_packet(frame, stream, tick))
    except (av.FFmpegError, ValueError) as error:
        raise PictureError(f"cannot mux MPEG-TS: {error}") from error
    return output.getvalue()


class HlsSession(LiveSession):
    """One camera's MPEG-TS packager: a window of finished segments."""

    def _prepare(self, options: SegmentOptions) -> None:
        # Clients that fetched the previous playlist may still ask for the segments just before.
        self.segments: deque[Segment] = deque(maxlen=self.window + 3)
        self.discontinuities_dropped = 0
        self._clock = MonotonicClock(MPEGTS_CLOCK)
        self._pending: list[MediaFrame] = []
        self._pending_bytes = 0
        # A session that continues an earlier one's numbering starts with a discontinuity.
        self._lost = self.next_sequence > 0

    def has_media(self) -> bool:
        return bool(self.segments)

    def status(self) -> dict[str, Any]:
        return super().status() | {"segments": len(self.segments)}

    def playlist(self) -> str:
        shown = list(self.segments)[-self.window :]
        dropped = sum(1 for s in list(self.segments)[: -self.window] if s.discontinuity)
        lines = [
            "#EXTM3U",
            "#EXT-X-VERSION:3",
            f"#EXT-X-TARGETDURATION:{self.target_duration}",
            f"#EXT-X-MEDIA-SEQUENCE:{shown[0].sequence if shown else 0}",
            f"#EXT-X-DISCONTINUITY-SEQUENCE:{self.discontinuities_dropped + dropped}",
        ]
        for segment in shown:
            if segment.discontinuity:
                lines.append("#EXT-X-DISCONTINUITY")
            lines += [f"#EXTINF:{segment.duration:.3f},", f"segment_{segment.sequence}.ts"]
        return "\n".join(lines) + "\n"

    def segment(self, sequence: int) -> bytes | None:
        return next((s.data for s in self.segments if s.sequence == sequence), None)

    async def _take(self, frame: MediaFrame) -> None:
        pending = self._pending
        if frame.keyframe and pending:
            elapsed = frame.timestamp - pending[0].timestamp
            if elapsed >= self.segment_seconds or elapsed < 0:
                await self._finish(pending, frame.timestamp, self._lost)
                self._pending, self._pending_bytes, self._lost = [], 0, False
        if not self._pending and not frame.keyframe:
            return  # a segment must start with a keyframe
        self._pending.append(frame)
        self._pending_bytes += len(frame.data)
        # Security consideration: a camera that stops sending keyframes must not grow a
        # segment without bound; drop it and restart at the next keyframe.
        if self._pending_bytes > self.max_segment_bytes:
            self._pending, self._pending_bytes, self._lost = [], 0, True

    async def _finish(self, frames: list[MediaFrame], end: float, lost: bool) -> None:
        duration = max(end - frames[0].timestamp, 0.001)
        ticks = [self._clock.ticks(frame.timestamp) for frame in frames]
        loop = asyncio.get_running_loop()
        data = await loop.run_in_executor(None, mux_segment, frames, ticks)
        if len(self.segments) == self.segments.maxlen and self.segments[0].discontinuity:
            self.discontinuities_dropped += 1
        self.segments.append(Segment(self.next_sequence, duration, data, lost))
        self.next_sequence += 1
        # The target duration may only grow: players size their buffers by it.
        self.target_duration = max(self.target_duration, math.ceil(duration))
        self._notify()


class HlsPackager(Packager[HlsSession]):
    """Every camera's MPEG-TS HLS session, started by the first playlist request."""

    session_type = HlsSession

    async def playlist(self, camera_id: int) -> str:
        """The live playlist; raises NoVideoError or UnsupportedCodecError."""
        return (await self.ready_session(camera_id)).playlist()

    def segment(self, camera_id: int, sequence: int) -> bytes | None:
        session = self.touched_session(camera_id)
        return None if session is None else session.segment(sequence)
