"""The event log: every motion start (the server's detector, or a camera's own report) becomes
a stored event with a snapshot, served at /api/events and, in Tend's shape, /cxs/api/events.

A `Part` (name "events") subscribed to `Motion` on the bus. The snapshot is the camera's
latest picture as JPEG (fakecloud/media/outputs/snapshot.py), written to
`<data_dir>/event-pictures/<event id>.jpg` where /cxs/api/events/{id}/media/thumbnail reads it;
only the newest MAX_PICTURES are kept, so pictures never fill the disk.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

from fakecloud.core.errors import UserError
from fakecloud.core.events import CameraEvent, EventBus, Motion, consume
from fakecloud.media.hub import HubFullError
from fakecloud.media.outputs import MediaOutputs
from fakecloud.media.outputs.pictures import PictureError
from fakecloud.media.outputs.streaming import NoVideoError, UnsupportedCodecError
from fakecloud.store.protocol import CameraStore

log = logging.getLogger(__name__)

PICTURES_DIR = "event-pictures"
MAX_PICTURES = 1000
EVENT_KIND = "motion"
QUEUE = 1024


def keep_newest_pictures(folder: Path, keep: int = MAX_PICTURES) -> int:
    """Delete all but the `keep` newest pictures (by event id); how many were deleted."""
    numbered = sorted(
        (int(path.stem), path) for path in folder.glob("*.jpg") if path.stem.isdigit()
    )
    old = numbered[: max(0, len(numbered) - keep)]
    for _, path in old:
        path.unlink(missing_ok=True)
    return len(old)


class EventLog:
    name = "events"

    def __init__(
        self, data_dir: Path, store: CameraStore, outputs: MediaOutputs, bus: EventBus
    ) -> None:
        self.folder = data_dir / PICTURES_DIR
        self._store = store
        self._outputs = outputs
        self._bus = bus
        self._task: asyncio.Task[None] | None = None
        self.counters = {"stored": 0, "pictures": 0, "without_picture": 0}

    async def start(self) -> None:
        heard = self._bus.subscribe("events", Motion, limit=QUEUE)
        self._task = asyncio.get_running_loop().create_task(
            consume(heard, self._heard), name="events"
        )

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    def status(self) -> dict[str, Any]:
        return dict(self.counters)

    async def _heard(self, event: CameraEvent) -> None:
        if not isinstance(event, Motion) or event.detail.get("state", "start") != "start":
            return  # one stored event per motion: its start (a camera's report has no state)
        try:
            stored = await self._store.add_event(event.camera_id, EVENT_KIND, dict(event.detail))
        except UserError:
            return  # the camera was forgotten meanwhile
        self.counters["stored"] += 1
        try:
            picture = await self._outputs.snapshot(event.camera_id)
        except (NoVideoError, UnsupportedCodecError, PictureError, HubFullError) as error:
            self.counters["without_picture"] += 1
            log.debug("motion event %s has no picture: %s", stored.id, error)
            return
        try:
            await asyncio.to_thread(self._save, stored.id, picture)
        except OSError as error:
            self.counters["without_picture"] += 1
            log.warning("cannot save the picture of motion event %s: %s", stored.id, error)
            return
        self.counters["pictures"] += 1

    def _save(self, event_id: int, picture: bytes) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"{event_id}.jpg"
        partial = path.with_suffix(".part")
        partial.write_bytes(picture)
        partial.replace(path)  # whole or not at all: the thumbnail route never reads half
        keep_newest_pictures(self.folder)
