"""One clip file: H.264 access units copied (never re-encoded) into fragmented MP4 with PyAV.

`frag_keyframe+empty_moov+default_base_moof` makes FFmpeg's mp4 muxer write the header up front
and then one self-contained fragment per keyframe group, so whatever reached the disk before a
crash (SIGKILL, power loss) plays up to the last whole fragment. `delay_moov` lets the muxer take
the SPS/PPS from the first keyframe instead of needing them before the first frame.
Blocking: call it from a worker thread.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import av.video.stream

from fakecloud.media.frames import MediaFrame
from fakecloud.media.outputs.muxing import MonotonicClock, video_packet
from fakecloud.media.outputs.pictures import picture_size

CLOCK = 90_000
MOVFLAGS = "frag_keyframe+empty_moov+default_base_moof+delay_moov"


class ClipWriter:
    """Writes frames (the first a keyframe) to `path`; `close` finishes the file."""

    def __init__(self, path: Path, first: MediaFrame) -> None:
        if first.codec != "h264" or not first.keyframe:
            raise ValueError("a clip starts with an H.264 keyframe")
        width, height = picture_size(first)
        self.path = path
        self.frames = 0
        self.bytes = 0
        self._first_timestamp = first.timestamp
        self._last_timestamp = first.timestamp
        self._clock = MonotonicClock(CLOCK)
        # flush_packets: each fragment goes to the file as it is cut, not when a buffer fills.
        options = {"movflags": MOVFLAGS, "flush_packets": "1"}
        self._container = av.open(str(path), "w", format="mp4", options=options)
        stream = self._container.add_mux_stream("h264", width=width, height=height)
        if not isinstance(stream, av.video.stream.VideoStream):
            self._container.close()
            raise ValueError(f"the mp4 muxer made a {type(stream).__name__} for H.264")
        self._stream = stream
        self._stream.time_base = Fraction(1, CLOCK)
        self.write(first)

    @property
    def seconds(self) -> float:
        return self._last_timestamp - self._first_timestamp

    def write(self, frame: MediaFrame) -> None:
        """Mux one access unit; OSError when the disk refuses it (the clip is then closed)."""
        try:
            ticks = self._clock.ticks(frame.timestamp)
            self._container.mux(video_packet(frame, self._stream, ticks))
        except av.FFmpegError as error:
            raise OSError(error.errno or 0, f"cannot write {self.path.name}: {error}") from error
        self.frames += 1
        self.bytes += len(frame.data)
        self._last_timestamp = max(self._last_timestamp, frame.timestamp)

    def close(self) -> None:
        """Write the last fragment and close the file; a full disk loses only that fragment."""
        try:
            self._container.close()
        except (av.FFmpegError, OSError):
            pass  # what was written before stays playable: each fragment stands alone
