"""H.264 passed through into fragmented MP4 (CMAF): an init segment, then one fragment
(moof + mdat) per LL-HLS part.

FFmpeg's mp4 muxer (through PyAV) writes every box: it cuts a fragment at each keyframe and once
`part_seconds` have passed, and writes it out when the frame after it arrives (so a part is
ready one frame interval after its last frame). The only thing done here by hand is finding
where the muxer's output splits into top-level boxes (`split_boxes`): the init segment is the
`ftyp` + `moov` that come first, every later `moof` starts a part.
"""

from __future__ import annotations

import struct
import threading
from dataclasses import dataclass
from fractions import Fraction

import av
import av.video.stream

from fakecloud.media.frames import MediaFrame
from fakecloud.media.outputs.muxing import ChunkSink, MonotonicClock, video_packet
from fakecloud.media.outputs.pictures import PictureError, picture_size

CLOCK = 90_000
BOX_HEADER = 8
# delay_moov: the moov (with the avcC from the first keyframe's SPS/PPS) is written with the
# first fragment, so the muxer needs no extradata up front.
MOVFLAGS = "cmaf+frag_keyframe+empty_moov+default_base_moof+delay_moov"


class BoxError(ValueError):
    """Bytes that are not a sequence of whole ISO BMFF boxes."""


def split_boxes(data: bytes) -> list[tuple[bytes, bytes]]:
    """(type, whole box) for each top-level box in `data` (sizes: 32-bit, or 1 = 64-bit)."""
    boxes = []
    offset = 0
    while offset < len(data):
        if len(data) - offset < BOX_HEADER:
            raise BoxError(f"{len(data) - offset} bytes left: too short for a box header")
        size, kind = struct.unpack_from(">I4s", data, offset)
        header = BOX_HEADER
        if size == 1:
            if len(data) - offset < 16:
                raise BoxError("a 64-bit box size is cut short")
            (size,) = struct.unpack_from(">Q", data, offset + BOX_HEADER)
            header = 16
        if size < header or offset + size > len(data):
            raise BoxError(f"box {kind!r} of {size} bytes does not fit at offset {offset}")
        boxes.append((kind, data[offset : offset + size]))
        offset += size
    return boxes


@dataclass(frozen=True, slots=True)
class Fragment:
    """One part: its moof + mdat, the frames it holds and how long it lasts (seconds)."""

    data: bytes
    frames: int
    duration: float
    independent: bool  # starts with a keyframe


class Fmp4Fragmenter:
    """Feeds frames (the first a keyframe) to one mp4 muxer; blocking, run it in a worker."""

    def __init__(self, part_seconds: float):
        self.part_seconds = part_seconds
        self.init: bytes | None = None  # ftyp + moov, once the first fragment is out
        self._sink = ChunkSink()
        self._muxer: tuple[av.container.OutputContainer, av.video.stream.VideoStream] | None = None
        self._clock = MonotonicClock(CLOCK)
        # Ticks of the frames muxed since the last fragment came out.
        self._held: list[int] = []
        self._held_keyframe = False
        # feed and close run in worker threads; close must not free the muxer under a feed.
        self._lock = threading.Lock()
        self._closed = False

    def _open(
        self, first: MediaFrame
    ) -> tuple[av.container.OutputContainer, av.video.stream.VideoStream]:
        width, height = picture_size(first)
        container = av.open(
            self._sink,
            "w",
            format="mp4",
            options={
                "movflags": MOVFLAGS,
                "frag_duration": str(round(self.part_seconds * 1_000_000)),
                # Out to the sink after every frame, so a finished fragment is seen at once.
                "flush_packets": "1",
            },
        )
        stream = container.add_mux_stream("h264", width=width, height=height)
        if not isinstance(stream, av.video.stream.VideoStream):
            container.close()
            raise PictureError(f"the mp4 muxer made a {type(stream).__name__} for H.264")
        stream.time_base = Fraction(1, CLOCK)
        return container, stream

    def feed(self, frame: MediaFrame) -> Fragment | None:
        """The fragment this frame closed (it holds the frames before it), if any."""
        with self._lock:
            return None if self._closed else self._feed(frame)

    def _feed(self, frame: MediaFrame) -> Fragment | None:
        if self._muxer is None:
            self._muxer = self._open(frame)
        container, stream = self._muxer
        ticks = self._clock.ticks(frame.timestamp)
        try:
            container.mux(video_packet(frame, stream, ticks))
        except (av.FFmpegError, ValueError) as error:
            raise PictureError(f"cannot mux fMP4: {error}") from error
        fragment = self._fragment(self._sink.take(), ticks)
        if not self._held:  # this frame starts the next fragment
            self._held_keyframe = frame.keyframe
        self._held.append(ticks)
        return fragment

    def _fragment(self, output: bytes, ticks: int) -> Fragment | None:
        if not output:
            return None
        boxes = split_boxes(output)
        if self.init is None:
            init = [box for kind, box in boxes if kind in (b"ftyp", b"moov")]
            self.init = b"".join(init)
            boxes = [(kind, box) for kind, box in boxes if kind not in (b"ftyp", b"moov")]
        if not boxes and not self._held:
            return None  # the header alone
        if not boxes or boxes[0][0] != b"moof" or not self._held:
            raise PictureError(f"the mp4 muxer wrote {[kind for kind, _ in boxes]}, not a moof")
        # The muxer writes a fragment when this frame arrives: it holds the frames before.
        held, self._held = self._held, []
        return Fragment(
            data=b"".join(box for _, box in boxes),
            frames=len(held),
            duration=max(ticks - held[0], 1) / CLOCK,
            independent=self._held_keyframe,
        )

    def close(self) -> None:
        """Free the muxer; the fragment still held is dropped (nobody waits for it)."""
        with self._lock:
            self._closed = True
            if self._muxer is not None:
                self._muxer[0].close()
                self._muxer = None
                self._sink.take()
