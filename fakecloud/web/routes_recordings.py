"""Recordings over HTTP: list a camera's clips (or every visible one), download or play one.

A clip is served by Starlette's FileResponse, which answers Range requests, so browsers and
players can seek in it. Access is the API's (fakecloud/web/deps.py): trusted networks, or the
camera's owner.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, status
from fastapi.responses import FileResponse

from fakecloud.recording.part import RecordingPart
from fakecloud.recording.storage import Clip, ClipFolder
from fakecloud.web.deps import CameraDep, RuntimeDep, StoreDep, ViewerDep

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


@router.get("/api/recordings")
async def list_recordings(
    viewer: ViewerDep, store: StoreDep, runtime: RuntimeDep
) -> list[dict[str, Any]]:
    """Every clip of the cameras the viewer may see, newest first."""
    recorder = _recorder(runtime)
    if viewer.sees_everything:
        return await _listed(recorder, None)
    cameras = await store.list_cameras(owner=viewer.login)
    return await _listed(recorder, {camera.id for camera in cameras})


@router.get("/api/cameras/{camera_id}/recordings")
async def camera_recordings(camera: CameraDep, runtime: RuntimeDep) -> list[dict[str, Any]]:
    return await _listed(_recorder(runtime), {camera.id})


@router.get("/api/cameras/{camera_id}/recordings/{name}")
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
