"""MJPEG over real HTTP, read by ffprobe and by a multipart reader."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from typing import Any

import httpx

from fakecloud.media.outputs.mjpeg import BOUNDARY
from tests.media.outputs.conftest import H264_CAMERA, JPEG_CAMERA, MediaServer, ffprobe
from tests.media.outputs.test_snapshot import counter_of


class PartReader:
    """Reads the JPEG bodies of a multipart/x-mixed-replace stream, one call after another
    (one byte iterator for the whole response: dropping it would close the connection)."""

    def __init__(self, response: httpx.Response):
        self._chunks = response.aiter_bytes()
        self._buffer = b""

    async def read(self, count: int) -> list[bytes]:
        parts: list[bytes] = []
        while True:
            while len(parts) < count and b"\r\n\r\n" in self._buffer:
                head, _, rest = self._buffer.partition(b"\r\n\r\n")
                assert head.startswith(f"--{BOUNDARY}\r\n".encode())
                length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
                if len(rest) < length + 2:
                    break
                parts.append(rest[:length])
                self._buffer = rest[length + 2 :]
            if len(parts) == count:
                return parts
            chunk = await anext(self._chunks, None)
            if chunk is None:
                raise AssertionError(f"the stream ended after {len(parts)} parts")
            self._buffer += chunk


async def read_parts(response: httpx.Response, count: int) -> list[bytes]:
    """The first `count` JPEG bodies of a multipart/x-mixed-replace stream."""
    return await PartReader(response).read(count)


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


def mjpeg_status(media_server: MediaServer) -> dict[str, Any]:
    status: dict[str, Any] = media_server.outputs.status()["mjpeg"]
    return status


async def test_viewers_of_one_camera_share_one_decoder(media_server: MediaServer) -> None:
    url = f"/api/cameras/{H264_CAMERA}/stream.mjpeg"
    viewers = 12
    async with contextlib.AsyncExitStack() as stack:
        client = await stack.enter_async_context(
            httpx.AsyncClient(base_url=media_server.base_url, timeout=20)
        )
        responses = [
            await stack.enter_async_context(client.stream("GET", url)) for _ in range(viewers)
        ]
        assert all(response.status_code == 200 for response in responses)
        readers = [PartReader(response) for response in responses]
        parts = await asyncio.gather(*(reader.read(3) for reader in readers))
        status = mjpeg_status(media_server)
        assert status["decoders"] == 1
        assert status["cameras"][str(H264_CAMERA)]["viewers"] == viewers
        # One hub subscription feeds every MJPEG viewer.
        assert media_server.hub.status()["cameras"][str(H264_CAMERA)]["viewers"] == 1
    for pictures in parts:
        counters = [counter_of(picture) for picture in pictures]
        assert [size for _, size in counters] == [(1280, 720)] * 3
        assert counters[0][0] < counters[1][0] < counters[2][0]
    # The last viewer left: the producer is torn down before its hub subscription ends, so
    # the camera's release (after the hub's linger) finds no decoder left.
    assert await asyncio.wait_for(media_server.released.get(), 10) == H264_CAMERA
    assert mjpeg_status(media_server) == {"decoders": 0, "cameras": {}}


async def test_a_viewer_that_never_reads_does_not_stall_another(
    media_server: MediaServer,
) -> None:
    host, port = media_server.base_url.removeprefix("http://").split(":")
    url = f"/api/cameras/{H264_CAMERA}/stream.mjpeg"
    slow = socket.socket()
    slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    slow.setblocking(False)
    await asyncio.get_running_loop().sock_connect(slow, (host, int(port)))
    try:
        await asyncio.get_running_loop().sock_sendall(
            slow, f"GET {url} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()
        )
        async with (
            httpx.AsyncClient(base_url=media_server.base_url, timeout=20) as client,
            client.stream("GET", url) as response,
        ):
            reader = PartReader(response)
            previous = None
            for _ in range(300):  # bounded: the slow viewer's queue overflows long before
                (picture,) = await reader.read(1)
                counter, _ = counter_of(picture)
                assert previous is None or counter > previous
                previous = counter
                camera = mjpeg_status(media_server)["cameras"][str(H264_CAMERA)]
                if camera["viewers"] == 2 and camera["dropped"] > 0:
                    break
            else:
                raise AssertionError("the slow viewer never lost a picture")
    finally:
        slow.close()


async def test_mjpeg_viewers_per_camera_are_capped(media_server: MediaServer) -> None:
    media_server.outputs.mjpeg_feeds.max_viewers = 2
    url = f"/api/cameras/{H264_CAMERA}/stream.mjpeg"
    async with (
        httpx.AsyncClient(base_url=media_server.base_url, timeout=20) as client,
        client.stream("GET", url) as first,
        client.stream("GET", url) as second,
    ):
        assert (first.status_code, second.status_code) == (200, 200)
        refused = await client.get(url)
        assert refused.status_code == 503
        assert "2 MJPEG viewers" in refused.json()["detail"]
        assert len(await read_parts(second, 1)) == 1
