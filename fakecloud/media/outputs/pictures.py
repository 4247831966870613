"""Decoding camera H.264 and encoding JPEG pictures with PyAV (call from an executor thread)."""

from __future__ import annotations

from fractions import Fraction

import av
from av.codec.context import Flags

from fakecloud.media.frames import MediaFrame


class PictureError(Exception):
    """A camera frame could not be decoded, or a picture not encoded."""


class H264Decoder:
    """Decodes one camera's access units in order. Not thread-safe: one caller at a time."""

    def __init__(self) -> None:
        context = av.CodecContext.create("h264", "r")
        # Cameras send no B-frames [I]; low delay makes every access unit come out at once.
        context.flags |= Flags.low_delay
        self._context: av.VideoCodecContext | None = context

    def decode(self, frame: MediaFrame) -> av.VideoFrame | None:
        """The picture this access unit completes, if any."""
        if self._context is None:
            raise PictureError("the H.264 decoder is closed")
        try:
            pictures = self._context.decode(av.Packet(frame.data))
        except (av.FFmpegError, ValueError) as error:
            raise PictureError(f"cannot decode H.264: {error}") from error
        return pictures[-1] if pictures else None

    def close(self) -> None:
        """Free the codec and its reference pictures now (PyAV frees a context when dropped)."""
        self._context = None


def picture_size(keyframe: MediaFrame) -> tuple[int, int]:
    """Width and height of an H.264 keyframe (decodes it once)."""
    picture = H264Decoder().decode(keyframe)
    if picture is None:
        raise PictureError("the keyframe does not decode to a picture")
    return picture.width, picture.height


class JpegEncoder:
    """Encodes decoded pictures as baseline JPEG. Not thread-safe: one caller at a time."""

    def __init__(self, qscale: int = 5):
        if not 2 <= qscale <= 31:
            raise ValueError(f"JPEG qscale {qscale} is outside 2 (best) .. 31 (smallest)")
        self.qscale = qscale
        self._context: av.VideoCodecContext | None = None

    def encode(self, picture: av.VideoFrame) -> bytes:
        context = self._context
        if context is None or (context.width, context.height) != (picture.width, picture.height):
            context = self._context = self._open(picture.width, picture.height)
        try:
            # The mjpeg encoder wants full-range YUV; reformat converts limited-range video.
            packets = context.encode(picture.reformat(format="yuvj420p"))
        except (av.FFmpegError, ValueError) as error:
            raise PictureError(f"cannot encode JPEG: {error}") from error
        if not packets:
            raise PictureError("the JPEG encoder produced no picture")
        return bytes(packets[0])

    def close(self) -> None:
        self._context = None

    def _open(self, width: int, height: int) -> av.VideoCodecContext:
        context = av.CodecContext.create("mjpeg", "w")
        context.width = width
        context.height = height
        context.pix_fmt = "yuvj420p"
        context.time_base = Fraction(1, 1)
        context.qmin = context.qmax = self.qscale
        return context
