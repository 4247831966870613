"""Recordings over HTTP: list a camera's clips (or every visible one), download or play one;
and each camera's recording and motion options.

A clip is served by Starlette's FileResponse, which answers Range requests, so browsers and
players can seek in it. Access is the API's (fakecloud/web/deps.py): trusted networks, or the
camera's owner.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Request, status
from fastapi.responses import FileResponse
from pydantic import BaseModel, ConfigDict, Field, field_validator

from fakecloud.motion.detector import MAX_ZONES, parse_zones
from fakecloud.motion.part import MotionPart
from fakecloud.recording.part import RecordingPart
from fakecloud.recording.plan import RecordMode
from fakecloud.recording.storage import Clip, ClipFolder
from fakecloud.web.deps import CameraDep, RuntimeDep, StoreDep, ViewerDep, error_responses
from fakecloud.web.sessions import require_anti_csrf

router = APIRouter(tags=["recordings"])

MAX_LISTED = 1000
ClipName = Annotated[str, Path(max_length=64)]


def _recorder(runtime: RuntimeDep) -> RecordingPart:
    part = runtime.part("recordings")
    if not isinstance(part, RecordingPart):
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "recordings are not running")
    return part


def clip_summary(clip: Clip, writing: frozenset[str]) -> dict[str, Any]:
    return {
        "camera_id": clip.camera_id,
        "name": clip.name,
        "reason": clip.reason,
        "started": clip.started,
        "seconds": round(clip.seconds, 1),
        "bytes": clip.bytes,
        "recording": clip.name in writing,
        "url": f"/api/cameras/{clip.camera_id}/recordings/{clip.name}",
    }


async def _listed(recorder: RecordingPart, camera_ids: set[int] | None) -> list[dict[str, Any]]:
    folder: ClipFolder = recorder.folder
    clips = await asyncio.to_thread(folder.clips)
    writing = recorder.open_paths()
    visible = [clip for clip in clips if camera_ids is None or clip.camera_id in camera_ids]
    return [clip_summary(clip, writing) for clip in visible[:MAX_LISTED]]


@router.get("/api/recordings", responses=error_responses(401, 503))
async def list_recordings(
    viewer: ViewerDep, store: StoreDep, runtime: RuntimeDep
) -> list[dict[str, Any]]:
    """Every clip of the cameras the viewer may see, newest first."""
    recorder = _recorder(runtime)
    if viewer.sees_everything:
        return await _listed(recorder, None)
    cameras = await store.list_cameras(owner=viewer.login)
    return await _listed(recorder, {camera.id for camera in cameras})


@router.get("/api/cameras/{camera_id}/recordings", responses=error_responses(401, 404, 503))
async def camera_recordings(camera: CameraDep, runtime: RuntimeDep) -> list[dict[str, Any]]:
    return await _listed(_recorder(runtime), {camera.id})


@router.get("/api/cameras/{camera_id}/recordings/{name}", responses=error_responses(401, 404, 503))
async def recording_file(
    camera: CameraDep, name: ClipName, runtime: RuntimeDep, download: bool = False
) -> FileResponse:
    """The clip as video/mp4 (Range requests answered); `?download=1` names it an attachment."""
    clip = await asyncio.to_thread(_recorder(runtime).folder.find, camera.id, name)
    if clip is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no recording {name}")
    return FileResponse(
        clip.path,
        media_type="video/mp4",
        filename=f"camera{camera.id}-{clip.name}" if download else None,
        content_disposition_type="attachment" if download else "inline",
    )


class CameraOptions(BaseModel):
    """A camera's own recording and motion options (unset: FAKECLOUD_RECORD_MODE and
    FAKECLOUD_MOTION_* apply). `null` in a PATCH removes the camera's own choice."""

    model_config = ConfigDict(extra="forbid")

    record: RecordMode | None = None
    motion_detection: bool | None = None
    motion_sensitivity: float | None = Field(None, ge=0, le=1)
    motion_zones: list[list[float]] | None = Field(None, max_length=MAX_ZONES)

    @field_validator("motion_zones")
    @classmethod
    def _zones(cls, value: list[list[float]] | None) -> list[list[float]] | None:
        parse_zones(value)  # ValueError becomes a 422 with its message
        return value


OPTION_NAMES = tuple(CameraOptions.model_fields)


def _options_of(settings: dict[str, Any]) -> dict[str, Any]:
    return {name: settings.get(name) for name in OPTION_NAMES}


@router.get("/api/cameras/{camera_id}/options", responses=error_responses(401, 404))
async def camera_options(camera: CameraDep) -> dict[str, Any]:
    return _options_of(camera.settings)


@router.patch("/api/cameras/{camera_id}/options", responses=error_responses(401, 403, 404, 503))
async def change_camera_options(
    camera: CameraDep,
    options: CameraOptions,
    request: Request,
    store: StoreDep,
    runtime: RuntimeDep,
) -> dict[str, Any]:
    """Change the options sent (the others stay); recording and detection follow at once.
    Security consideration: the AntiCSRF header keeps cross-site forms out."""
    require_anti_csrf(request)
    settings = dict(camera.settings)
    for name, value in options.model_dump(exclude_unset=True).items():
        if value is None:
            settings.pop(name, None)
        else:
            settings[name] = value
    await store.update_camera(camera.id, settings=settings)
    for part in runtime.parts:
        if isinstance(part, RecordingPart | MotionPart):
            await part.refresh()
    return _options_of(settings)
