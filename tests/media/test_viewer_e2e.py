"""fakecloud as a viewer, end to end: the real server in-process, simulated cameras and apps on
loopback, real clients (ffprobe, an HTTP client, PyAV) on the outputs. Nothing is mocked."""

from __future__ import annotations

import asyncio
import contextlib
import io
import re
import signal
import sys
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
import httpx
import pytest

from fakecloud.core.config import Settings
from fakecloud.media.testpattern import read_counter
from fakecloud.runtime import Runtime
from fakecloud.server import build_runtime, close_services, start_parts, stop_parts
from fakecloud.sim.camera import SimulatedCamera
from fakecloud.sim.demo import simulated_mac
from fakecloud.sim.video import LOOP_SECONDS, PROFILES
from tests.conftest import cli_env
from tests.media.outputs.conftest import ffprobe

OWNER = "alice"
PASSWORD = "correct horse battery"
LINGER = 0.5  # seconds the camera keeps streaming after its last local viewer
WITHIN = 15.0  # bound on every wait
HD = PROFILES["F7D7602"]
LOOP_FRAMES = LOOP_SECONDS * HD.fps


@dataclass
class Cloud:
    runtime: Runtime
    http_port: int
    cloud_port: int

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.http_port}{path}"

    def camera(self, index: int, **options: Any) -> SimulatedCamera:
        return SimulatedCamera(
            "127.0.0.1",
            self.cloud_port,
            login=OWNER,
            password=PASSWORD,
            mac=simulated_mac(index),
            first_backoff=0.05,
            max_backoff=0.2,
            **options,
        )

    @property
    def relay_sessions(self) -> int:
        return int(self.runtime.services.relay.status()["sessions"])


@pytest.fixture
async def cloud(settings: Settings) -> AsyncIterator[Cloud]:
    async with running_cloud(settings) as started:
        yield started


@contextlib.asynccontextmanager
async def running_cloud(settings: Settings, **changes: Any) -> AsyncIterator[Cloud]:
    settings = settings.model_copy(
        update={
            "dns_enabled": False,
            "cloud_ports": [0],
            "viewer_linger": LINGER,
            # Without the DNS shim a redirect's broker name resolves nowhere; logins are not
            # what these tests are about (tests/interop covers the redirect).
            "redirect_app_logins": False,
            **changes,
        }
    )
    runtime = build_runtime(settings)
    await start_parts(runtime)
    try:
        if await runtime.services.store.get_account(OWNER) is None:  # a restart keeps it
            await runtime.services.store.add_account(OWNER, PASSWORD)
        http = runtime.part("http")
        frontdoor = runtime.part("frontdoor")
        assert http is not None and frontdoor is not None
        yield Cloud(runtime, http.port, frontdoor.bound_ports[0])  # type: ignore[attr-defined]
    finally:
        await stop_parts(runtime)
        await close_services(runtime)


@contextlib.asynccontextmanager
async def online(camera: SimulatedCamera) -> AsyncIterator[SimulatedCamera]:
    task = asyncio.create_task(camera.run())
    try:
        async with asyncio.timeout(WITHIN):
            await camera.logged_in.wait()
        yield camera
    finally:
        camera.stop()
        await task


def counter_in(jpeg: bytes) -> int:
    """The test-pattern counter shown in a JPEG picture."""
    with av.open(io.BytesIO(jpeg)) as container:
        picture = next(container.decode(video=0))
    return read_counter(picture.to_ndarray(format="gray"))


async def snapshot_counter(client: httpx.AsyncClient, camera_id: int) -> int:
    response = await client.get(f"/api/cameras/{camera_id}/snapshot.jpg")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/jpeg"
    return counter_in(response.content)


async def mjpeg_pictures(response: httpx.Response) -> AsyncIterator[bytes]:
    """The JPEG pictures of a multipart/x-mixed-replace body, as a browser would cut them."""
    buffer = b""
    async for chunk in response.aiter_raw():
        buffer += chunk
        while (header_end := buffer.find(b"\r\n\r\n")) >= 0:
            length = re.search(rb"Content-Length: (\d+)", buffer[:header_end])
            assert length is not None, buffer[:header_end]
            start, end = header_end + 4, header_end + 4 + int(length[1])
            if len(buffer) < end:
                break
            yield buffer[start:end]
            buffer = buffer[end:]


async def counter_until(pictures: AsyncIterator[bytes], wanted: Callable[[int], bool]) -> int:
    """Read pictures until one shows a counter for which `wanted(counter)` holds."""
    async with asyncio.timeout(WITHIN):
        async for picture in pictures:
            counter = counter_in(picture)
            if wanted(counter):
                return counter
    raise AssertionError("the stream ended")


