"""What the web app's camera page changes and shows besides video: rename, video settings (sent
to the camera as `modify-device`), forget, recent events and the connection's details."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, status
from fastapi.responses import Response
from pydantic import BaseModel, Field

from fakecloud.broker.routing import BrokerError, CameraOfflineError
from fakecloud.core.errors import UserError
from fakecloud.net.commands import format_command, format_plus_fields
from fakecloud.store.models import MAX_NAME_LENGTH
from fakecloud.web.csrf import require_csrf
from fakecloud.web.deps import CameraDep, RuntimeDep, StoreDep, error_responses
from fakecloud.web.ingress import ExternalPrefix
from fakecloud.web.routes_api import camera_summary

router = APIRouter(prefix="/api/cameras/{camera_id}", tags=["api"])
CsrfChecked = [Depends(require_csrf)]

# The sizes the device record offers (routes_cxs.device_record's resList), in its order. That
# SIZE in modify-device is an index into this list is a hypothesis [I]: docs/web.md.
VIDEO_SIZES = ("320x180", "640x360", "1280x720")
COMMAND_TIMEOUT = 10.0  # seconds a camera has to acknowledge


class NewName(BaseModel):
    # An empty name clears it: the camera is shown by its alias again.
    name: Annotated[str, Field(max_length=MAX_NAME_LENGTH)]


class VideoSettings(BaseModel):
    size: Literal["320x180", "640x360", "1280x720"]
    fps: Annotated[int, Field(ge=1, le=25)]
    # QTY's scale is not documented; 3 is what the apps' example sends [I].
    quality: Annotated[int, Field(ge=1, le=5)]


def modify_device(camera_id: int, video: VideoSettings) -> str:
    """`modify-device|<id>|QTY=3+FPS=20+SIZE=0+SAVE=1|` (docs/protocol.md section 3.6); SAVE=1
    asks the camera to keep the settings across a restart [I]."""
    fields = {
        "QTY": video.quality,
        "FPS": video.fps,
        "SIZE": VIDEO_SIZES.index(video.size),
        "SAVE": 1,
    }
    return format_command("modify-device", str(camera_id), format_plus_fields(fields))


@router.put("/name", dependencies=CsrfChecked, responses=error_responses(400, 401, 403, 404))
async def rename(
    camera: CameraDep, new: NewName, store: StoreDep, runtime: RuntimeDep, prefix: ExternalPrefix
) -> dict[str, Any]:
    """Stored by fakecloud, which answers the camera's own name lookup with it
    (/camsetup/retrievecamera.php); no command is known that renames a camera directly."""
    try:
        renamed = await store.update_camera(camera.id, name=new.name.strip())
    except UserError as error:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, str(error)) from None
    return camera_summary(renamed, runtime.settings, prefix)


@router.put(
    "/video", dependencies=CsrfChecked, responses=error_responses(400, 401, 403, 404, 409, 503, 504)
)
async def set_video(
    camera: CameraDep, video: VideoSettings, store: StoreDep, runtime: RuntimeDep
) -> dict[str, Any]:
    """Sends modify-device and waits for the camera's answer; the settings are stored once the
    camera answered, so the page shows what the camera was last told."""
    broker = runtime.services.broker
    if broker is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "broker is not running")
    command = modify_device(camera.id, video)
    try:
        answer = await broker.send_command(camera.id, command, timeout=COMMAND_TIMEOUT)
    except CameraOfflineError as error:
        raise HTTPException(status.HTTP_409_CONFLICT, str(error)) from None
    except BrokerError as error:
        raise HTTPException(status.HTTP_504_GATEWAY_TIMEOUT, str(error)) from None
    settings = {**camera.settings, "video": video.model_dump()}
    await store.update_camera(camera.id, settings=settings)
    return {"sent": command, "answer": answer.body.decode("utf-8", "replace")}


@router.delete(
    "", dependencies=CsrfChecked, status_code=204, responses=error_responses(401, 403, 404)
)
async def forget(camera: CameraDep, store: StoreDep) -> Response:
    """Delete the camera and its events. If it logs in again it comes back as a new camera
    (pending, or its owner's when its login carries the owner's credentials)."""
    try:
        await store.forget_camera(camera.id)
    except UserError as error:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(error)) from None
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/events", responses=error_responses(401, 404))
async def recent_events(
    camera: CameraDep, store: StoreDep, limit: Annotated[int, Query(ge=1, le=100)] = 20
) -> list[dict[str, Any]]:
    return [event.to_json() for event in await store.list_events(camera.id, limit)]


@router.get("/connection", responses=error_responses(401, 404))
async def connection(camera: CameraDep, store: StoreDep, runtime: RuntimeDep) -> dict[str, Any]:
    """How the camera is connected now (its CXNet session, if online; what the media relay
    carries for it: each stream, the camera's sockets, sessions, viewers) and its recent logins."""
    broker = runtime.services.broker
    session = broker.camera_session(camera.id) if broker is not None else None
    live = None
    if session is not None:
        info = session.info
        live = {
            "id": info.id,
            "peer": f"{info.peer[0]}:{info.peer[1]}",
            "port": info.local_port,
            "tls": info.tls,
            "sni": info.sni,
            "login": session.login,
        }
    relay = runtime.services.relay
    history = await store.list_sessions(camera.id, limit=10)
    record = camera.to_json()
    return {
        "online": camera.online,
        "last_ip": camera.last_ip,
        "firmware": camera.firmware,
        "first_seen": record["first_seen"],
        "last_seen": record["last_seen"],
        "session": live,
        "relay": relay.camera_streams(camera.id) if relay is not None else [],
        "history": [entry.to_json() for entry in history],
        "video": camera.settings.get("video"),
    }
