"""Low-latency HLS: H.264 passed through into fMP4 (CMAF) parts of about `part_seconds`,
grouped into segments cut at keyframes, with blocking playlist reloads and preload hints.

The MPEG-TS playlist (hls.py) stays for old players; both share the session lifecycle
(packaging.py). Parts come from FFmpeg's mp4 muxer (fmp4.py); the playlist text and the
blocking-reload rules are pure (llhls_playlist.py).
"""

from __future__ import annotations

import asyncio
import math
from collections import deque
from typing import Any

from fakecloud.media.frames import MediaFrame
from fakecloud.media.outputs.fmp4 import Fmp4Fragmenter, Fragment
from fakecloud.media.outputs.llhls_playlist import (
    LivePlaylist,
    LlSegment,
    Part,
    ReloadQueryError,
    ReloadRequest,
    build_playlist,
    reload_satisfied,
    too_far_ahead,
)
from fakecloud.media.outputs.packaging import (
    PLAYER_RELOADS_COVERED,
    LiveSession,
    Packager,
    SegmentOptions,
)

PART_TYPE = "video/mp4"
# Segments kept beyond the playlist's window, for players that fetched the playlist before.
KEPT_BEHIND = 3


class ReloadTimeoutError(Exception):
    """A blocking reload whose part did not come in time (HTTP 503, as RFC 8216bis asks)."""


class LlHlsSession(LiveSession):
    """One camera's fMP4 packager: finished segments and the parts of the one being made."""

    def _prepare(self, options: SegmentOptions) -> None:
        self.segments: deque[LlSegment] = deque(maxlen=self.window + KEPT_BEHIND)
        self.open_parts: list[Part] = []
        # The part target only grows: players size their hold-back by it.
        self.part_target = options.part_seconds
        self._fragmenter = Fmp4Fragmenter(options.part_seconds)

    @property
    def open_sequence(self) -> int:
        """The number of the segment being made."""
        return self.next_sequence

    def has_media(self) -> bool:
        # One finished segment first: players without LL-HLS (ffmpeg) read only whole segments.
        return bool(self.segments)

    def following_sequence(self) -> int:
        return self.next_sequence + 1 if self.open_parts else self.next_sequence

    def status(self) -> dict[str, Any]:
        return super().status() | {
            "segments": len(self.segments),
            "parts": len(self.open_parts),
            "part_target": self.part_target,
        }

    def playlist(self) -> str:
        return build_playlist(
            LivePlaylist(
                segments=list(self.segments)[-self.window :],
                open_sequence=self.open_sequence,
                open_parts=self.open_parts,
                target_duration=self.target_duration,
                part_target=self.part_target,
            )
        )

    def init_segment(self) -> bytes | None:
        return self._fragmenter.init

    def segment(self, sequence: int) -> bytes | None:
        return next((s.data() for s in self.segments if s.sequence == sequence), None)

    def part(self, sequence: int, index: int) -> bytes | None:
        if sequence == self.open_sequence:
            parts: tuple[Part, ...] | list[Part] = self.open_parts
        else:
            parts = next((s.parts for s in self.segments if s.sequence == sequence), ())
        return parts[index].data if index < len(parts) else None

    def reached(self, request: ReloadRequest) -> bool:
        finished = {segment.sequence: len(segment.parts) for segment in self.segments}
        return reload_satisfied(request, finished, self.open_sequence, len(self.open_parts))

    async def stop(self) -> None:
        await super().stop()
        # In the worker, after any muxing job still running there.
        await asyncio.get_running_loop().run_in_executor(None, self._fragmenter.close)

    async def _take(self, frame: MediaFrame) -> None:
        loop = asyncio.get_running_loop()
        fragment = await loop.run_in_executor(None, self._fragmenter.feed, frame)
        if fragment is not None:
            self._add(fragment)

    def _add(self, fragment: Fragment) -> None:
        part = Part(fragment.duration, fragment.independent, fragment.data)
        made = sum(p.duration for p in self.open_parts)
        size = sum(len(p.data) for p in self.open_parts)
        # Security consideration: a camera that stops sending keyframes must not grow a
        # segment without bound; past the cap it ends at the next part, keyframe or not.
        if self.open_parts and (
            (part.independent and made >= self.segment_seconds) or size > self.max_segment_bytes
        ):
            segment = LlSegment(self.open_sequence, tuple(self.open_parts))
            self.segments.append(segment)
            self.next_sequence += 1
            self.open_parts = []
            self.target_duration = max(self.target_duration, math.ceil(segment.duration))
        self.open_parts.append(part)
        self.part_target = max(self.part_target, math.ceil(part.duration * 1000) / 1000)
        self._notify()


class LlHlsPackager(Packager[LlHlsSession]):
    """Every camera's LL-HLS session, started by the first playlist request."""

    session_type = LlHlsSession
    # Not 0: hls.js before 1.7.2 sends its first blocking reload only once the last finished
    # segment's number is truthy, so a first segment 0 made it poll once a target duration
    # and stall at start (seen in tests/web/test_browser_llhls.py).
    first_sequence = 1

    async def playlist(self, camera_id: int, request: ReloadRequest | None = None) -> str:
        """The live playlist, once it holds what `request` asks for. Raises NoVideoError,
        UnsupportedCodecError, ReloadQueryError (too far ahead) or ReloadTimeoutError."""
        session = await self.ready_session(camera_id)
        if request is not None:
            if too_far_ahead(request, session.open_sequence):
                raise ReloadQueryError(
                    f"segment {request.msn} is too far ahead of {session.open_sequence}"
                )
            await self._hold(session, request, "playlist")
            self._touch(camera_id)  # the linger counts from the answer, not the question
        return session.playlist()

    async def part(self, camera_id: int, sequence: int, index: int) -> bytes | None:
        """A part, waiting for it if it is the one about to be made (the preload hint)."""
        session = self.touched_session(camera_id)
        if session is None:
            return None
        data = session.part(sequence, index)
        hinted = (sequence, index) == (session.open_sequence, len(session.open_parts))
        if data is None and hinted:
            await self._hold(session, ReloadRequest(sequence, index), "part")
            self._touch(camera_id)
            # None when the segment ended first: the hinted part never exists (404).
            data = session.part(sequence, index)
        return data

    async def _hold(self, session: LlHlsSession, request: ReloadRequest, what: str) -> None:
        # Security consideration: a held request is bounded like a player's reload interval
        # (three target durations), then answered 503.
        hold = PLAYER_RELOADS_COVERED * session.target_duration
        try:
            async with asyncio.timeout(hold):
                await session.wait_until(lambda: session.reached(request))
        except TimeoutError:
            raise ReloadTimeoutError(
                f"camera {session.camera_id}: {what} {request.msn}.{request.part} "
                f"did not come within {hold} s"
            ) from None

    def init_segment(self, camera_id: int) -> bytes | None:
        session = self.touched_session(camera_id)
        return None if session is None else session.init_segment()

    def segment(self, camera_id: int, sequence: int) -> bytes | None:
        session = self.touched_session(camera_id)
        return None if session is None else session.segment(sequence)
