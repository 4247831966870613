"""When a clip opens and closes: pure policy, no I/O (frames and times in, steps out).

A clip always starts on a keyframe. In motion mode the pre-roll (whole keyframe groups kept in
a ring buffer bounded in bytes) opens the clip, motion keeps it open and the post-roll closes it
once motion has been quiet that long. In continuous mode a clip is always open and is cut at the
first keyframe past the segment length. Either way a clip is cut at `max_clip_seconds`.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import Literal

from fakecloud.media.frames import MediaFrame

RecordMode = Literal["off", "motion", "continuous"]


class PreRoll:
    """The latest whole keyframe groups, enough to cover `seconds` but never over `max_bytes`
    (Security consideration: a camera's bitrate must not grow memory without bound)."""

    def __init__(self, seconds: float, max_bytes: int) -> None:
        self.seconds = seconds
        self.max_bytes = max_bytes
        self._groups: deque[list[MediaFrame]] = deque()
        self.bytes = 0

    def add(self, frame: MediaFrame) -> None:
        if frame.keyframe:
            self._groups.append([frame])
        elif self._groups:
            self._groups[-1].append(frame)
        else:
            return  # nothing before the first keyframe can be decoded
        self.bytes += len(frame.data)
        while len(self._groups) > 1 and (
            self.bytes > self.max_bytes
            or frame.timestamp - self._groups[1][0].timestamp >= self.seconds
        ):
            self.bytes -= sum(len(old.data) for old in self._groups.popleft())
        if self.bytes > self.max_bytes:  # one group alone is too big: keep none of it
            self.clear()

    def take(self) -> list[MediaFrame]:
        """Every buffered frame, oldest first (starting with a keyframe), and forget them."""
        frames = [frame for group in self._groups for frame in group]
        self.clear()
        return frames

    def clear(self) -> None:
        self._groups.clear()
        self.bytes = 0


@dataclass(frozen=True, slots=True)
class Open:
    """Start a clip with these frames (the first a keyframe)."""

    frames: list[MediaFrame]
    reason: Literal["motion", "continuous"]


@dataclass(frozen=True, slots=True)
class Write:
    frame: MediaFrame


@dataclass(frozen=True, slots=True)
class Close:
    reason: str


Step = Open | Write | Close


@dataclass(frozen=True, slots=True)
class ClipPolicy:
    mode: RecordMode
    pre_roll_seconds: float = 5.0
    post_roll_seconds: float = 10.0
    segment_seconds: float = 600.0
    max_clip_seconds: float = 1800.0
    pre_roll_max_bytes: int = 8 << 20


class ClipPlanner:
    """Feed it every frame (`frame`), motion changes (`motion`) and, while frames stall,
    `stalled`; carry out the steps it returns, in order. `now` is any monotonic clock."""

    def __init__(self, policy: ClipPolicy) -> None:
        self.policy = policy
        self.pre_roll = PreRoll(policy.pre_roll_seconds, policy.pre_roll_max_bytes)
        self.recording = False
        self._clip_start: float = 0.0  # stream timestamp of the clip's first frame
        self._wanted_until = -math.inf  # motion mode: record until this `now`
        self.paused = False  # set by the caller while the disk is below its floor

    def motion(self, active: bool, now: float) -> None:
        self._wanted_until = math.inf if active else now + self.policy.post_roll_seconds

    def _wanted(self, now: float) -> bool:
        if self.paused or self.policy.mode == "off":
            return False
        return self.policy.mode == "continuous" or now < self._wanted_until

    def frame(self, frame: MediaFrame, now: float) -> list[Step]:
        steps: list[Step] = []
        wanted = self._wanted(now)
        if self.recording and not wanted:
            steps.append(self._close("paused" if self.paused else "post-roll over"))
        if self.recording and frame.keyframe:
            limit = self.policy.max_clip_seconds
            if self.policy.mode == "continuous":
                limit = min(limit, self.policy.segment_seconds)
            if frame.timestamp - self._clip_start >= limit:
                steps.append(self._close("length"))
        if self.recording:
            steps.append(Write(frame))
            return steps
        if self.policy.mode == "motion":
            self.pre_roll.add(frame)
        if wanted:
            frames = self.pre_roll.take() if self.policy.mode == "motion" else []
            if not frames and frame.keyframe:
                frames = [frame]
            if frames:
                self.recording = True
                self._clip_start = frames[0].timestamp
                reason: Literal["motion", "continuous"] = (
                    "continuous" if self.policy.mode == "continuous" else "motion"
                )
                steps.append(Open(frames, reason))
        return steps

    def stalled(self) -> list[Step]:
        """The camera sent nothing for a while: end the clip (the next keyframe opens one)."""
        self.pre_roll.clear()
        return [self._close("stream stalled")] if self.recording else []

    def _close(self, reason: str) -> Close:
        self.recording = False
        return Close(reason)
