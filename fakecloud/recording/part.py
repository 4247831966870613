"""The recorder: a `Part` (name "recordings") that turns cameras' H.264 into clip files.

Per recorded camera one task holds a hub subscription (so the camera streams), feeds the
`ClipPlanner` (fakecloud/recording/plan.py) with frames and with `Motion` events from the bus,
and carries the planner's steps out in a worker thread: file writes never run on the event loop.
The free-space floor is checked at every keyframe: below it recording stops (one warning) and
starts again at the first keyframe after space came back.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from fakecloud.core.config import Settings
from fakecloud.core.events import CameraEvent, EventBus, Motion, RecordingFinished, consume
from fakecloud.media.frames import MediaFrame
from fakecloud.media.hub import MediaHub
from fakecloud.media.watchers import CameraTasks
from fakecloud.recording.plan import ClipPlanner, ClipPolicy, Close, Open, RecordMode, Step, Write
from fakecloud.recording.storage import ClipFolder
from fakecloud.recording.writer import ClipWriter
from fakecloud.store.models import Camera
from fakecloud.store.protocol import CameraStore

log = logging.getLogger(__name__)

RECORD_MODES: tuple[RecordMode, ...] = ("off", "motion", "continuous")
# A camera silent this long has its clip closed (the next keyframe opens a new one).
STALL_SECONDS = 10.0
PRUNE_SECONDS = 60.0
WRITER_THREADS = 2


def record_mode(settings: Settings, camera: Camera) -> RecordMode:
    """The camera's own `record` setting, else the global FAKECLOUD_RECORD_MODE."""
    chosen = camera.settings.get("record")
    for mode in RECORD_MODES:
        if chosen == mode:
            return mode
    return settings.record_mode


@dataclass
class _Camera:
    camera_id: int
    planner: ClipPlanner
    writer: ClipWriter | None = None
    group_bytes: int = 0  # bytes of the latest keyframe group: the room the next one needs
    finished: list[tuple[str, float]] = field(default_factory=list)


