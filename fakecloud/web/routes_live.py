"""Live updates for the web app's pages: cameras coming online, going offline or appearing as
pending, as server-sent events (`GET /api/live`), fed by the event bus."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, HTTPException, Request, status
from fastapi.responses import StreamingResponse

from fakecloud.core.events import CameraEvent, CameraOffline, CameraOnline, CameraPending
from fakecloud.web.deps import RuntimeDep, StoreDep, Viewer, ViewerDep, error_responses

router = APIRouter(tags=["api"])

# Security consideration: each open page holds one subscription and one connection. The count
# is bounded, and so is each queue (a stalled browser loses its oldest events, never memory;
# the page refetches the list whenever it reconnects).
MAX_LISTENERS = 64
QUEUE_LIMIT = 32
# A comment line this often keeps proxies and the browser from calling the stream dead.
KEEPALIVE_SECONDS = 15.0
# The browser reconnects after this many milliseconds when the stream ends (a restart).
RETRY_MILLISECONDS = 2000
WATCHED = (CameraOnline, CameraOffline, CameraPending)


class Listeners:
    """How many pages are listening now; the app keeps one (app.state.live_listeners)."""

    def __init__(self) -> None:
        self.count = 0


def event_message(event: CameraEvent) -> dict[str, Any]:
    """What a page receives: which camera, and what became of it."""
    if isinstance(event, CameraOnline):
        return {"camera_id": event.camera_id, "state": "online", "address": event.address}
    if isinstance(event, CameraOffline):
        return {"camera_id": event.camera_id, "state": "offline", "reason": event.reason}
    assert isinstance(event, CameraPending)
    return {"camera_id": event.camera_id, "state": "pending", "address": event.address}


async def _may_see(viewer: Viewer, store: StoreDep, event: CameraEvent) -> bool:
    if viewer.sees_everything:
        return True
    if isinstance(event, CameraOnline):
        return (event.owner or "").casefold() == (viewer.login or "").casefold()
    if not isinstance(event, CameraOffline | CameraPending):
        return False
    camera = await store.get_camera(event.camera_id)
    return camera is not None and viewer.may_list(camera)


@router.get("/api/live", response_class=StreamingResponse, responses=error_responses(401, 503))
async def live(
    request: Request, viewer: ViewerDep, store: StoreDep, runtime: RuntimeDep
) -> StreamingResponse:
    """`text/event-stream`: an `event: camera` message per change, JSON data
    `{"camera_id", "state": "online"|"offline"|"pending", ...}`."""
    listeners: Listeners = request.app.state.live_listeners
    if listeners.count >= MAX_LISTENERS:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "too many open pages")

    async def messages() -> AsyncIterator[bytes]:
        # Subscribed once the body runs, so a response that never starts holds nothing.
        subscription = runtime.services.bus.subscribe("web-live", *WATCHED, limit=QUEUE_LIMIT)
        listeners.count += 1
        try:
            yield f"retry: {RETRY_MILLISECONDS}\n: connected\n\n".encode()
            while True:
                try:
                    event = await asyncio.wait_for(subscription.get(), KEEPALIVE_SECONDS)
                except TimeoutError:
                    yield b": keepalive\n\n"
                    continue
                except StopAsyncIteration:  # the bus closed the subscription
                    return
                if await _may_see(viewer, store, event):
                    data = json.dumps(event_message(event))
                    yield f"event: camera\ndata: {data}\n\n".encode()
        finally:
            subscription.close()
            listeners.count -= 1

    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    return StreamingResponse(messages(), media_type="text/event-stream", headers=headers)
