"""HLS live playlists: H.264 passed through into MPEG-TS segments, in memory, per camera.

A camera's packager starts with the first playlist request and stops `linger` seconds (at least
three target durations) after the last playlist or segment request. Segments are cut at
keyframes once `segment_seconds` have passed, so a camera's keyframe interval sets the shortest
possible segment.
"""

from __future__ import annotations

import asyncio
import io
import logging
import math
from collections import Counter, deque
from collections.abc import Sequence
from contextlib import aclosing
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import av

from fakecloud.media.frames import MediaFrame
from fakecloud.media.hub import MediaHub
from fakecloud.media.outputs.muxing import MonotonicClock, video_packet
from fakecloud.media.outputs.pictures import PictureError
from fakecloud.media.outputs.streaming import (
    NoVideoError,
    StreamLimits,
    UnsupportedCodecError,
    live_frames,
)

log = logging.getLogger(__name__)

MPEGTS_CLOCK = 90_000
PLAYLIST_TYPE = "application/vnd.apple.mpegurl"
SEGMENT_TYPE = "video/mp2t"
# The linger never ends a session sooner than this many target durations after a request.
PLAYER_RELOADS_COVERED = 3


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


class HlsSession:
    """One camera's packager: a task reading the hub and a window of finished segments."""

    def __init__(
        self,
        hub: MediaHub,
        camera_id: int,
        limits: StreamLimits,
        *,
        segment_seconds: float,
        window: int,
        max_segment_bytes: int,
        first_sequence: int = 0,
    ):
        self.camera_id = camera_id
        self.segment_seconds = segment_seconds
        self.window = window
        self.max_segment_bytes = max_segment_bytes
        # Clients that fetched the previous playlist may still ask for the segments just before.
        self.segments: deque[Segment] = deque(maxlen=window + 3)
        self.error: Exception | None = None
        self.target_duration = max(1, math.ceil(segment_seconds))
        self.discontinuities_dropped = 0
        self.next_sequence = first_sequence
        self._changed = asyncio.Event()
        self._clock = MonotonicClock(MPEGTS_CLOCK)
        self._task = asyncio.get_running_loop().create_task(
            self._run(hub, limits), name=f"hls-{camera_id}"
        )

    @property
    def running(self) -> bool:
        return not self._task.done()

    async def wait_ready(self) -> None:
        """Wait (bound it with asyncio.timeout) for the first segment; raise the packager's
        error (NoVideoError, UnsupportedCodecError, ...)."""
        while not self.segments:
            if self.error is not None:
                raise type(self.error)(str(self.error))
            if not self.running:
                raise NoVideoError(f"camera {self.camera_id} stopped sending video")
            self._changed.clear()
            await self._changed.wait()

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

    async def stop(self) -> None:
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self, hub: MediaHub, limits: StreamLimits) -> None:
        pending: list[MediaFrame] = []
        pending_bytes = 0
        # A session that continues an earlier one's numbering starts with a discontinuity.
        lost = self.next_sequence > 0
        try:
            async with aclosing(live_frames(hub, self.camera_id, limits)) as frames:
                async for frame in frames:
                    if frame.codec != "h264":
                        raise UnsupportedCodecError(
                            f"camera {self.camera_id} sends JPEG; HLS needs H.264 "
                            "(use stream.mjpeg)"
                        )
                    if frame.keyframe and pending:
                        elapsed = frame.timestamp - pending[0].timestamp
                        if elapsed >= self.segment_seconds or elapsed < 0:
                            await self._finish(pending, frame.timestamp, lost)
                            pending, pending_bytes, lost = [], 0, False
                    if not pending and not frame.keyframe:
                        continue  # a segment must start with a keyframe
                    pending.append(frame)
                    pending_bytes += len(frame.data)
                    # Security consideration: a camera that stops sending keyframes must not
                    # grow a segment without bound; drop it and restart at the next keyframe.
                    if pending_bytes > self.max_segment_bytes:
                        pending, pending_bytes, lost = [], 0, True
        except (NoVideoError, UnsupportedCodecError) as error:
            self.error = error
        except Exception as error:
            log.exception("HLS packaging for camera %s failed", self.camera_id)
            self.error = error
        finally:
            self._changed.set()

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
        self._changed.set()


