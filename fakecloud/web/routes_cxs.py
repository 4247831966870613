"""The Seedonk/Tend REST API (`/cxs/api`) used by the app and web portal (PROTOCOL.md 2, 6)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Header, HTTPException, Request, Response, status
from pydantic import BaseModel, Field

from fakecloud.web.deps import SESSION_COOKIE, CameraDep, StoreDep, ViewerDep

router = APIRouter(prefix="/cxs/api", tags=["seedonk"])


class LoginRequest(BaseModel):
    username: str = Field(max_length=256)
    password: str = Field(max_length=1024)


def device_record(camera: Any) -> dict[str, Any]:
    """A camera in the shape Belkin's server returned for `GET /cxs/api/devices/{id}`."""
    settings = camera.settings or {}
    properties = camera.properties or {}
    return {
        "id": str(camera.id),
        "alias": camera.alias,
        "type": "cam",
        "ownership": {"ownerId": camera.owner},
        "cap": {
            "cam": {
                "resList": [
                    {"id": f"{w}x{h}", "descr": f"{w}x{h}", "w": w, "h": h}
                    for w, h in ((320, 180), (640, 360), (1280, 720))
                ],
                "codecList": ["H264"],
                "fpsMin": 1,
                "fpsMax": 25,
                "motion": True,
                "recordingType": "video",
                "motionService": {"eventTypeList": ["MOTION_MJPEG"]},
            }
        },
        "hw": {
            "platform": "Seedonk:Imogen-IV",
            "partnerId": "Belkin",
            "model": properties.get("model", "NetCam"),
            "firmwareVer": camera.firmware or "",
        },
        "net": {"eth": {"mac": camera.mac, "lip": camera.last_ip or "", "lport": 9490}},
        "status": {"online": camera.online, "deleted": False},
        "settings": {
            "displayName": camera.name or camera.alias,
            "timeZone": settings.get("timeZone", "UTC"),
            "p2pKey": camera.p2p_key,
            "cam": settings.get("cam", {}),
        },
    }


@router.post("/auth/login")
async def login(
    body: LoginRequest,
    request: Request,
    response: Response,
    store: StoreDep,
    anti_csrf: str | None = Header(default=None, alias="AntiCSRF"),
) -> dict[str, Any]:
    # Security consideration: the portal always sent this header; a cross-site form cannot.
    if anti_csrf is None:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "missing AntiCSRF header")
    account = await store.verify_password(body.username, body.password)
    if account is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "wrong login or password")
    token = request.app.state.runtime.services["web_sessions"].create(account.login)
    response.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="lax")
    return {"userId": account.login, "username": account.login}


@router.post("/auth/logout")
async def logout(request: Request, response: Response) -> dict[str, str]:
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        request.app.state.runtime.services["web_sessions"].end(token)
    response.delete_cookie(SESSION_COOKIE)
    return {"status": "ok"}


@router.get("/devices")
async def devices(viewer: ViewerDep, store: StoreDep) -> list[dict[str, Any]]:
    cameras = await store.list_cameras(owner=viewer.login)
    return [device_record(camera) for camera in cameras]


@router.get("/devices/{camera_id}")
async def device(camera: CameraDep) -> dict[str, Any]:
    return device_record(camera)


@router.post("/devices/{camera_id}/do/wakeup")
async def wakeup(camera: CameraDep) -> dict[str, Any]:
    # NetCams have no sleep mode (PWR_SLEEP_MODE is a battery-camera feature): report the state.
    return {"id": str(camera.id), "online": camera.online}
