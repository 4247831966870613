"""Motion JPEG over HTTP: `multipart/x-mixed-replace`, the format browsers show in an <img>."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator

from fakecloud.media.frames import MediaFrame
from fakecloud.media.outputs.pictures import H264Decoder, JpegEncoder

BOUNDARY = "fakecloud-mjpeg-frame"
CONTENT_TYPE = f"multipart/x-mixed-replace; boundary={BOUNDARY}"


def multipart_part(jpeg: bytes) -> bytes:
    header = (
        f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(jpeg)}\r\n\r\n"
    ).encode("ascii")
    return header + jpeg + b"\r\n"


class _Transcoder:
    """H.264 in, JPEG out at no more than `max_fps` (by the stream's own timestamps)."""

    def __init__(self, max_fps: float, qscale: int):
        self.decoder = H264Decoder()
        self.encoder = JpegEncoder(qscale)
        self.interval = 1.0 / max_fps
        self.next_at: float | None = None

    def convert(self, frame: MediaFrame) -> bytes | None:
        # Every access unit is decoded (later frames reference it); only some are encoded.
        picture = self.decoder.decode(frame)
        if picture is None:
            return None
        due = self.next_at is None or frame.timestamp >= self.next_at
        # A timestamp far behind the schedule means the camera restarted its clock.
        restarted = self.next_at is not None and frame.timestamp < self.next_at - 2 * self.interval
        if not (due or restarted):
            return None
        self.next_at = frame.timestamp + self.interval
        return self.encoder.encode(picture)


async def mjpeg_stream(
    frames: AsyncGenerator[MediaFrame, None], *, max_fps: float = 5.0, qscale: int = 5
) -> AsyncGenerator[bytes, None]:
    """Multipart body parts: JPEG frames pass through untouched, H.264 is decoded and re-encoded
    in the default executor. Closes `frames` when done."""
    loop = asyncio.get_running_loop()
    transcoder = _Transcoder(max_fps, qscale)
    try:
        async for frame in frames:
            if frame.codec == "jpeg":
                yield multipart_part(frame.data)
                continue
            jpeg = await loop.run_in_executor(None, transcoder.convert, frame)
            if jpeg is not None:
                yield multipart_part(jpeg)
    finally:
        await frames.aclose()
