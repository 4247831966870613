"""Motion JPEG over HTTP: `multipart/x-mixed-replace`, the format browsers show in an <img>.

Every MJPEG viewer of one camera shares one producer: one hub subscription, one H.264 decoder
and one JPEG encoder, whatever the number of viewers. The producer starts with the first viewer
and is torn down (codecs freed, hub subscription ended) when the last one leaves.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import os
from collections import deque
from collections.abc import AsyncGenerator, Sequence
from contextlib import aclosing
from typing import Any

from fakecloud.core.memory import return_freed_memory
from fakecloud.media.frames import MediaFrame
from fakecloud.media.hub import HubFullError, MediaHub
from fakecloud.media.outputs.pictures import (
    H264Decoder,
    JpegEncoder,
    PictureError,
)
from fakecloud.media.outputs.streaming import NoVideoError, StreamLimits, live_batches

log = logging.getLogger(__name__)

BOUNDARY = "fakecloud-mjpeg-frame"
CONTENT_TYPE = f"multipart/x-mixed-replace; boundary={BOUNDARY}"
# Producer failures a viewer reports as its own (the web route maps them to HTTP errors).
VIEWER_ERRORS = (NoVideoError, HubFullError, PictureError)


def multipart_part(jpeg: bytes) -> bytes:
    header = (
        f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(jpeg)}\r\n\r\n"
    ).encode("ascii")
    return header + jpeg + b"\r\n"


class Transcoder:
    """H.264 in, JPEG out at no more than `max_fps` (by the stream's own timestamps).
    Not thread-safe: one job at a time."""

    def __init__(self, max_fps: float, qscale: int):
        self.decoder = H264Decoder()
        self.encoder = JpegEncoder(qscale)
        self.interval = 1.0 / max_fps
        self.next_at: float | None = None

    def convert(self, frames: Sequence[MediaFrame]) -> bytes | None:
        """Decode every access unit (later ones reference them) and encode at most one picture:
        the first that is due. A batch that spans more than one interval is a producer behind
        the camera; the pictures it skips are the drop that lets it catch up."""
        jpeg = None
        for frame in frames:
            picture = self.decoder.decode(frame)
            if picture is None or jpeg is not None or not self._due(frame.timestamp):
                continue
            self.next_at = frame.timestamp + self.interval
            jpeg = self.encoder.encode(picture)
        return jpeg

    def _due(self, timestamp: float) -> bool:
        if self.next_at is None or timestamp >= self.next_at:
            return True
        # A timestamp far behind the schedule means the camera restarted its clock.
        return timestamp < self.next_at - 2 * self.interval

    def close(self) -> None:
        self.decoder.close()
        self.encoder.close()


class _Viewer:
    """One HTTP client's bounded queue of JPEG pictures. A viewer that cannot keep up loses its
    oldest pictures; nobody else waits for it."""

    def __init__(self, queue_size: int):
        self.pictures: deque[bytes] = deque(maxlen=queue_size)
        self.dropped = 0
        self.error: BaseException | None = None
        self.closed = False
        self._ready = asyncio.Event()

    def offer(self, jpeg: bytes) -> None:
        if len(self.pictures) == self.pictures.maxlen:
            self.dropped += 1
        self.pictures.append(jpeg)
        self._ready.set()

    def close(self, error: BaseException | None) -> None:
        self.error = error
        self.closed = True
        self._ready.set()

    async def next(self, within: float) -> bytes | None:
        """The next picture; None when the stream ended or none came within `within` seconds."""
        try:
            async with asyncio.timeout(within):
                while not self.pictures:
                    if self.closed:
                        if isinstance(self.error, VIEWER_ERRORS):
                            raise type(self.error)(str(self.error))
                        return None
                    self._ready.clear()
                    await self._ready.wait()
        except TimeoutError:
            return None
        return self.pictures.popleft()


class _Producer:
    """One camera's shared JPEG source: reads the hub, transcodes H.264 in the feeds' executor
    (one job in flight at most) or passes JPEG through, and fans each picture out."""

    def __init__(self, feeds: MjpegFeeds, camera_id: int):
        self.feeds = feeds
        self.camera_id = camera_id
        self.viewers: set[_Viewer] = set()
        self.latest: bytes | None = None
        self.pictures = 0
        self.transcoder: Transcoder | None = None
        self._job: concurrent.futures.Future[bytes | None] | None = None
        self.task = asyncio.get_running_loop().create_task(self._run(), name=f"mjpeg-{camera_id}")

    def join(self, viewer: _Viewer) -> None:
        self.viewers.add(viewer)
        if self.latest is not None:
            viewer.offer(self.latest)  # a viewer joining mid-stream starts with the current picture

    async def _run(self) -> None:
        error: BaseException | None = None
        try:
            batches = live_batches(self.feeds.hub, self.camera_id, self.feeds.producer_limits)
            # The codecs are closed before the hub subscription ends, so a released camera
            # never leaves a decoder behind.
            async with aclosing(batches):
                try:
                    async for batch in batches:
                        await self._publish(batch)
                finally:
                    await self._close_transcoder()
        except VIEWER_ERRORS as failure:
            error = failure
        except Exception as failure:
            log.exception("MJPEG producer for camera %s failed", self.camera_id)
            error = failure
        finally:
            self.latest = None
            for viewer in self.viewers:
                viewer.close(error)
            self.feeds.forget(self)

    async def _publish(self, batch: list[MediaFrame]) -> None:
        jpegs = [frame.data for frame in batch if frame.codec == "jpeg"]
        video = [frame for frame in batch if frame.codec == "h264"]
        if video:
            if self.transcoder is None:
                self.transcoder = Transcoder(self.feeds.max_fps, self.feeds.qscale)
                self.feeds.decoders += 1
            self._job = self.feeds.executor.submit(self.transcoder.convert, video)
            jpeg = await asyncio.wrap_future(self._job)
            if jpeg is not None:
                jpegs.append(jpeg)
        for jpeg in jpegs:
            self.latest = jpeg
            self.pictures += 1
            for viewer in self.viewers:
                viewer.offer(jpeg)

    async def _close_transcoder(self) -> None:
        if self.transcoder is None:
            return
        if self._job is not None and not self._job.done():
            # Cancelled mid-job: the worker thread still uses the codecs; wait for it (jobs
            # are one batch, well under a second).
            await asyncio.wait([asyncio.wrap_future(self._job)])
        self.transcoder.close()
        self.transcoder = None
        self._job = None
        self.feeds.decoders -= 1
        # Off the loop: trimming walks the heap. Before stop() shuts the executor: it awaits us.
        self.feeds.executor.submit(return_freed_memory)


class MjpegFeeds:
    """Every camera's shared MJPEG producer, started by its first viewer.

    Security consideration: at most `max_viewers` MJPEG viewers per camera (the hub's per-camera
    limit by default), each with a queue of `queue_size` pictures, and `workers` transcoding
    threads for all cameras, so many viewers cost memory per viewer in kilobytes, not in
    decoders."""

    def __init__(
        self,
        hub: MediaHub,
        limits: StreamLimits,
        *,
        max_fps: float = 5.0,
        qscale: int = 5,
        max_viewers: int | None = None,
        queue_size: int = 2,
        workers: int | None = None,
    ):
        self.hub = hub
        self.limits = limits
        # The producer is shared, so only each viewer's stream has a time limit.
        self.producer_limits = StreamLimits(limits.video_timeout, limits.idle_timeout, None)
        self.max_fps = max_fps
        self.qscale = qscale
        self.max_viewers = hub.max_subscribers if max_viewers is None else max_viewers
        self.queue_size = queue_size
        self.executor = concurrent.futures.ThreadPoolExecutor(
            workers or os.cpu_count() or 1, thread_name_prefix="mjpeg"
        )
        self.decoders = 0  # H.264 decoders open (one per producer of an H.264 camera)
        self._producers: dict[int, _Producer] = {}
        self._stopping: set[asyncio.Task[None]] = set()

    async def stream(self, camera_id: int) -> AsyncGenerator[bytes, None]:
        """Multipart body parts for one viewer. Raises NoVideoError, HubFullError, ... before
        the first part; afterwards a stall, the time limit or a broken stream ends it."""
        producer = self._producers.get(camera_id)
        if producer is None:
            producer = self._producers[camera_id] = _Producer(self, camera_id)
        elif len(producer.viewers) >= self.max_viewers:
            raise HubFullError(f"camera {camera_id} already has {self.max_viewers} MJPEG viewers")
        viewer = _Viewer(self.queue_size)
        producer.join(viewer)
        limits = self.limits
        loop = asyncio.get_running_loop()
        deadline = None if limits.max_duration is None else loop.time() + limits.max_duration
        # The first picture may take the camera's start plus one decode.
        wait = limits.video_timeout + limits.idle_timeout
        try:
            jpeg = await viewer.next(wait)
            if jpeg is None:
                raise NoVideoError(f"camera {camera_id} sent no picture within {wait:g} s")
            while jpeg is not None:
                yield multipart_part(jpeg)
                wait = limits.idle_timeout
                if deadline is not None:
                    wait = min(wait, deadline - loop.time())
                jpeg = await viewer.next(wait)
        finally:
            self._leave(producer, viewer)

    def _leave(self, producer: _Producer, viewer: _Viewer) -> None:
        producer.viewers.discard(viewer)
        if producer.viewers or producer.task.done():
            return
        # The last viewer left: tear the producer down now, not at the next frame.
        self.forget(producer)
        producer.task.cancel()
        self._stopping.add(producer.task)
        producer.task.add_done_callback(self._stopping.discard)

    def forget(self, producer: _Producer) -> None:
        if self._producers.get(producer.camera_id) is producer:
            del self._producers[producer.camera_id]

    async def stop(self) -> None:
        producers = list(self._producers.values())
        for producer in producers:
            producer.task.cancel()
        await asyncio.gather(*(p.task for p in producers), *self._stopping, return_exceptions=True)
        self.executor.shutdown(wait=True)

    def status(self) -> dict[str, Any]:
        return {
            "decoders": self.decoders,
            "cameras": {
                str(camera_id): {
                    "viewers": len(producer.viewers),
                    "decoding": producer.transcoder is not None,
                    "pictures": producer.pictures,
                    "dropped": sum(viewer.dropped for viewer in producer.viewers),
                }
                for camera_id, producer in self._producers.items()
            },
        }
