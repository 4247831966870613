"""What the HLS packagers share: a per-camera session fed by the hub, started by the first
playlist request and stopped a linger after the last request.

`HlsSession` (MPEG-TS, hls.py) and `LlHlsSession` (fMP4 with parts, llhls.py) differ only in
what they make of each frame (`_take`) and what they serve; `Packager` keeps their sessions.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections import Counter
from collections.abc import Callable
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from fakecloud.media.frames import MediaFrame
from fakecloud.media.hub import MediaHub
from fakecloud.media.outputs.streaming import (
    NoVideoError,
    StreamLimits,
    UnsupportedCodecError,
    live_frames,
)

log = logging.getLogger(__name__)

# The linger never ends a session sooner than this many target durations after a request.
PLAYER_RELOADS_COVERED = 3


@dataclass(frozen=True, slots=True)
class SegmentOptions:
    segment_seconds: float = 1.0  # shortest segment: cut at the next keyframe after this
    window: int = 4  # segments in the playlist
    max_segment_bytes: int = 8 << 20
    part_seconds: float = 0.2  # LL-HLS parts (fMP4 fragments) last at least this


DEFAULT_SEGMENTS = SegmentOptions()


class LiveSession:
    """One camera's packager task. Subclasses implement `_prepare` (their state), `_take` (one
    H.264 frame; the first is a keyframe) and `has_media` (enough to serve a first playlist)."""

    def __init__(
        self,
        hub: MediaHub,
        camera_id: int,
        limits: StreamLimits,
        options: SegmentOptions,
        *,
        next_sequence: int = 0,
    ):
        self.camera_id = camera_id
        self.segment_seconds = options.segment_seconds
        self.window = options.window
        self.max_segment_bytes = options.max_segment_bytes
        self.error: Exception | None = None
        self.target_duration = max(1, math.ceil(options.segment_seconds))
        # Numbering continues across restarts so players never see the sequence go back.
        self.next_sequence = next_sequence
        self._changed = asyncio.Event()
        self._prepare(options)
        self._task = asyncio.get_running_loop().create_task(
            self._run(hub, limits), name=f"{type(self).__name__}-{camera_id}"
        )

    @property
    def running(self) -> bool:
        return not self._task.done()

    def _prepare(self, options: SegmentOptions) -> None:
        raise NotImplementedError

    def has_media(self) -> bool:
        raise NotImplementedError

    def following_sequence(self) -> int:
        """Where a session that replaces this one starts numbering."""
        return self.next_sequence

    def status(self) -> dict[str, Any]:
        return {"running": self.running, "error": str(self.error) if self.error else None}

    async def _take(self, frame: MediaFrame) -> None:
        raise NotImplementedError

    def _notify(self) -> None:
        """Wake every waiter; each waits on the event it saw, so none misses a change."""
        self._changed.set()
        self._changed = asyncio.Event()

    async def wait_until(self, reached: Callable[[], bool]) -> None:
        """Until `reached()` is true (bound it with asyncio.timeout); raises the packager's error
        (NoVideoError, UnsupportedCodecError, ...) if it ends first."""
        while not reached():
            if self.error is not None:
                raise type(self.error)(str(self.error))
            if not self.running:
                raise NoVideoError(f"camera {self.camera_id} stopped sending video")
            await self._changed.wait()

    async def stop(self) -> None:
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self, hub: MediaHub, limits: StreamLimits) -> None:
        try:
            async with aclosing(live_frames(hub, self.camera_id, limits)) as frames:
                async for frame in frames:
                    if frame.codec != "h264":
                        raise UnsupportedCodecError(
                            f"camera {self.camera_id} sends JPEG; HLS needs H.264 "
                            "(use stream.mjpeg)"
                        )
                    await self._take(frame)
        except (NoVideoError, UnsupportedCodecError) as error:
            self.error = error
        except Exception as error:
            log.exception("HLS packaging for camera %s failed", self.camera_id)
            self.error = error
        finally:
            self._notify()


SessionT = TypeVar("SessionT", bound=LiveSession)


class Packager(Generic[SessionT]):
    """Every camera's session of one kind (`session_type`)."""

    session_type: type[SessionT]
    first_sequence = 0  # the number of a camera's first segment

    def __init__(
        self,
        hub: MediaHub,
        limits: StreamLimits,
        *,
        options: SegmentOptions = DEFAULT_SEGMENTS,
        linger: float = 30.0,
    ):
        self.hub = hub
        # HLS sessions end by the request linger, not by the per-viewer time limit.
        self.limits = StreamLimits(limits.video_timeout, limits.idle_timeout, None)
        self.options = options
        self.segment_seconds = options.segment_seconds
        self.linger = linger
        self._sessions: dict[int, SessionT] = {}
        self._expiry: dict[int, asyncio.TimerHandle] = {}
        # Playlist requests still waiting for a first segment, per camera: no expiry meanwhile.
        self._waiting: Counter[int] = Counter()
        self._stopping: set[asyncio.Task[None]] = set()

    def _new_session(self, camera_id: int, next_sequence: int) -> SessionT:
        return self.session_type(
            self.hub, camera_id, self.limits, self.options, next_sequence=next_sequence
        )

    async def ready_session(self, camera_id: int) -> SessionT:
        """The camera's session once it has media, started (or restarted) if need be; raises
        NoVideoError or UnsupportedCodecError."""
        session = self._sessions.get(camera_id)
        if session is None or self._worth_restarting(session):
            next_sequence = session.following_sequence() if session else self.first_sequence
            session = self._sessions[camera_id] = self._new_session(camera_id, next_sequence)
        self._touch(camera_id)
        self._waiting[camera_id] += 1
        try:
            async with asyncio.timeout(self.limits.video_timeout):
                await session.wait_until(session.has_media)
        except TimeoutError:
            raise NoVideoError(
                f"camera {camera_id} sent no complete HLS segment within "
                f"{self.limits.video_timeout:g} s"
            ) from None
        finally:
            self._waiting[camera_id] -= 1
            if not self._waiting[camera_id]:
                del self._waiting[camera_id]
        return session

    def touched_session(self, camera_id: int) -> SessionT | None:
        """The running session a media request reads (and keeps alive), if any."""
        session = self._sessions.get(camera_id)
        if session is not None:
            self._touch(camera_id)
        return session

    @staticmethod
    def _worth_restarting(session: LiveSession) -> bool:
        """An ended session restarts (the camera may be back), unless its codec cannot work."""
        return not session.running and not isinstance(session.error, UnsupportedCodecError)

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
        return {str(camera_id): session.status() for camera_id, session in self._sessions.items()}
