"""The JSON API for the dashboard, Home Assistant and scripts."""

from __future__ import annotations

from importlib.resources import files
from typing import Any

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from fakecloud.web.deps import CameraDep, StoreDep, ViewerDep

router = APIRouter(tags=["api"])


def camera_summary(camera: Any) -> dict[str, Any]:
    base = f"/api/cameras/{camera.id}"
    return {
        "id": camera.id,
        "alias": camera.alias,
        "mac": camera.mac,
        "name": camera.name,
        "owner": camera.owner,
        "online": camera.online,
        "last_ip": camera.last_ip,
        "last_seen": camera.last_seen,
        "firmware": camera.firmware,
        "urls": {
            "snapshot": f"{base}/snapshot.jpg",
            "mjpeg": f"{base}/stream.mjpeg",
            "hls": f"{base}/hls/index.m3u8",
            "flv": f"/cxs/api/devices/{camera.id}/cam/liveStream?type=video/x-flv",
        },
    }


@router.get("/api/cameras")
async def list_cameras(viewer: ViewerDep, store: StoreDep) -> list[dict[str, Any]]:
    return [camera_summary(camera) for camera in await store.list_cameras(owner=viewer.login)]


@router.get("/api/cameras/{camera_id}")
async def show_camera(camera: CameraDep) -> dict[str, Any]:
    return camera_summary(camera)


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
async def dashboard(viewer: ViewerDep) -> str:
    return files("fakecloud.web").joinpath("static/dashboard.html").read_text()
