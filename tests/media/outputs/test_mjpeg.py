"""MJPEG over real HTTP, read by ffprobe and by a multipart reader."""

from __future__ import annotations

import httpx

from fakecloud.media.outputs.mjpeg import BOUNDARY
from tests.media.outputs.conftest import H264_CAMERA, JPEG_CAMERA, MediaServer, ffprobe
from tests.media.outputs.test_snapshot import counter_of


async def read_parts(response: httpx.Response, count: int) -> list[bytes]:
    """The first `count` JPEG bodies of a multipart/x-mixed-replace stream."""
    buffer = b""
    parts: list[bytes] = []
    async for chunk in response.aiter_bytes():
        buffer += chunk
        while len(parts) < count and b"\r\n\r\n" in buffer:
            head, _, rest = buffer.partition(b"\r\n\r\n")
            assert head.startswith(f"--{BOUNDARY}\r\n".encode())
            length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
            if len(rest) < length + 2:
                break
            parts.append(rest[:length])
            buffer = rest[length + 2 :]
        if len(parts) == count:
            return parts
    raise AssertionError(f"the stream ended after {len(parts)} parts")


async def test_ffprobe_reads_transcoded_h264_as_mjpeg(media_server: MediaServer) -> None:
    stream = await ffprobe(media_server.url(f"/api/cameras/{H264_CAMERA}/stream.mjpeg"))
    assert (stream["codec_name"], stream["width"], stream["height"]) == ("mjpeg", 1280, 720)
    # ffprobe hung up: its subscription ends and the idle camera is released.
    assert await media_server.released.get() == H264_CAMERA


async def test_h264_parts_count_up_at_a_bounded_rate(media_server: MediaServer) -> None:
    camera = media_server.cameras[H264_CAMERA]
    url = f"/api/cameras/{H264_CAMERA}/stream.mjpeg"
    async with (
        httpx.AsyncClient(base_url=media_server.base_url, timeout=20) as client,
        client.stream("GET", url) as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("multipart/x-mixed-replace")
        parts = await read_parts(response, 3)
    counters = [counter_of(part)[0] for part in parts]
    # 15 fps in, at most 5 fps out: consecutive pictures are 3 frames apart.
    assert counters[1] - counters[0] == 3 and counters[2] - counters[1] == 3
    assert camera.published


async def test_jpeg_frames_pass_through(media_server: MediaServer) -> None:
    url = f"/api/cameras/{JPEG_CAMERA}/stream.mjpeg"
    async with (
        httpx.AsyncClient(base_url=media_server.base_url, timeout=20) as client,
        client.stream("GET", url) as response,
    ):
        parts = await read_parts(response, 5)
    published = [frame.data for frame in media_server.cameras[JPEG_CAMERA].published]
    assert all(part in published for part in parts)
    assert [counter_of(part)[1] for part in parts] == [(320, 240)] * 5
