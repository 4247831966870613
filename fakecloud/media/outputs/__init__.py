"""Video outputs fed by the media hub: snapshot JPEG, MJPEG, HLS and FLV."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

from fakecloud.media.hub import MediaHub
from fakecloud.media.outputs.flv import flv_stream
from fakecloud.media.outputs.hls import HlsPackager
from fakecloud.media.outputs.mjpeg import mjpeg_stream
from fakecloud.media.outputs.snapshot import SnapshotMaker
from fakecloud.media.outputs.streaming import StreamLimits, live_frames


class MediaOutputs:
    """What the web routes serve, in one runtime service (`services["media_outputs"]`).

    A `Part` (name "media-outputs"): stopping it ends the HLS packagers."""

    name = "media-outputs"

    def __init__(
        self,
        hub: MediaHub,
        *,
        video_timeout: float = 10.0,
        idle_timeout: float = 15.0,
        max_stream_seconds: float = 3600.0,
        mjpeg_max_fps: float = 5.0,
        jpeg_qscale: int = 5,
        hls_segment_seconds: float = 1.0,
        hls_window: int = 4,
        hls_linger: float = 30.0,
    ):
        self.hub = hub
        self.limits = StreamLimits(video_timeout, idle_timeout, max_stream_seconds)
        self.mjpeg_max_fps = mjpeg_max_fps
        self.jpeg_qscale = jpeg_qscale
        self.snapshots = SnapshotMaker(hub, self.limits, qscale=jpeg_qscale)
        self.hls = HlsPackager(
            hub,
            self.limits,
            segment_seconds=hls_segment_seconds,
            window=hls_window,
            linger=hls_linger,
        )

    async def snapshot(self, camera_id: int) -> bytes:
        return await self.snapshots.snapshot(camera_id)

    def mjpeg(self, camera_id: int) -> AsyncGenerator[bytes, None]:
        frames = live_frames(self.hub, camera_id, self.limits)
        return mjpeg_stream(frames, max_fps=self.mjpeg_max_fps, qscale=self.jpeg_qscale)

    def flv(self, camera_id: int) -> AsyncGenerator[bytes, None]:
        return flv_stream(live_frames(self.hub, camera_id, self.limits))

    async def start(self) -> None:
        """Nothing to bind: outputs start per request."""

    async def stop(self) -> None:
        await self.hls.stop()

    def status(self) -> dict[str, Any]:
        return {"hls": self.hls.status()}
