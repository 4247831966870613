"""The Seedonk/Tend REST API (`/cxs/api`) as the app, the web portal and public clients read it
(docs/protocol.md sections 2, 6 and 9; docs/rest.md)."""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request, Response, status

from fakecloud.motion.events import PICTURES_DIR as EVENT_PICTURES_DIR
from fakecloud.web.deps import (
    CameraDep,
    RuntimeDep,
    StoreDep,
    Viewer,
    ViewerDep,
    password_sign_in,
)
from fakecloud.web.dttm import DttmError, format_dttm, parse_dttm
from fakecloud.web.login_form import LoginFormError, parse_login_form
from fakecloud.web.sessions import end_session, require_anti_csrf, start_session

router = APIRouter(prefix="/cxs/api", tags=["seedonk"])

EVENTS_PAGE = 20  # what a client gets without `limit`
MAX_EVENTS_PAGE = 100
# The store lists a camera's latest events but cannot select by time yet, so `endDttm` pages
# back through at most this many events of each camera.
EVENTS_SCANNED_PER_CAMERA = 1000
# Where the picture of event N is kept: <data dir>/event-pictures/N.jpg (docs/rest.md).
MAX_EVENT_PICTURE_BYTES = 8 << 20


def device_record(camera: Any, owner: Any | None) -> dict[str, Any]:
    """A camera in the shape of Belkin's `GET /cxs/api/devices/{id}` record (docs/protocol.md
    section 6), with what Tend's clients read on top: `serialNumber` (homebridge-myq drops a
    device without one) and `ownership.ownerAlias`, the account alias that prefixes `alias`."""
    settings = camera.settings or {}
    properties = camera.properties or {}
    return {
        "id": str(camera.id),
        "alias": camera.alias,
        "serialNumber": camera.mac.replace(":", ""),
        "type": "cam",
        "ownership": {"ownerId": str(owner.id), "ownerAlias": owner.alias} if owner else {},
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


async def _owner_of(store: Any, camera: Any, known: dict[str, Any]) -> Any | None:
    """The camera's owning account, looked up once per request for each owner."""
    if camera.owner is None:
        return None
    if camera.owner not in known:
        known[camera.owner] = await store.get_account(camera.owner)
    return known[camera.owner]


_LOGIN_BODY = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "properties": {"username": {"type": "string"}, "password": {"type": "string"}},
                "required": ["username", "password"],
            }
        }
    },
}


@router.post("/auth/login", openapi_extra={"requestBody": _LOGIN_BODY})
async def login(
    request: Request,
    response: Response,
    store: StoreDep,
    runtime: RuntimeDep,
) -> dict[str, Any]:
    require_anti_csrf(request)
    try:
        form = parse_login_form(await request.body())
    except LoginFormError as error:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, str(error)) from None
    account = await password_sign_in(request, store, runtime, form.username, form.password)
    if account is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "wrong login or password")
    await start_session(request, response, store, account.login)
    return {"userId": account.login, "username": account.login}


@router.post("/auth/logout")
async def logout(request: Request, response: Response, store: StoreDep) -> dict[str, str]:
    require_anti_csrf(request)
    await end_session(request, response, store)
    return {"status": "ok"}


@router.get("/devices")
async def devices(viewer: ViewerDep, store: StoreDep) -> dict[str, Any]:
    """Tend's list shape, `{"items": [...], "count": n}`, each item the full device record."""
    owners: dict[str, Any] = {}
    items = [
        device_record(camera, await _owner_of(store, camera, owners))
        for camera in await store.list_cameras(owner=viewer.login)
    ]
    return {"items": items, "count": len(items)}


@router.get("/devices/{camera_id}")
async def device(camera: CameraDep, store: StoreDep) -> dict[str, Any]:
    return device_record(camera, await _owner_of(store, camera, {}))


@router.post("/devices/{camera_id}/do/wakeup")
async def wakeup(camera: CameraDep) -> dict[str, Any]:
    # NetCams have no sleep mode (PWR_SLEEP_MODE is a battery-camera feature): report the state.
    return {"id": str(camera.id), "online": camera.online}


def event_item(event: Any) -> dict[str, Any]:
    """An event in the shape Tend's `GET /cxs/api/events?v=2` items have: `id`, `srcId` (the
    camera's id), `dttm`, `status`, `tags` (detection counts such as `peopleCount`). `type`
    and `data` are fakecloud's own: what the camera reported."""
    return {
        "id": str(event.id),
        "srcId": str(event.camera_id),
        "dttm": format_dttm(event.time),
        "status": "complete",
        "tags": {},
        "type": event.kind,
        "data": event.data,
    }


async def _visible_events(store: Any, viewer: Viewer, before: datetime | None) -> list[Any]:
    """The viewer's cameras' events, newest first; only those whose `dttm` is before `before`."""
    found = []
    for camera in await store.list_cameras(owner=viewer.login):
        for event in await store.list_events(camera.id, limit=EVENTS_SCANNED_PER_CAMERA):
            # Compared as the client sees the time (milliseconds), so paging repeats nothing.
            if before is None or _milliseconds(event.time) < before:
                found.append(event)
    found.sort(key=lambda event: (event.time, event.id), reverse=True)
    return found


def _milliseconds(moment: datetime) -> datetime:
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


@router.get("/events")
async def events(
    viewer: ViewerDep,
    store: StoreDep,
    limit: Annotated[int, Query(ge=1)] = EVENTS_PAGE,
    end_dttm: Annotated[str | None, Query(alias="endDttm", max_length=64)] = None,
) -> dict[str, Any]:
    """Newest first. `endDttm` (exclusive) pages back: pass the last item's `dttm`. A `limit`
    above MAX_EVENTS_PAGE gets MAX_EVENTS_PAGE items. `v` (2 in every known client) and
    `includeHidden` are accepted; there is one event shape."""
    try:
        before = parse_dttm(end_dttm) if end_dttm is not None else None
    except DttmError as error:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, f"endDttm: {error}") from None
    page = (await _visible_events(store, viewer, before))[: min(limit, MAX_EVENTS_PAGE)]
    return {"items": [event_item(event) for event in page], "count": len(page)}


@router.get("/events/{event_id}/media/thumbnail")
async def event_thumbnail(
    event_id: int, viewer: ViewerDep, store: StoreDep, runtime: RuntimeDep
) -> Response:
    """The event's picture, or 404 when the event is not the viewer's or has none (the event
    log, fakecloud/motion/events.py, stores one per motion event: docs/motion.md)."""
    known = any(event.id == event_id for event in await _visible_events(store, viewer, None))
    picture = None
    if known:
        path = runtime.settings.data_dir / EVENT_PICTURES_DIR / f"{event_id}.jpg"
        picture = await asyncio.to_thread(_read_picture, path)
    if picture is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"event {event_id} has no thumbnail")
    return Response(picture, media_type="image/jpeg")


def _read_picture(path: Path) -> bytes | None:
    try:
        with path.open("rb") as file:
            data = file.read(MAX_EVENT_PICTURE_BYTES + 1)
    except OSError:
        return None
    return data if 0 < len(data) <= MAX_EVENT_PICTURE_BYTES else None
