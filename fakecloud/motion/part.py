"""Server-side motion detection: a `Part` (name "motion") watching cameras that have it on.

Per camera one task holds a hub subscription (so the camera streams), takes at most
FAKECLOUD_MOTION_FPS keyframes a second (a keyframe decodes alone, so nothing else is decoded),
decodes and compares them in a worker thread, and publishes `Motion(camera_id, {"state":
"start"|"end", ...})` on the bus, which the recorder, the event log and MQTT hear.
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import av
import numpy as np

from fakecloud.core.config import Settings
from fakecloud.core.events import EventBus, Motion
from fakecloud.media.frames import MediaFrame
from fakecloud.media.hub import MediaHub
from fakecloud.media.outputs.pictures import H264Decoder, PictureError
from fakecloud.media.watchers import CameraTasks
from fakecloud.motion.detector import Luma, MotionDetector, MotionPolicy, parse_zones
from fakecloud.store.models import Camera
from fakecloud.store.protocol import CameraStore

log = logging.getLogger(__name__)

DETECTOR_THREADS = 2
# Downscaled before comparing: the detector's grid is coarser still, and scaling is the
# cheapest place to drop pixels (libswscale, in the worker thread).
COMPARE_SIZE = (320, 180)


def detection_on(settings: Settings, camera: Camera) -> bool:
    """The camera's own `motion_detection` setting, else FAKECLOUD_MOTION_DETECTION."""
    chosen = camera.settings.get("motion_detection")
    return chosen if isinstance(chosen, bool) else settings.motion_detection


def motion_policy(settings: Settings, camera: Camera) -> MotionPolicy:
    """The camera's zones and sensitivity over the global settings; a bad zone setting is
    logged and ignored (nothing is masked) rather than stopping detection."""
    try:
        zones = parse_zones(camera.settings.get("motion_zones"))
    except ValueError as error:
        log.warning("camera %s: motion_zones ignored: %s", camera.id, error)
        zones = ()
    sensitivity = camera.settings.get("motion_sensitivity")
    if not (isinstance(sensitivity, int | float) and 0 <= sensitivity <= 1):
        sensitivity = settings.motion_sensitivity
    return MotionPolicy(
        float(sensitivity), settings.motion_start_frames, settings.motion_quiet_seconds, zones
    )


class _Looker:
    """One camera's decoder and detector; used by one worker call at a time."""

    def __init__(self, policy: MotionPolicy) -> None:
        self.detector = MotionDetector(policy)
        self._h264 = H264Decoder()
        self._jpeg: av.VideoCodecContext | None = None

    def look(self, frame: MediaFrame, now: float) -> str | None:
        picture = self._decode(frame)
        if picture is None:
            return None
        small = picture.reformat(width=COMPARE_SIZE[0], height=COMPARE_SIZE[1], format="gray")
        luma: Luma = np.asarray(small.to_ndarray(), dtype=np.uint8)  # gray is 8-bit already
        return self.detector.feed(luma, now)

    def _decode(self, frame: MediaFrame) -> av.VideoFrame | None:
        if frame.codec == "h264":
            return self._h264.decode(frame)
        if self._jpeg is None:
            self._jpeg = av.CodecContext.create("mjpeg", "r")
        try:
            pictures = self._jpeg.decode(av.Packet(frame.data))
        except (av.FFmpegError, ValueError) as error:
            raise PictureError(f"cannot decode JPEG: {error}") from error
        return pictures[-1] if pictures else None


class MotionPart:
    name = "motion"

    def __init__(
        self, settings: Settings, store: CameraStore, hub: MediaHub, bus: EventBus
    ) -> None:
        self.settings = settings
        self._hub = hub
        self._bus = bus
        self._tasks = CameraTasks(
            "motion", store, bus, lambda c: detection_on(settings, c), self._watch
        )
        self._pool = ThreadPoolExecutor(DETECTOR_THREADS, thread_name_prefix="motion")
        self._lookers: dict[int, _Looker] = {}
        self.counters = {"pictures": 0, "events": 0, "undecodable": 0}

    async def start(self) -> None:
        await self._tasks.start()

    async def stop(self) -> None:
        await self._tasks.stop()
        self._pool.shutdown(wait=True)

    async def refresh(self) -> None:
        """Apply changed camera settings now rather than at the next periodic check."""
        await self._tasks.refresh()

    def status(self) -> dict[str, Any]:
        cameras = {
            str(camera_id): {
                "moving": looker.detector.moving,
                "changed_share": round(looker.detector.last_share, 3),
                "threshold": round(looker.detector.threshold, 3),
            }
            for camera_id, looker in self._lookers.items()
        }
        return {"cameras": cameras, **self.counters}

    async def _watch(self, camera: Camera) -> None:
        loop = asyncio.get_running_loop()
        looker = self._lookers[camera.id] = _Looker(motion_policy(self.settings, camera))
        interval = 1 / self.settings.motion_fps
        quiet = self.settings.motion_quiet_seconds
        last_look = -interval
        try:
            async with self._hub.subscribe(camera.id) as frames:
                while True:
                    try:
                        async with asyncio.timeout(quiet):
                            frame = await anext(frames)
                    except TimeoutError:
                        # No pictures at all: motion cannot go on being seen.
                        self._publish(camera.id, looker.detector.quiet(loop.time()), looker)
                        continue
                    except StopAsyncIteration:
                        return
                    now = loop.time()
                    if not frame.keyframe or now - last_look < interval:
                        continue
                    last_look = now
                    try:
                        change = await loop.run_in_executor(self._pool, looker.look, frame, now)
                    except PictureError as error:
                        self.counters["undecodable"] += 1
                        log.debug("camera %s: motion picture skipped: %s", camera.id, error)
                        continue
                    self.counters["pictures"] += 1
                    self._publish(camera.id, change, looker)
        finally:
            del self._lookers[camera.id]
            self._publish(camera.id, "end" if looker.detector.moving else None, looker)

    def _publish(self, camera_id: int, change: str | None, looker: _Looker) -> None:
        if change is None:
            return
        self.counters["events"] += change == "start"
        share = round(looker.detector.last_share, 3)
        log.info("camera %s: motion %s (%.0f%% of the picture changed)", camera_id, change,
                 share * 100)  # fmt: skip
        self._bus.publish(
            Motion(camera_id, {"state": change, "source": "server", "changed_share": share})
        )
