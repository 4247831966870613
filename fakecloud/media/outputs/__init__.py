"""Video outputs fed by the media hub: snapshot JPEG, MJPEG, HLS (MPEG-TS and LL-HLS), FLV and
WebRTC."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from typing import Any

from fakecloud.core.events import CameraEvent, EventBus, StreamStopped, consume
from fakecloud.media.hub import MediaHub
from fakecloud.media.outputs.flv import flv_stream
from fakecloud.media.outputs.hls import HlsPackager
from fakecloud.media.outputs.llhls import LlHlsPackager
from fakecloud.media.outputs.mjpeg import MjpegFeeds
from fakecloud.media.outputs.packaging import SegmentOptions
from fakecloud.media.outputs.snapshot import SnapshotMaker
from fakecloud.media.outputs.streaming import StreamLimits, live_frames
from fakecloud.media.outputs.webrtc import WebRtcLimits, WebRtcPeers


class MediaOutputs:
    """What the web routes serve, in one runtime service (`runtime.services.media_outputs`).

    A `Part` (name "media-outputs"): stopping it ends the HLS packagers, MJPEG producers and
    WebRTC peers. It hears `StreamStopped` on the bus and closes that camera's snapshot decoder.
    """

    name = "media-outputs"

    def __init__(
        self,
        hub: MediaHub,
        *,
        bus: EventBus | None = None,
        video_timeout: float = 10.0,
        idle_timeout: float = 15.0,
        max_stream_seconds: float = 0.0,  # 0: no limit
        mjpeg_max_fps: float = 5.0,
        jpeg_qscale: int = 5,
        hls_segment_seconds: float = 1.0,
        hls_window: int = 4,
        hls_linger: float = 30.0,
        webrtc: WebRtcLimits | None = None,
        hls_part_seconds: float = 0.2,
    ):
        self.hub = hub
        self.bus = bus or EventBus()
        self._events: asyncio.Task[None] | None = None
        self.limits = StreamLimits(video_timeout, idle_timeout, max_stream_seconds or None)
        self.mjpeg_feeds = MjpegFeeds(hub, self.limits, max_fps=mjpeg_max_fps, qscale=jpeg_qscale)
        self.snapshots = SnapshotMaker(hub, self.limits, qscale=jpeg_qscale)
        # Both HLS forms cut segments alike; LL-HLS also cuts them into parts.
        segments = SegmentOptions(hls_segment_seconds, hls_window, part_seconds=hls_part_seconds)
        self.hls = HlsPackager(hub, self.limits, options=segments, linger=hls_linger)
        self.llhls = LlHlsPackager(hub, self.limits, options=segments, linger=hls_linger)
        self.webrtc = WebRtcPeers(hub, self.limits, webrtc or WebRtcLimits())

    async def snapshot(self, camera_id: int) -> bytes:
        return await self.snapshots.snapshot(camera_id)

    def mjpeg(self, camera_id: int) -> AsyncGenerator[bytes, None]:
        return self.mjpeg_feeds.stream(camera_id)

    def flv(self, camera_id: int) -> AsyncGenerator[bytes, None]:
        return flv_stream(live_frames(self.hub, camera_id, self.limits))

    async def start(self) -> None:
        """Nothing to bind (outputs start per request); subscribe to streams stopping."""
        stopped = self.bus.subscribe("media-outputs", StreamStopped)
        self._events = asyncio.get_running_loop().create_task(
            consume(stopped, self._heard), name="media-outputs-events"
        )

    async def _heard(self, event: CameraEvent) -> None:
        if isinstance(event, StreamStopped):
            await self.snapshots.forget(event.camera_id)

    async def stop(self) -> None:
        if self._events is not None:
            self._events.cancel()
            await asyncio.gather(self._events, return_exceptions=True)
            self._events = None
        await self.hls.stop()
        await self.llhls.stop()
        await self.mjpeg_feeds.stop()
        await self.webrtc.stop()

    def status(self) -> dict[str, Any]:
        return {
            "hls": self.hls.status(),
            "llhls": self.llhls.status(),
            "mjpeg": self.mjpeg_feeds.status(),
            "snapshots": self.snapshots.status(),
            "webrtc": self.webrtc.status(),
        }
