"""Stored events (motion, with a snapshot) as JSON for the dashboard and scripts; Tend's apps
read the same events at /cxs/api/events (fakecloud/web/routes_cxs.py)."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Query

from fakecloud.motion.events import PICTURES_DIR
from fakecloud.store.models import Event
from fakecloud.web.deps import (
    DatabaseId,
    RuntimeDep,
    StoreDep,
    ViewerDep,
    error_responses,
    visible_camera,
)

router = APIRouter(tags=["events"])

MAX_EVENTS = 500


def event_summary(event: Event, has_picture: bool) -> dict[str, Any]:
    return {
        "id": event.id,
        "camera_id": event.camera_id,
        "time": event.time,
        "kind": event.kind,
        "data": event.data,
        "thumbnail": f"/cxs/api/events/{event.id}/media/thumbnail" if has_picture else None,
    }


@router.get("/api/events", responses=error_responses(401, 404))
async def list_events(
    viewer: ViewerDep,
    store: StoreDep,
    runtime: RuntimeDep,
    camera_id: DatabaseId | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_EVENTS)] = 100,
) -> list[dict[str, Any]]:
    """Newest first: the events of the cameras the viewer may see (or of one of them)."""
    if camera_id is not None:
        cameras = [await visible_camera(camera_id, viewer, store)]
    else:
        cameras = await store.list_cameras(owner=viewer.login)
    found: list[Event] = []
    for camera in cameras:
        found += await store.list_events(camera.id, limit=limit)
    found.sort(key=lambda event: (event.time, event.id), reverse=True)
    page = found[:limit]
    pictures = runtime.settings.data_dir / PICTURES_DIR
    present = await asyncio.to_thread(
        lambda: {event.id for event in page if (pictures / f"{event.id}.jpg").is_file()}
    )
    return [event_summary(event, event.id in present) for event in page]
