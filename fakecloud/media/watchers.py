"""One task per camera that has an option switched on (recording, motion detection).

Each task holds a hub subscription while it runs, and a subscription is what makes the hub ask
the camera to stream (fakecloud/media/hub.py): a camera being recorded or watched for motion
streams as if someone were watching it. Which cameras want a task is read from the store every
`interval` seconds and whenever one logs in, so a settings change applies without a restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from fakecloud.core.events import CameraEvent, CameraOnline, EventBus, consume
from fakecloud.store.models import Camera
from fakecloud.store.protocol import CameraStore

log = logging.getLogger(__name__)

REFRESH_SECONDS = 5.0


class CameraTasks:
    """Runs `run(camera)` for every stored camera for which `wanted(camera)` is true; a task
    that ends or fails is started again at the next refresh; a camera no longer wanted has its
    task cancelled."""

    def __init__(
        self,
        name: str,
        store: CameraStore,
        bus: EventBus,
        wanted: Callable[[Camera], bool],
        run: Callable[[Camera], Awaitable[None]],
        interval: float = REFRESH_SECONDS,
    ) -> None:
        self.name = name
        self._store = store
        self._bus = bus
        self._wanted = wanted
        self._run = run
        self._interval = interval
        self._tasks: dict[int, asyncio.Task[None]] = {}
        self._loops: list[asyncio.Task[None]] = []
        # Set by a login: the refresh loop wakes early. A login storm wakes it once, not once
        # per camera (each refresh reads every camera from the store).
        self._wake = asyncio.Event()

    @property
    def cameras(self) -> list[int]:
        return sorted(self._tasks)

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        logins = self._bus.subscribe(self.name, CameraOnline)
        self._loops = [
            loop.create_task(self._every_interval(), name=f"{self.name}-refresh"),
            loop.create_task(consume(logins, self._heard), name=f"{self.name}-logins"),
        ]

    async def stop(self) -> None:
        tasks = [*self._loops, *self._tasks.values()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._loops.clear()
        self._tasks.clear()

    async def refresh(self) -> None:
        """Start and cancel tasks to match the store now."""
        cameras = {camera.id: camera for camera in await self._store.list_cameras()}
        for camera_id, task in list(self._tasks.items()):
            camera = cameras.get(camera_id)
            if task.done() or camera is None or not self._wanted(camera):
                task.cancel()
                del self._tasks[camera_id]
        for camera_id, camera in cameras.items():
            if camera_id not in self._tasks and self._wanted(camera):
                self._tasks[camera_id] = asyncio.get_running_loop().create_task(
                    self._guarded(camera), name=f"{self.name}-{camera_id}"
                )

    async def _guarded(self, camera: Camera) -> None:
        try:
            await self._run(camera)
        except Exception:
            log.exception("%s of camera %s failed; starting again shortly", self.name, camera.id)

    async def _heard(self, event: CameraEvent) -> None:
        self._wake.set()

    async def _every_interval(self) -> None:
        while True:
            self._wake.clear()
            try:
                await self.refresh()
            except Exception:
                log.exception("%s: reading the cameras failed", self.name)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._interval):
                    await self._wake.wait()