async def test_h264_camera_in_every_output_then_stopped_after_the_linger(cloud: Cloud) -> None:
    async with (
        online(cloud.camera(0)) as camera,
        httpx.AsyncClient(base_url=cloud.url(""), timeout=WITHIN) as client,
    ):
        camera_id = camera.camera_id
        assert camera_id is not None
        # One MJPEG viewer stays connected throughout, so the camera streams exactly once.
        async with client.stream("GET", f"/api/cameras/{camera_id}/stream.mjpeg") as held:
            assert held.status_code == 200
            # Each player must read the stream in its container (-f) and find the video.
            hd = {"codec_name": "h264", "width": 1280, "height": 720}
            hls, llhls, mjpeg, flv = await asyncio.gather(
                ffprobe(cloud.url(f"/api/cameras/{camera_id}/hls/index.m3u8"), "-f", "hls"),
                ffprobe(cloud.url(f"/api/cameras/{camera_id}/hls/ll.m3u8"), "-f", "hls"),
                ffprobe(cloud.url(f"/api/cameras/{camera_id}/stream.mjpeg"), "-f", "mpjpeg"),
                ffprobe(
                    cloud.url(f"/cxs/api/devices/{camera_id}/cam/liveStream?type=video/x-flv"),
                    *("-f", "flv"),
                ),
            )
            assert hls == llhls == flv == hd
            assert mjpeg["codec_name"] == "mjpeg"

            first = await snapshot_counter(client, camera_id)
            async with asyncio.timeout(WITHIN):
                while (later := await snapshot_counter(client, camera_id)) == first:
                    pass
            # The picture moves on (the counter restarts after LOOP_FRAMES).
            assert 0 < (later - first) % LOOP_FRAMES < LOOP_FRAMES // 2
            assert camera.video_requests == 1
            assert camera.video_running.is_set()
            status = (await client.get("/api/status")).json()["parts"]["viewer"]
            stream = status["streams"][str(camera_id)]
            assert stream["encrypted"] and stream["frames"] > 0
            assert stream["decrypt_failures"] == 0  # the camera used the key the store holds

        # Every viewer has left: after the linger fakecloud tells the camera to stop.
        async with asyncio.timeout(WITHIN):
            await camera.video_idle.wait()
        assert [c.name for c in camera.received_commands] == [
            "require-video-send",
            "stop-video-receive",
        ]
        assert [c.args for c in camera.received_commands] == [("fakecloud", "9"), ("fakecloud",)]
        # The stop carries its request's CorrelationID: that is how Tend cameras free the slot.
        request, stop = camera.received_correlations
        assert request and stop == request
        assert cloud.relay_sessions == 0


async def test_a_camera_offline_when_asked_streams_once_it_logs_in(cloud: Cloud) -> None:
    async with online(cloud.camera(2)) as first_run:
        camera_id = first_run.camera_id  # now the store knows it
    async with httpx.AsyncClient(base_url=cloud.url(""), timeout=WITHIN) as client:
        snapshot = asyncio.create_task(snapshot_counter(client, camera_id))  # type: ignore[arg-type]

        async def requested() -> bool:
            status = (await client.get("/api/status")).json()
            media = status["parts"]["media"]["cameras"].get(str(camera_id), {})
            return bool(media.get("streaming"))

        async with asyncio.timeout(WITHIN):
            while not await requested():  # noqa: ASYNC110 - polling the real status API
                await asyncio.sleep(0.02)
        assert first_run.video_requests == 0
        async with online(cloud.camera(2)) as second_run:
            await asyncio.wait_for(snapshot, WITHIN)
            assert second_run.video_requests == 1


async def test_jpeg_camera_gives_mjpeg_and_snapshots(cloud: Cloud) -> None:
    async with (
        online(cloud.camera(3, profile="F7D7601")) as camera,
        httpx.AsyncClient(base_url=cloud.url(""), timeout=WITHIN) as client,
    ):
        camera_id = camera.camera_id
        assert camera_id is not None
        mjpeg = await ffprobe(cloud.url(f"/api/cameras/{camera_id}/stream.mjpeg"), "-f", "mpjpeg")
        assert mjpeg == {"codec_name": "mjpeg", "width": 640, "height": 480}
        assert await snapshot_counter(client, camera_id) >= 0
        hls = await client.get(f"/api/cameras/{camera_id}/hls/index.m3u8")
        assert hls.status_code == 409  # JPEG cameras have no HLS (docs/outputs.md)


async def test_sim_camera_command_streams_the_f7d7601_profile(cloud: Cloud, tmp_path: Path) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "fakecloud", "sim", "camera", "--profile", "F7D7601",
        "--server", f"127.0.0.1:{cloud.cloud_port}", "--account", f"{OWNER}:{PASSWORD}",
        env=cli_env(tmp_path), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        async with asyncio.timeout(WITHIN):
            line = (await process.stdout.readline()).decode()
        online_line = re.fullmatch(r"camera \S+ online as device (\d+)\n", line)
        assert online_line is not None, line
        camera_id = int(online_line[1])
        async with httpx.AsyncClient(base_url=cloud.url(""), timeout=WITHIN) as client:
            response = await client.get(f"/api/cameras/{camera_id}/snapshot.jpg")
        assert response.status_code == 200, response.text
        with av.open(io.BytesIO(response.content)) as container:
            picture = next(container.decode(video=0))
        assert (picture.width, picture.height) == (640, 480)
    finally:
        process.send_signal(signal.SIGINT)
        await asyncio.wait_for(process.wait(), WITHIN)