class HlsPackager:
    """Every camera's HLS session, started by the first playlist request."""

    def __init__(
        self,
        hub: MediaHub,
        limits: StreamLimits,
        *,
        segment_seconds: float = 1.0,
        window: int = 4,
        linger: float = 30.0,
        max_segment_bytes: int = 8 << 20,
    ):
        self.hub = hub
        # HLS sessions end by the request linger, not by the per-viewer time limit.
        self.limits = StreamLimits(limits.video_timeout, limits.idle_timeout, None)
        self.segment_seconds = segment_seconds
        self.window = window
        self.linger = linger
        self.max_segment_bytes = max_segment_bytes
        self._sessions: dict[int, HlsSession] = {}
        self._expiry: dict[int, asyncio.TimerHandle] = {}
        # Playlist requests still waiting for a first segment, per camera: no expiry meanwhile.
        self._waiting: Counter[int] = Counter()
        self._stopping: set[asyncio.Task[None]] = set()

    async def playlist(self, camera_id: int) -> str:
        """The live playlist; raises NoVideoError or UnsupportedCodecError."""
        session = self._sessions.get(camera_id)
        if session is None or self._worth_restarting(session):
            session = self._sessions[camera_id] = HlsSession(
                self.hub,
                camera_id,
                self.limits,
                segment_seconds=self.segment_seconds,
                window=self.window,
                max_segment_bytes=self.max_segment_bytes,
                # Keep numbering across restarts so players never see the sequence go back.
                first_sequence=session.next_sequence if session else 0,
            )
        self._touch(camera_id)
        self._waiting[camera_id] += 1
        try:
            async with asyncio.timeout(self.limits.video_timeout):
                await session.wait_ready()
        except TimeoutError:
            raise NoVideoError(
                f"camera {camera_id} sent no complete HLS segment within "
                f"{self.limits.video_timeout:g} s"
            ) from None
        finally:
            self._waiting[camera_id] -= 1
            if not self._waiting[camera_id]:
                del self._waiting[camera_id]
        return session.playlist()

    @staticmethod
    def _worth_restarting(session: HlsSession) -> bool:
        """An ended session restarts (the camera may be back), unless its codec cannot work."""
        return not session.running and not isinstance(session.error, UnsupportedCodecError)

    def segment(self, camera_id: int, sequence: int) -> bytes | None:
        session = self._sessions.get(camera_id)
        if session is None:
            return None
        self._touch(camera_id)
        return session.segment(sequence)

    def _touch(self, camera_id: int) -> None:
        if timer := self._expiry.pop(camera_id, None):
            timer.cancel()
        # A playing client reloads the playlist about once per target duration: never expire
        # between two reloads, however short the configured linger.
        session = self._sessions.get(camera_id)
        target = session.target_duration if session else math.ceil(self.segment_seconds)
        delay = max(self.linger, PLAYER_RELOADS_COVERED * target)
        loop = asyncio.get_running_loop()
        self._expiry[camera_id] = loop.call_later(delay, self._expire, camera_id)

    def _expire(self, camera_id: int) -> None:
        if self._waiting[camera_id]:
            # A linger shorter than the first segment takes must not end the session under
            # the request waiting for it; the linger counts again from now.
            self._touch(camera_id)
            return
        self._expiry.pop(camera_id, None)
        session = self._sessions.pop(camera_id, None)
        if session is not None:
            task = asyncio.get_running_loop().create_task(session.stop())
            self._stopping.add(task)
            task.add_done_callback(self._stopping.discard)

    async def stop(self) -> None:
        for timer in self._expiry.values():
            timer.cancel()
        self._expiry.clear()
        sessions = list(self._sessions.values())
        self._sessions.clear()
        await asyncio.gather(*(session.stop() for session in sessions), *self._stopping)

    def status(self) -> dict[str, Any]:
        return {
            str(camera_id): {
                "running": session.running,
                "segments": len(session.segments),
                "error": str(session.error) if session.error else None,
            }
            for camera_id, session in self._sessions.items()
        }