class RecordingPart:
    name = "recordings"

    def __init__(
        self, settings: Settings, store: CameraStore, hub: MediaHub, bus: EventBus
    ) -> None:
        self.settings = settings
        self.folder = ClipFolder(
            settings.recordings_dir,
            settings.record_max_age_days * 86400,
            settings.record_max_bytes,
            settings.record_min_free_bytes,
        )
        self._hub = hub
        self._bus = bus
        self._cameras: dict[int, _Camera] = {}
        # Cameras found to send JPEG: not recorded, and not kept streaming for nothing.
        self._jpeg_cameras: set[int] = set()
        self._tasks = CameraTasks("recordings", store, bus, self._wanted, self._record)
        self._pool = ThreadPoolExecutor(WRITER_THREADS, thread_name_prefix="recording")
        self._space_lock = threading.Lock()
        self.out_of_space = False
        self.counters = {"clips": 0, "frames": 0, "write_errors": 0, "paused_for_space": 0}
        self._loops: list[asyncio.Task[None]] = []

    # -- Part -------------------------------------------------------------------------------

    async def start(self) -> None:
        motion = self._bus.subscribe("recordings-motion", Motion)
        loop = asyncio.get_running_loop()
        self._loops = [
            loop.create_task(consume(motion, self._heard), name="recordings-motion"),
            loop.create_task(self._prune_regularly(), name="recordings-prune"),
        ]
        await self._tasks.start()

    async def stop(self) -> None:
        await self._tasks.stop()
        for task in self._loops:
            task.cancel()
        await asyncio.gather(*self._loops, return_exceptions=True)
        self._pool.shutdown(wait=True)

    async def refresh(self) -> None:
        """Apply changed camera settings now rather than at the next periodic check."""
        await self._tasks.refresh()

    def status(self) -> dict[str, Any]:
        return {
            "folder": str(self.folder.root),
            "cameras": {
                str(camera_id): {"recording": camera.writer is not None}
                for camera_id, camera in self._cameras.items()
            },
            "out_of_space": self.out_of_space,
            "deleted_by_retention": self.folder.deleted,
            **self.counters,
        }

    def open_paths(self) -> frozenset[str]:
        """Names of clips being written now (the API marks them)."""
        return frozenset(c.writer.path.name for c in self._cameras.values() if c.writer)

    # -- one camera -------------------------------------------------------------------------

    def _policy(self, camera: Camera) -> ClipPolicy:
        s = self.settings
        return ClipPolicy(
            record_mode(s, camera),
            s.record_pre_seconds,
            s.record_post_seconds,
            s.record_segment_seconds,
            s.record_max_clip_seconds,
        )

    def _wanted(self, camera: Camera) -> bool:
        return record_mode(self.settings, camera) != "off" and camera.id not in self._jpeg_cameras

    async def _record(self, camera: Camera) -> None:
        loop = asyncio.get_running_loop()
        state = self._cameras[camera.id] = _Camera(camera.id, ClipPlanner(self._policy(camera)))
        try:
            async with self._hub.subscribe(camera.id) as frames:
                while True:
                    try:
                        async with asyncio.timeout(STALL_SECONDS):
                            frame = await anext(frames)
                    except TimeoutError:
                        await self._carry_out(state, None, state.planner.stalled())
                        continue
                    except StopAsyncIteration:
                        return
                    if frame.codec != "h264":
                        # JPEG cameras are not recorded (docs/recordings.md): let it stop.
                        log.info("camera %s sends JPEG; it is not recorded", camera.id)
                        self._jpeg_cameras.add(camera.id)
                        return
                    steps = state.planner.frame(frame, loop.time())
                    await self._carry_out(state, frame, steps)
        finally:
            del self._cameras[camera.id]
            await asyncio.shield(self._carry_out(state, None, [Close("stopped")]))

    async def _carry_out(self, state: _Camera, frame: MediaFrame | None, steps: list[Step]) -> None:
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._pool, self._apply, state, frame, steps)
        for path, seconds in state.finished:
            self.counters["clips"] += 1
            self._bus.publish(RecordingFinished(state.camera_id, path, round(seconds, 3)))
        state.finished.clear()

    def _apply(self, state: _Camera, frame: MediaFrame | None, steps: list[Step]) -> None:
        """In a worker thread: the disk check, then the planner's steps."""
        keyframe = frame is not None and frame.keyframe
        busy = state.writer is not None or state.planner.paused
        if (keyframe and busy) or any(isinstance(step, Open) for step in steps):
            room = self.folder.has_room(reserve=2 * state.group_bytes)
            self._space(room)
            if not room and not state.planner.paused:
                state.planner.paused = True
                self._close(state)
            elif room and state.planner.paused:
                state.planner.paused = False  # a clip opens again at the next keyframe
        if frame is not None:
            state.group_bytes = len(frame.data) + (0 if keyframe else state.group_bytes)
        if state.planner.paused:
            return
        try:
            for step in steps:
                if isinstance(step, Open):
                    self._open(state, step)
                elif isinstance(step, Write) and state.writer is not None:
                    state.writer.write(step.frame)
                    self.counters["frames"] += 1
                elif isinstance(step, Close):
                    self._close(state)
        except OSError as error:
            self.counters["write_errors"] += 1
            log.debug("camera %s: recording write failed: %s", state.camera_id, error)
            state.planner.paused = True
            self._space(False)
            self._close(state)

    def _open(self, state: _Camera, step: Open) -> None:
        self._close(state)
        first = step.frames[0]
        started = datetime.now(UTC) - timedelta(seconds=step.frames[-1].timestamp - first.timestamp)
        path = self.folder.new_path(state.camera_id, step.reason, started)
        state.writer = ClipWriter(path, first)
        log.info("camera %s: recording %s", state.camera_id, path)
        for frame in step.frames[1:]:
            state.writer.write(frame)
        self.counters["frames"] += len(step.frames)

    def _close(self, state: _Camera) -> None:
        writer, state.writer = state.writer, None
        if writer is None:
            return
        writer.close()
        state.finished.append((str(writer.path), writer.seconds))
        self.folder.prune(keep=self._writing())

    def _writing(self) -> frozenset[Any]:
        return frozenset(c.writer.path for c in list(self._cameras.values()) if c.writer)

    def _space(self, room: bool) -> None:
        """Log a change of the disk's state once, whichever camera noticed it."""
        with self._space_lock:
            if room == (not self.out_of_space):
                return
            self.out_of_space = not room
        if room:
            log.info("recording resumes: %s has room again", self.folder.root)
        else:
            self.counters["paused_for_space"] += 1
            log.warning(
                "recording stopped: %s is at its %d MiB free-space floor (FAKECLOUD_RECORD_MIN_"
                "FREE_BYTES); it resumes when space is freed",
                self.folder.root,
                self.folder.min_free_bytes >> 20,
            )

    # -- motion and retention ---------------------------------------------------------------

    async def _heard(self, event: CameraEvent) -> None:
        if not isinstance(event, Motion):
            return
        state = self._cameras.get(event.camera_id)
        if state is None:
            return
        now = asyncio.get_running_loop().time()
        # A camera's own motion report has no state: a moment of motion, then the post-roll.
        moving = event.detail.get("state", "start") == "start"
        state.planner.motion(moving, now)
        if "state" not in event.detail:
            state.planner.motion(False, now)

    async def _prune_regularly(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                await loop.run_in_executor(self._pool, lambda: self.folder.prune(self._writing()))
            except OSError as error:
                log.warning("recording retention failed: %s", error)
            await asyncio.sleep(PRUNE_SECONDS)  # a period, not synchronisation
