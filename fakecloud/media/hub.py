"""The per-camera media hub: fans frames out to local viewers and asks cameras to stream on demand.

fakecloud watches a camera the way the phone app did: the first local viewer makes the hub call
`demand(camera_id)` (the broker then asks the camera for video); when the last viewer leaves the hub
waits `linger` seconds and calls `release(camera_id)`, so a page reload does not restart the stream.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from fakecloud.media.frames import MediaFrame

log = logging.getLogger(__name__)

CameraCallback = Callable[[int], Awaitable[None]]


class HubFullError(Exception):
    """A limit of the hub (viewers per camera, cameras in total) would be exceeded."""


class Subscription:
    """One viewer's bounded queue of frames from one camera; iterate it inside `async with`.

    A slow viewer loses frames, never the publisher's time: JPEG frames drop the oldest queued
    picture; H.264 drops everything up to the next keyframe so its decoder never sees a broken GOP.
    """

    def __init__(self, hub: MediaHub, camera_id: int, queue_size: int):
        self.camera_id = camera_id
        self.delivered = 0
        self.dropped = 0
        self._hub = hub
        self._limit = queue_size
        self._frames: deque[MediaFrame] = deque()
        self._ready = asyncio.Event()
        self._needs_keyframe = True
        self._closed = False
        # next_within's deadline while it waits, its one timer, and whether it gave up.
        self._give_up_at: float | None = None
        self._timed_out = False
        self._deadline_timer: asyncio.TimerHandle | None = None

    def offer(self, frame: MediaFrame) -> None:
        """Queue one frame without ever waiting (called from the publisher's path)."""
        if self._closed:
            return
        if frame.codec == "h264":
            if len(self._frames) >= self._limit:
                self._needs_keyframe = True
            if self._needs_keyframe and not (frame.keyframe and len(self._frames) < self._limit):
                self.dropped += 1
                return
            self._needs_keyframe = False
        elif len(self._frames) >= self._limit:
            self._frames.popleft()
            self.dropped += 1
        self._frames.append(frame)
        self._ready.set()

    def close(self) -> None:
        """End the iteration once the queued frames are consumed."""
        self._closed = True
        self._ready.set()
        if self._deadline_timer is not None:
            self._deadline_timer.cancel()
            self._deadline_timer = None

    @property
    def queued(self) -> int:
        return len(self._frames)

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> MediaFrame:
        """The next frame; StopAsyncIteration once the hub has closed this subscription. Bound
        the wait with `next_within`."""
        return await self._next(None)

    async def next_within(self, seconds: float) -> MediaFrame:
        """The next frame; TimeoutError when none came within `seconds`, StopAsyncIteration
        once closed. Like `asyncio.timeout` around `anext`, but cheaper for a viewer that asks
        for every frame: that makes, arms and cancels a timer per frame. This keeps one timer;
        when it fires before the current deadline (frames came meanwhile) it is set again for
        that deadline, so a streaming viewer sets about one per `seconds`."""
        loop = asyncio.get_running_loop()
        give_up_at = loop.time() + seconds
        timer = self._deadline_timer
        if timer is None or timer.when() > give_up_at:
            if timer is not None:
                timer.cancel()
            self._deadline_timer = loop.call_at(give_up_at, self._deadline_passed, give_up_at)
        return await self._next(give_up_at)

    async def _next(self, give_up_at: float | None) -> MediaFrame:
        self._give_up_at, self._timed_out = give_up_at, False
        try:
            while not self._frames:
                if self._closed:
                    raise StopAsyncIteration
                if self._timed_out:
                    raise TimeoutError
                self._ready.clear()
                await self._ready.wait()
        finally:
            self._give_up_at = None
        self.delivered += 1
        return self._frames.popleft()

    def _deadline_passed(self, deadline: float) -> None:
        """The timer, set for `deadline`, fired."""
        self._deadline_timer = None
        if self._give_up_at is None:
            return  # not waiting now: the next next_within sets a timer again
        if self._give_up_at <= deadline:
            self._timed_out = True
            self._ready.set()  # the waiter wakes and gives up
        else:
            self._deadline_timer = asyncio.get_running_loop().call_at(
                self._give_up_at, self._deadline_passed, self._give_up_at
            )

    async def __aenter__(self) -> Subscription:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._hub.unsubscribe(self)


@dataclass
class _Camera:
    camera_id: int
    subscribers: set[Subscription] = field(default_factory=set)
    # The latest keyframe and every frame since: a new viewer starts decoding from here.
    gop: list[MediaFrame] = field(default_factory=list)
    gop_bytes: int = 0
    gop_complete: bool = False  # False once frames after the keyframe had to be dropped
    latest: MediaFrame | None = None
    latest_at: float | None = None  # monotonic time of the latest frame
    frames: int = 0
    demanded_at: float | None = None  # monotonic time the stream was requested; None = released
    release_timer: asyncio.TimerHandle | None = None

    @property
    def codec(self) -> str | None:
        return self.latest.codec if self.latest else None


class MediaHub:
    """Frames in from the relay/depacketizer, bounded queues out to every local viewer.

    A `Part` (name "media") so /api/status shows each camera's viewers, frame counts and stalls.
    """

    name = "media"

    def __init__(
        self,
        demand: CameraCallback | None = None,
        release: CameraCallback | None = None,
        linger: float = 30.0,
        queue_size: int = 64,
        *,
        known_camera: Callable[[int], bool] | None = None,
        stall_after: float = 10.0,
        max_cameras: int = 256,
        max_subscribers: int = 32,
        max_gop_frames: int = 600,
        max_gop_bytes: int = 16 << 20,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.demand = demand
        self.release = release
        self.linger = linger
        self.queue_size = queue_size
        self.known_camera = known_camera
        self.stall_after = stall_after
        self.max_cameras = max_cameras
        self.max_subscribers = max_subscribers
        self.max_gop_frames = max_gop_frames
        self.max_gop_bytes = max_gop_bytes
        self._clock = clock
        self._cameras: dict[int, _Camera] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._rejected_frames = 0

    # -- publishing -------------------------------------------------------------------------

    def publish(self, camera_id: int, frame: MediaFrame) -> None:
        """Hand one frame to every viewer of the camera; never blocks, never raises on a full
        queue. Must be called on the event loop's thread (the relay's datagram path is)."""
        camera = self._camera(camera_id)
        if camera is None:
            self._rejected_frames += 1
            return
        camera.latest = frame
        camera.latest_at = self._clock()
        camera.frames += 1
        self._remember(camera, frame)
        for subscription in camera.subscribers:
            subscription.offer(frame)

    def _remember(self, camera: _Camera, frame: MediaFrame) -> None:
        if frame.codec != "h264" or frame.keyframe:
            camera.gop = [frame]
            camera.gop_bytes = len(frame.data)
            camera.gop_complete = True
            return
        if not camera.gop_complete or camera.gop[0].codec != "h264":
            return  # no keyframe yet, or frames were dropped: nothing more is decodable
        # Security consideration: a camera that never sends another keyframe must not grow
        # memory without bound; past the cap we keep only the keyframe (snapshots still work).
        if (
            len(camera.gop) >= self.max_gop_frames
            or camera.gop_bytes + len(frame.data) > self.max_gop_bytes
        ):
            del camera.gop[1:]
            camera.gop_bytes = len(camera.gop[0].data)
            camera.gop_complete = False
            return
        camera.gop.append(frame)
        camera.gop_bytes += len(frame.data)

    def _camera(self, camera_id: int) -> _Camera | None:
        camera = self._cameras.get(camera_id)
        if camera is None:
            # Security consideration: ids come from the network; cap how many we track.
            if len(self._cameras) >= self.max_cameras:
                log.warning(
                    "media hub tracks %d cameras; ignoring camera %s", len(self._cameras), camera_id
                )
                return None
            camera = self._cameras[camera_id] = _Camera(camera_id)
        return camera

    # -- viewing ----------------------------------------------------------------------------

    def is_known(self, camera_id: int) -> bool:
        """A camera that has sent video, or that `known_camera` (the store) knows of."""
        if camera_id in self._cameras:
            return True
        return bool(self.known_camera and self.known_camera(camera_id))

    def subscribe(self, camera_id: int) -> Subscription:
        """A new viewer; use as `async with hub.subscribe(id) as frames: async for ...`.

        The viewer starts with the current GOP when the stream is live (so an H.264 decoder
        starts on a keyframe at once), else with the next keyframe. Raises HubFullError."""
        camera = self._camera(camera_id)
        if camera is None:
            raise HubFullError(f"the media hub already tracks {self.max_cameras} cameras")
        if len(camera.subscribers) >= self.max_subscribers:
            raise HubFullError(f"camera {camera_id} already has {self.max_subscribers} viewers")
        subscription = Subscription(self, camera_id, self.queue_size)
        if self._is_fresh(camera):
            for frame in camera.gop:
                subscription.offer(frame)
        camera.subscribers.add(subscription)
        if camera.release_timer is not None:
            camera.release_timer.cancel()
            camera.release_timer = None
        if camera.demanded_at is None:
            camera.demanded_at = self._clock()
            self._call(self.demand, camera_id, "demand")
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        subscription.close()
        camera = self._cameras.get(subscription.camera_id)
        if camera is None or subscription not in camera.subscribers:
            return
        camera.subscribers.discard(subscription)
        if not camera.subscribers and camera.demanded_at is not None:
            camera.release_timer = asyncio.get_running_loop().call_later(
                self.linger, self._release, camera
            )

    def _release(self, camera: _Camera) -> None:
        camera.release_timer = None
        camera.demanded_at = None
        self._call(self.release, camera.camera_id, "release")

    def redemand(self, camera_id: int) -> bool:
        """Ask again for a stream that viewers still want (the camera reconnected); False when
        nobody wants this camera's video."""
        camera = self._cameras.get(camera_id)
        if camera is None or camera.demanded_at is None:
            return False
        camera.demanded_at = self._clock()
        self._call(self.demand, camera_id, "demand")
        return True

    def active_cameras(self) -> list[int]:
        """Cameras whose stream is requested (viewers now, or within the linger)."""
        return sorted(cid for cid, camera in self._cameras.items() if camera.demanded_at)

    def _call(self, callback: CameraCallback | None, camera_id: int, what: str) -> None:
        if callback is None:
            return
        task = asyncio.get_running_loop().create_task(
            self._run_callback(callback, camera_id, what), name=f"media-{what}-{camera_id}"
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run_callback(self, callback: CameraCallback, camera_id: int, what: str) -> None:
        try:
            await callback(camera_id)
        except Exception:
            # A camera that cannot be reached must not break the viewer; status shows the stall.
            log.exception("media %s for camera %s failed", what, camera_id)

    # -- what outputs read ------------------------------------------------------------------

    def latest_pictures(self, camera_id: int) -> list[MediaFrame]:
        """The frames needed to show the camera's latest picture: for H.264 the latest keyframe
        and the frames after it, for JPEG the latest image; empty when the stream is not live."""
        camera = self._cameras.get(camera_id)
        if camera is None or not self._is_fresh(camera):
            return []
        return list(camera.gop)

    def _is_fresh(self, camera: _Camera) -> bool:
        return camera.latest_at is not None and (
            self._clock() - camera.latest_at <= self.stall_after
        )

    # -- Part -------------------------------------------------------------------------------

    async def start(self) -> None:
        """Nothing to bind: the hub is fed by the relay and read by the web outputs."""

    async def stop(self) -> None:
        """End every viewer's iteration and cancel pending demand/release calls. The cameras are
        not released: the broker that would tell them is stopping too."""
        for camera in self._cameras.values():
            if camera.release_timer is not None:
                camera.release_timer.cancel()
                camera.release_timer = None
            for subscription in camera.subscribers:
                subscription.close()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=5)

    def status(self) -> dict[str, Any]:
        now = self._clock()
        cameras = {}
        for camera_id, camera in self._cameras.items():
            age = None if camera.latest_at is None else round(now - camera.latest_at, 1)
            # Stalled: video is wanted but nothing arrived for stall_after seconds since the
            # request (or the latest frame, whichever is later).
            stalled = camera.demanded_at is not None and (
                now - max(camera.latest_at or camera.demanded_at, camera.demanded_at)
                > self.stall_after
            )
            cameras[str(camera_id)] = {
                "codec": camera.codec,
                "viewers": len(camera.subscribers),
                "streaming": camera.demanded_at is not None,
                "stalled": stalled,
                "frames": camera.frames,
                "last_frame_age": age,
                "dropped": sum(sub.dropped for sub in camera.subscribers),
            }
        return {"cameras": cameras, "rejected_frames": self._rejected_frames}
