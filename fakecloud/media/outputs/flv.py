"""The web portal's live view: H.264 in an FLV stream (`video/x-flv`), copied, not transcoded."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from fractions import Fraction

import av

from fakecloud.media.frames import MediaFrame
from fakecloud.media.outputs.muxing import ChunkSink, MonotonicClock, video_packet
from fakecloud.media.outputs.pictures import PictureError, picture_size
from fakecloud.media.outputs.streaming import UnsupportedCodecError

CONTENT_TYPE = "video/x-flv"
MILLISECONDS = Fraction(1, 1000)


async def flv_stream(frames: AsyncGenerator[MediaFrame, None]) -> AsyncGenerator[bytes, None]:
    """FLV bytes (header, then one tag per frame) from an H.264 feed whose first frame is a
    keyframe. Closes `frames` when done. JPEG cameras raise UnsupportedCodecError: FLV has no
    JPEG video codec."""
    sink = ChunkSink()
    container: av.container.OutputContainer | None = None
    try:
        first = await anext(frames)
        if first.codec != "h264":
            raise UnsupportedCodecError("this camera sends JPEG; FLV carries only H.264 here")
        loop = asyncio.get_running_loop()
        width, height = await loop.run_in_executor(None, picture_size, first)
        container = av.open(sink, "w", format="flv")
        stream = container.add_mux_stream("h264", width=width, height=height)
        stream.time_base = MILLISECONDS
        clock = MonotonicClock(1000)
        frame = first
        while True:
            try:
                container.mux(video_packet(frame, stream, clock.ticks(frame.timestamp)))
            except (av.FFmpegError, ValueError) as error:
                raise PictureError(f"cannot mux FLV: {error}") from error
            if chunk := sink.take():
                yield chunk
            frame = await anext(frames)
    except StopAsyncIteration:
        return
    finally:
        if container is not None:
            container.close()
        await frames.aclose()
