"""The JSON API for the web app, Home Assistant and scripts."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request, status
from pydantic import BaseModel

from fakecloud.core.config import Settings
from fakecloud.core.errors import UserError
from fakecloud.media.urls import http_paths, snippets, stream_key, urls_for_settings
from fakecloud.web.deps import (
    ListedCameraDep,
    RuntimeDep,
    StoreDep,
    ViewerDep,
    error_responses,
)
from fakecloud.web.ingress import ExternalPrefix
from fakecloud.web.sessions import require_anti_csrf

router = APIRouter(tags=["api"])


def camera_summary(camera: Any, settings: Settings, prefix: str) -> dict[str, Any]:
    return {
        "id": camera.id,
        "alias": camera.alias,
        "mac": camera.mac,
        "name": camera.name,
        "owner": camera.owner,
        "pending": camera.owner is None,
        "online": camera.online,
        "last_ip": camera.last_ip,
        "last_seen": camera.last_seen,
        "firmware": camera.firmware,
        # Where other programs watch (the announce address); the dashboard links `paths`, which
        # are under the prefix the browser sees (Home Assistant's ingress).
        "urls": urls_for_settings(settings, camera.id, camera.name).as_dict(),
        "paths": http_paths(camera.id, prefix),
    }


@router.get("/api/cameras", responses=error_responses(401))
async def list_cameras(
    viewer: ViewerDep, store: StoreDep, runtime: RuntimeDep, prefix: ExternalPrefix
) -> list[dict[str, Any]]:
    """The viewer's cameras and, for an account, the pending ones it may approve."""
    cameras = await store.list_cameras(owner=viewer.login)
    if not viewer.sees_everything:
        cameras += [camera for camera in await store.list_cameras() if camera.owner is None]
    return [camera_summary(camera, runtime.settings, prefix) for camera in cameras]


@router.get("/api/cameras/{camera_id}", responses=error_responses(401, 404))
async def show_camera(
    camera: ListedCameraDep, runtime: RuntimeDep, prefix: ExternalPrefix
) -> dict[str, Any]:
    """The camera, with its URLs and copy-ready snippets for players and NVRs."""
    summary = camera_summary(camera, runtime.settings, prefix)
    urls = urls_for_settings(runtime.settings, camera.id, camera.name)
    return summary | {"snippets": snippets(urls, stream_key(camera.id, camera.name))}


class Approval(BaseModel):
    # Who gets the camera: the logged-in account; a trusted client (no login) must name one.
    account: str | None = None


@router.post("/api/cameras/{camera_id}/approve", responses=error_responses(400, 401, 403, 404))
async def approve_camera(
    camera_id: int,
    approval: Approval,
    request: Request,
    viewer: ViewerDep,
    store: StoreDep,
    runtime: RuntimeDep,
    prefix: ExternalPrefix,
) -> dict[str, Any]:
    """Give a pending camera its owner; its live session (if any) serves them at once.
    Security consideration: an account approves only for itself, and a camera it cannot see
    (another's) reads as missing; the AntiCSRF header keeps cross-site forms out."""
    require_anti_csrf(request)
    account = viewer.login or approval.account
    if account is None or (viewer.login and approval.account not in (None, viewer.login)):
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "name the account you approve for")
    camera = await store.get_camera(camera_id)
    if camera is None or camera.owner not in (None, account):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no camera {camera_id}")
    try:
        camera = await store.approve_camera(camera_id, account)
    except UserError as error:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, str(error)) from None
    broker = runtime.services.broker
    if broker is not None:
        await broker.camera_changed(camera_id)
    return camera_summary(camera, runtime.settings, prefix) | {"proof": camera.proof}
