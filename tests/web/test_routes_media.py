"""Clear errors from every media route: unknown camera, silent camera, stopped service."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from tests.media.outputs.conftest import (
    H264_CAMERA,
    SILENT_CAMERA,
    UNKNOWN_CAMERA,
    MediaServer,
    running_media_server,
)


@pytest.fixture
async def media_server() -> AsyncIterator[MediaServer]:
    async with running_media_server() as server:
        yield server


ROUTES = [
    "/api/cameras/{}/snapshot.jpg",
    "/cxs/api/devices/{}/cam/recentImage.jpg",
    "/api/cameras/{}/stream.mjpeg",
    "/api/cameras/{}/hls/index.m3u8",
    "/api/cameras/{}/hls/ll.m3u8",
    "/cxs/api/devices/{}/cam/liveStream?type=video/x-flv&viewerSessionId=1",
]


@pytest.mark.parametrize("route", ROUTES)
async def test_unknown_camera_is_404(media_server: MediaServer, route: str) -> None:
    async with httpx.AsyncClient(base_url=media_server.base_url, timeout=20) as client:
        response = await client.get(route.format(UNKNOWN_CAMERA))
    assert response.status_code == 404
    assert response.json() == {"detail": f"no camera {UNKNOWN_CAMERA}"}


async def test_silent_camera_is_504_on_every_route() -> None:
    async with (
        running_media_server(video_timeout=0.2) as media_server,
        httpx.AsyncClient(base_url=media_server.base_url, timeout=20) as client,
    ):
        for route in ROUTES:
            response = await client.get(route.format(SILENT_CAMERA))
            assert response.status_code == 504, route
            assert f"camera {SILENT_CAMERA}" in response.json()["detail"]
        camera = media_server.hub.status()["cameras"][str(SILENT_CAMERA)]
        assert camera["frames"] == 0 and camera["streaming"] is True


async def test_expired_segment_is_404(media_server: MediaServer) -> None:
    async with httpx.AsyncClient(base_url=media_server.base_url, timeout=20) as client:
        response = await client.get(f"/api/cameras/{H264_CAMERA}/hls/segment_12.ts")
    assert response.status_code == 404
    assert "not live" in response.json()["detail"]


async def test_bad_id_and_missing_service(media_server: MediaServer) -> None:
    async with httpx.AsyncClient(base_url=media_server.base_url, timeout=20) as client:
        assert (await client.get("/api/cameras/abc/snapshot.jpg")).status_code == 422
        media_server.services.media_outputs = None
        response = await client.get(f"/api/cameras/{H264_CAMERA}/snapshot.jpg")
    assert response.status_code == 503
    assert response.json() == {"detail": "media_outputs is not running"}
