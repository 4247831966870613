"""HLS over real HTTP: a live playlist of keyframe-cut MPEG-TS segments, read by ffprobe."""

from __future__ import annotations

import asyncio

import httpx

from fakecloud.media.outputs.packaging import PLAYER_RELOADS_COVERED
from fakecloud.media.testpattern import TestPattern
from tests.media.outputs.conftest import (
    H264_CAMERA,
    JPEG_CAMERA,
    SILENT_CAMERA,
    MediaServer,
    ffprobe,
    running_media_server,
)

PLAYLIST = "/api/cameras/{}/hls/index.m3u8"


async def test_ffprobe_reads_the_playlist(media_server: MediaServer) -> None:
    stream = await ffprobe(media_server.url(PLAYLIST.format(H264_CAMERA)))
    assert (stream["codec_name"], stream["width"], stream["height"]) == ("h264", 1280, 720)


async def test_playlist_slides_and_segments_are_served(media_server: MediaServer) -> None:
    camera = media_server.cameras[H264_CAMERA]
    async with (
        httpx.AsyncClient(base_url=media_server.base_url, timeout=20) as client,
        media_server.hub.subscribe(H264_CAMERA),  # keeps the camera streaming between requests
    ):
        response = await client.get(PLAYLIST.format(H264_CAMERA))
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("application/vnd.apple.mpegurl")
        lines = response.text.splitlines()
        assert lines[:3] == ["#EXTM3U", "#EXT-X-VERSION:3", "#EXT-X-TARGETDURATION:1"]
        assert "#EXT-X-MEDIA-SEQUENCE:0" in lines
        durations = [float(line[8:-1]) for line in lines if line.startswith("#EXTINF:")]
        assert durations and all(0.9 < duration <= 1.01 for duration in durations)
        segment = lines[-1]
        data = await client.get(f"/api/cameras/{H264_CAMERA}/hls/{segment}")
        assert data.status_code == 200
        assert data.headers["content-type"] == "video/mp2t"
        assert data.content[0] == 0x47 and len(data.content) % 188 == 0  # TS sync, whole packets
        # Eight GOPs later the window (2 segments, 3 more kept for late clients) is past 0.
        await camera.wait_for_frames(8 * camera.pattern.gop)
        later = (await client.get(PLAYLIST.format(H264_CAMERA))).text.splitlines()
        sequence = int(next(line for line in later if "MEDIA-SEQUENCE" in line).split(":")[1])
        assert sequence >= 5
        assert sum(line.startswith("segment_") for line in later) == 2
        gone = await client.get(f"/api/cameras/{H264_CAMERA}/hls/segment_0.ts")
        assert gone.status_code == 404


async def test_jpeg_camera_has_no_hls(media_server: MediaServer) -> None:
    async with httpx.AsyncClient(base_url=media_server.base_url, timeout=20) as client:
        response = await client.get(PLAYLIST.format(JPEG_CAMERA))
    assert response.status_code == 409
    assert "stream.mjpeg" in response.json()["detail"]


async def test_a_linger_shorter_than_a_slow_first_segment_does_not_end_the_wait() -> None:
    async with (
        running_media_server(hls_linger=0.05, video_timeout=6.0) as server,
        httpx.AsyncClient(base_url=server.base_url, timeout=20) as client,
    ):
        request = asyncio.create_task(client.get(PLAYLIST.format(SILENT_CAMERA)))
        # Simulating a camera that starts later than the shortest possible linger (3 s).
        await asyncio.sleep(PLAYER_RELOADS_COVERED + 0.5)
        for frame in TestPattern("h264", 320, 240, fps=15).frames(16):
            server.hub.publish(SILENT_CAMERA, frame)
        response = await request
    assert response.status_code == 200, response.text
    assert "segment_0.ts" in response.text
