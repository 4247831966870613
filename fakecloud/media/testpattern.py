"""A synthetic camera picture: colour bars, a moving sweep and a big frame counter.

The counter is drawn as seven-segment digits in the luma plane so that a test can decode a frame
(after any amount of packetizing, relaying and re-muxing) and read back which frame it got.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from typing import Literal

import av
import numpy as np
import numpy.typing as npt

from fakecloud.media.frames import Codec, MediaFrame

DIGITS = 6  # the counter wraps after 10**DIGITS frames (18.5 hours at 15 fps)
MIN_WIDTH = 96
MIN_HEIGHT = 64
BRIGHT = 235  # nominal white and black of limited-range video
DARK = 16

# Segment order a b c d e f g (top, upper right, lower right, bottom, lower left, upper left,
# middle), one bit each, for the digits 0-9.
SEGMENT_PATTERNS = (
    0b1111110,
    0b0110000,
    0b1101101,
    0b1111001,
    0b0110011,
    0b1011011,
    0b1011111,
    0b1110000,
    0b1111111,
    0b1111011,
)
DIGIT_BY_PATTERN = {pattern: digit for digit, pattern in enumerate(SEGMENT_PATTERNS)}

Plane = npt.NDArray[np.uint8]


class CounterUnreadable(ValueError):
    """The picture does not show a legible test-pattern counter."""


@dataclass(frozen=True, slots=True)
class CounterLayout:
    """Where the counter sits; derived from the picture size alone, so a reader needs nothing
    else."""

    top: int
    left: int
    digit_width: int
    digit_height: int
    stroke: int
    gap: int

    @classmethod
    def for_size(cls, width: int, height: int) -> CounterLayout:
        digit_width = min(height // 6, width // 9)
        return cls(
            top=height // 8,
            left=width // 16,
            digit_width=digit_width,
            digit_height=2 * digit_width,
            stroke=max(2, digit_width // 5),
            gap=max(2, digit_width // 3),
        )

    @property
    def margin(self) -> int:
        return self.stroke

    def digit_left(self, position: int) -> int:
        return self.left + position * (self.digit_width + self.gap)

    @property
    def right(self) -> int:
        return self.digit_left(DIGITS) - self.gap

    def segments(self) -> tuple[tuple[slice, slice], ...]:
        """Row and column ranges of segments a-g, relative to a digit's top-left corner."""
        w, h, t = self.digit_width, self.digit_height, self.stroke
        middle = h // 2
        return (
            (slice(0, t), slice(0, w)),
            (slice(0, middle), slice(w - t, w)),
            (slice(middle, h), slice(w - t, w)),
            (slice(h - t, h), slice(0, w)),
            (slice(middle, h), slice(0, t)),
            (slice(0, middle), slice(0, t)),
            (slice(middle - t // 2, middle - t // 2 + t), slice(0, w)),
        )

    def probes(self) -> tuple[tuple[int, int], ...]:
        """One point per segment, in the segment's middle and away from where segments meet."""
        w, h, t = self.digit_width, self.digit_height, self.stroke
        return (
            (t // 2, w // 2),
            (h // 4, w - 1 - t // 2),
            (3 * h // 4, w - 1 - t // 2),
            (h - 1 - t // 2, w // 2),
            (3 * h // 4, t // 2),
            (h // 4, t // 2),
            (h // 2, w // 2),
        )


def _draw_counter(luma: Plane, layout: CounterLayout, value: int) -> None:
    margin = layout.margin
    luma[
        layout.top - margin : layout.top + layout.digit_height + margin,
        layout.left - margin : layout.right + margin,
    ] = DARK
    text = f"{value % 10**DIGITS:0{DIGITS}d}"
    for position, character in enumerate(text):
        pattern = SEGMENT_PATTERNS[int(character)]
        left = layout.digit_left(position)
        for index, (rows, columns) in enumerate(layout.segments()):
            if pattern & (1 << (6 - index)):
                luma[
                    layout.top + rows.start : layout.top + rows.stop,
                    left + columns.start : left + columns.stop,
                ] = BRIGHT


def _is_bright(luma: npt.NDArray[np.uint8], row: int, column: int, radius: int) -> bool:
    # Averaging a small patch rather than one pixel rides out compression ringing.
    patch = luma[row - radius + 1 : row + radius, column - radius + 1 : column + radius]
    return bool(patch.mean() > (BRIGHT + DARK) / 2)


def read_counter(luma: npt.NDArray[np.uint8]) -> int:
    """The counter shown in a decoded frame's luma plane (rows x columns, 8-bit).

    Raises CounterUnreadable when the plane does not show the counter's digits.
    """
    if luma.ndim != 2:
        raise CounterUnreadable(f"expected a 2-D luma plane, got shape {luma.shape}")
    height, width = luma.shape
    if width < MIN_WIDTH or height < MIN_HEIGHT:
        raise CounterUnreadable(f"a {width}x{height} picture is too small to hold the counter")
    layout = CounterLayout.for_size(width, height)
    radius = max(1, layout.stroke // 4)
    value = 0
    for position in range(DIGITS):
        top, left = layout.top, layout.digit_left(position)
        # The inside of the upper loop is dark in every digit: a bright one means no counter.
        if _is_bright(luma, top + layout.digit_height // 4, left + layout.digit_width // 2, radius):
            raise CounterUnreadable(f"no dark digit background at digit {position}")
        pattern = 0
        for row, column in layout.probes():
            pattern = (pattern << 1) | _is_bright(luma, top + row, left + column, radius)
        digit = DIGIT_BY_PATTERN.get(pattern)
        if digit is None:
            raise CounterUnreadable(f"digit {position} shows segments {pattern:07b}")
        value = value * 10 + digit
    return value


def _colour_bars(width: int, height: int) -> Plane:
    """A yuv420p picture (Y rows, then U, then V) of eight vertical colour bars."""
    # BT.601 limited-range Y, U, V of white, yellow, cyan, green, magenta, red, blue, black.
    bars = np.array(
        [
            (235, 128, 128),
            (210, 16, 146),
            (170, 166, 16),
            (145, 54, 34),
            (106, 202, 222),
            (81, 90, 240),
            (41, 240, 110),
            (16, 128, 128),
        ],
        dtype=np.uint8,
    )
    bar_of_column = np.arange(width) * len(bars) // width
    luma = np.repeat(bars[bar_of_column, 0][np.newaxis, :], height, axis=0)
    chroma_columns = bar_of_column[::2]
    u = np.repeat(bars[chroma_columns, 1][np.newaxis, :], height // 2, axis=0)
    v = np.repeat(bars[chroma_columns, 2][np.newaxis, :], height // 2, axis=0)
    # yuv420p as one array: the U and V planes are half width, so two chroma rows share a row.
    return np.concatenate([luma, u.reshape(-1, width), v.reshape(-1, width)])


def _draw_block(luma: Plane, index: int) -> None:
    """A dark block a quarter of the width and half the height in the middle band, at a place
    that changes with every picture (a stride prime to any likely GOP or loop length)."""
    height, width = luma.shape
    block_width, block_height = width // 4, height // 2
    left = (index * 7 % 12) * (width - block_width) // 11
    luma[height // 4 : height // 4 + block_height, left : left + block_width] = DARK


class TestPattern:
    """Encodes an endless (or `count`-long) stream of numbered test pictures."""

    __test__ = False  # not a pytest test class, despite the name

    def __init__(
        self,
        codec: Literal["h264", "jpeg"] = "h264",
        width: int = 1280,
        height: int = 720,
        fps: int = 15,
        gop: int | None = None,
        motion: bool = False,
    ) -> None:
        """`motion` adds a big block that jumps to a new place in every picture, so motion
        detection sees motion in any two pictures it compares (docs/motion.md)."""
        if codec not in ("h264", "jpeg"):
            raise ValueError(f"unsupported codec {codec!r}")
        if width < MIN_WIDTH or height < MIN_HEIGHT or width % 2 or height % 2:
            raise ValueError(
                f"size {width}x{height}: must be even and at least {MIN_WIDTH}x{MIN_HEIGHT}"
            )
        if not 1 <= fps <= 120:
            raise ValueError(f"fps {fps} out of range 1..120")
        if gop is not None and gop < 1:
            raise ValueError(f"gop {gop} must be at least 1")
        self.codec: Codec = codec
        self.width = width
        self.height = height
        self.fps = fps
        self.gop = gop if gop is not None else fps
        self.motion = motion
        self._layout = CounterLayout.for_size(width, height)
        self._background = _colour_bars(width, height)

    def _encoder(self) -> av.VideoCodecContext:
        if self.codec == "h264":
            context = av.CodecContext.create("libx264", "w")
            context.pix_fmt = "yuv420p"
            # repeat-headers puts SPS/PPS in front of every IDR so a viewer can join at any
            # keyframe; scenecut=0 keeps keyframes exactly `gop` apart.
            context.options = {
                "preset": "veryfast",
                "tune": "zerolatency",
                "profile": "baseline",
                "x264-params": (
                    f"keyint={self.gop}:min-keyint={self.gop}:scenecut=0:repeat-headers=1"
                ),
            }
        else:
            context = av.CodecContext.create("mjpeg", "w")
            context.pix_fmt = "yuvj420p"
            context.qmin = context.qmax = 3  # fixed quality: digits stay crisp at any size
        context.width = self.width
        context.height = self.height
        context.time_base = Fraction(1, self.fps)
        context.framerate = Fraction(self.fps)
        return context

    def picture(self, index: int) -> av.VideoFrame:
        """The raw (unencoded) yuv420p picture numbered `index`."""
        planes = self._background.copy()
        luma = planes[: self.height]
        # A sweep in the lower third shows motion even where the counter is not visible.
        sweep_width = max(2, self.width // 32)
        sweep_left = (index * sweep_width // 2) % (self.width - sweep_width)
        luma[2 * self.height // 3 :, sweep_left : sweep_left + sweep_width] = BRIGHT
        if self.motion:
            _draw_block(luma, index)
        _draw_counter(luma, self._layout, index)
        picture = av.VideoFrame.from_ndarray(planes, format="yuv420p")
        picture.pts = index
        picture.time_base = Fraction(1, self.fps)
        return picture

    def frames(self, count: int | None = None) -> Iterator[MediaFrame]:
        """Frames 0, 1, 2, ... (`count` of them, or forever); timestamp n / fps."""
        if count is not None and count < 0:
            raise ValueError(f"count {count} must not be negative")
        encoder = self._encoder()
        index = 0
        while count is None or index < count:
            yield from self._wrap(encoder.encode(self.picture(index)))
            index += 1
        yield from self._wrap(encoder.encode(None))

    def _wrap(self, packets: list[av.Packet]) -> Iterator[MediaFrame]:
        for packet in packets:
            pts = packet.pts if packet.pts is not None else 0
            yield MediaFrame(
                codec=self.codec,
                data=bytes(packet),
                timestamp=pts / self.fps,
                keyframe=self.codec == "jpeg" or packet.is_keyframe,
            )
