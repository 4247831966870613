"""The portal's FLV live view over real HTTP, read by ffprobe."""

from __future__ import annotations

import asyncio

import httpx

from fakecloud.core.config import Settings
from fakecloud.media.hub import MediaHub
from fakecloud.media.outputs import MediaOutputs
from tests.media.outputs.conftest import (
    H264_CAMERA,
    JPEG_CAMERA,
    MediaServer,
    ffprobe,
    running_media_server,
)

LIVE = "/cxs/api/devices/{}/cam/liveStream?type=video/x-flv&viewerSessionId=abc123"


async def test_ffprobe_reads_h264_in_flv(media_server: MediaServer) -> None:
    stream = await ffprobe(media_server.url(LIVE.format(H264_CAMERA)))
    assert (stream["codec_name"], stream["width"], stream["height"]) == ("h264", 1280, 720)


async def test_flv_stream_starts_with_header_and_keyframe(media_server: MediaServer) -> None:
    async with (
        httpx.AsyncClient(base_url=media_server.base_url, timeout=20) as client,
        client.stream("GET", LIVE.format(H264_CAMERA)) as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-type"] == "video/x-flv"
        head = b""
        async for chunk in response.aiter_bytes():
            head += chunk
            if len(head) > 1024:
                break
    assert head[:3] == b"FLV" and head[4] & 0x01  # signature; "has video" flag


async def test_jpeg_camera_has_no_flv(media_server: MediaServer) -> None:
    async with httpx.AsyncClient(base_url=media_server.base_url, timeout=20) as client:
        response = await client.get(LIVE.format(JPEG_CAMERA))
        wrong_type = await client.get(
            f"/cxs/api/devices/{H264_CAMERA}/cam/liveStream?type=video/mp4"
        )
    assert response.status_code == 409
    assert "JPEG" in response.json()["detail"]
    assert wrong_type.status_code == 400


def test_streams_have_no_time_limit_by_default() -> None:
    # Settings' default (0) reaches the outputs as "no deadline": no hourly gap in a recording.
    outputs = MediaOutputs(MediaHub(), max_stream_seconds=Settings().max_stream_seconds)
    assert outputs.limits.max_duration is None


async def test_a_set_time_limit_ends_the_flv_response() -> None:
    async with (
        running_media_server(max_stream_seconds=1.0) as server,
        httpx.AsyncClient(base_url=server.base_url, timeout=20) as client,
        client.stream("GET", LIVE.format(H264_CAMERA)) as response,
    ):
        started = asyncio.get_running_loop().time()
        async with asyncio.timeout(10):  # ends by itself after the 1 s limit
            received = sum([len(chunk) async for chunk in response.aiter_bytes()])
        elapsed = asyncio.get_running_loop().time() - started
    assert received > 0 and 0.9 < elapsed < 5
