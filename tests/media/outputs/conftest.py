"""A real HTTP server on loopback serving the media routes, fed by test-pattern cameras."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import pytest
from fastapi import FastAPI

from fakecloud.core.config import Settings
from fakecloud.media.frames import MediaFrame
from fakecloud.media.hub import MediaHub
from fakecloud.media.outputs import MediaOutputs
from fakecloud.media.testpattern import TestPattern
from fakecloud.runtime import Services
from fakecloud.web import routes_llhls, routes_media, routes_webrtc
from fakecloud.web.asgi import AsgiProtocolFactory

H264_CAMERA = 1
JPEG_CAMERA = 2
SILENT_CAMERA = 3  # known (to the "store") but never sends video
UNKNOWN_CAMERA = 99
SPEEDUP = 3.0  # publish the pattern three times as fast as real time to keep tests short


@dataclass
class FakeCamera:
    """Streams a test pattern into the hub while the hub demands it, like a real camera."""

    camera_id: int
    pattern: TestPattern
    published: list[MediaFrame] = field(default_factory=list)
    published_at: list[float] = field(default_factory=list)  # loop time of each publish
    speedup: float = SPEEDUP
    progress: asyncio.Condition = field(default_factory=asyncio.Condition)
    task: asyncio.Task[None] | None = None

    def start(self, hub: MediaHub) -> None:
        if self.task is None or self.task.done():
            self.task = asyncio.create_task(self._run(hub))

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)
            self.task = None

    async def wait_for_frames(self, count: int) -> None:
        """Until `count` more frames have been published."""
        async with self.progress:
            target = len(self.published) + count
            await asyncio.wait_for(
                self.progress.wait_for(lambda: len(self.published) >= target), 10
            )

    async def _run(self, hub: MediaHub) -> None:
        loop = asyncio.get_running_loop()
        frames: Iterator[MediaFrame] = self.pattern.frames()
        started = loop.time()
        for index in range(100_000):  # bounded: ~1.8 hours of pattern
            # Encoding runs in a thread so the server's loop stays responsive.
            frame = await loop.run_in_executor(None, next, frames)
            # Pacing a simulated camera, not synchronising the test.
            await asyncio.sleep(
                max(0.0, started + index / self.pattern.fps / self.speedup - loop.time())
            )
            await self._publish(hub, frame)

    async def _publish(self, hub: MediaHub, frame: MediaFrame) -> None:
        hub.publish(self.camera_id, frame)
        async with self.progress:
            self.published.append(frame)
            self.published_at.append(asyncio.get_running_loop().time())
            self.progress.notify_all()


@dataclass
class SteppedCamera(FakeCamera):
    """Publishes a frame only when the test allows it, so a test decides when media exists."""

    allowed: int = 0

    async def allow(self, count: int) -> None:
        """Let `count` more frames out, and wait until they are published."""
        async with self.progress:
            self.allowed += count
            self.progress.notify_all()
            await asyncio.wait_for(
                self.progress.wait_for(lambda: len(self.published) >= self.allowed), 10
            )

    async def _run(self, hub: MediaHub) -> None:
        loop = asyncio.get_running_loop()
        frames: Iterator[MediaFrame] = self.pattern.frames()
        for _ in range(100_000):  # bounded, like FakeCamera
            async with self.progress:
                await self.progress.wait_for(lambda: len(self.published) < self.allowed)
            await self._publish(hub, await loop.run_in_executor(None, next, frames))


@dataclass
class MediaServer:
    base_url: str
    hub: MediaHub
    outputs: MediaOutputs
    cameras: dict[int, FakeCamera]
    released: asyncio.Queue[int]
    services: Services

    def url(self, path: str) -> str:
        return self.base_url + path


@contextlib.asynccontextmanager
async def running_media_server(**output_options: Any) -> AsyncIterator[MediaServer]:
    """The media routes on 127.0.0.1 (kernel-chosen port) over a hub fed by fake cameras."""
    cameras = {
        H264_CAMERA: FakeCamera(H264_CAMERA, TestPattern("h264", 1280, 720, fps=15)),
        JPEG_CAMERA: FakeCamera(JPEG_CAMERA, TestPattern("jpeg", 320, 240, fps=15)),
    }
    released: asyncio.Queue[int] = asyncio.Queue()

    async def demand(camera_id: int) -> None:
        if camera := cameras.get(camera_id):
            camera.start(hub)

    async def release(camera_id: int) -> None:
        if camera := cameras.get(camera_id):
            await camera.stop()
        released.put_nowait(camera_id)

    hub = MediaHub(
        demand,
        release,
        linger=0.2,
        known_camera=lambda camera_id: camera_id in (H264_CAMERA, JPEG_CAMERA, SILENT_CAMERA),
    )
    options: dict[str, Any] = {
        "video_timeout": 3.0,
        "idle_timeout": 3.0,
        "hls_linger": 10.0,
        "hls_window": 2,
    }
    outputs = MediaOutputs(hub, **(options | output_options))
    await outputs.start()
    services = Services(media_hub=hub, media_outputs=outputs)
    app = FastAPI()
    # The settings' defaults: no ingress proxy, so WebRTC's Location is the plain path.
    app.state.runtime = SimpleNamespace(services=services, settings=Settings())
    app.include_router(routes_media.router)
    app.include_router(routes_webrtc.router)
    app.include_router(routes_llhls.router)
    protocols = AsgiProtocolFactory(app)
    server = await asyncio.get_running_loop().create_server(protocols, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield MediaServer(f"http://127.0.0.1:{port}", hub, outputs, cameras, released, services)
    finally:
        server.close()
        await protocols.close_connections()
        await server.wait_closed()
        await outputs.stop()
        await hub.stop()
        for camera in cameras.values():
            await camera.stop()


@pytest.fixture
async def media_server() -> AsyncIterator[MediaServer]:
    async with running_media_server() as server:
        yield server


async def run_client(*command: str, within: float = 30) -> tuple[bytes, str]:
    """Run a real client (ffprobe, ffmpeg) without blocking the server; its stdout and stderr.
    Fails the test if it does not exit 0 within `within` seconds."""
    process = await asyncio.create_subprocess_exec(
        *command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    try:
        stdout, stderr = await asyncio.wait_for(process.communicate(), within)
    finally:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
    errors = stderr.decode(errors="replace")
    assert process.returncode == 0, errors
    return stdout, errors


async def ffprobe(
    url: str, *extra: str, entries: str = "codec_name,width,height"
) -> dict[str, Any]:
    """The first video stream as the real ffprobe sees it."""
    stdout, errors = await run_client(
        "ffprobe",
        "-v",
        "error",
        "-rw_timeout",
        "10000000",
        *extra,
        "-select_streams",
        "v:0",
        "-show_entries",
        f"stream={entries}",
        "-of",
        "json",
        url,
    )
    streams = json.loads(stdout)["streams"]
    assert streams, f"ffprobe found no video stream: {errors}"
    return streams[0]
