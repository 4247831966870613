"""CameraViewer on the event bus: it hears cameras come and go there, and publishes each stream's
start and stop exactly once. The real server in-process, simulated cameras on loopback."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import httpx

from fakecloud.core.events import (
    CameraEvent,
    CameraOnline,
    StreamStarted,
    StreamStopped,
    Subscription,
)
from fakecloud.sim.camera import SimulatedCamera
from tests.media.test_viewer_e2e import (
    OWNER,
    WITHIN,
    Cloud,
    cloud,
    counter_until,
    mjpeg_pictures,
    online,
    snapshot_counter,
)

# Why a camera's stream ends when its broker session does (the first when the broker saw it
# leave, the second when it logged in again first).
SESSION_ENDED = {"camera offline", "camera logged in again"}

__all__ = ["cloud"]  # the fixture


async def next_event(subscription: Subscription) -> CameraEvent:
    return await asyncio.wait_for(subscription.get(), WITHIN)


async def pictures_after(pictures: AsyncIterator[bytes], seen: int, count: int) -> None:
    """Until `count` more pictures, each showing a new counter, have come."""
    for _ in range(count):
        seen = await counter_until(pictures, lambda counter, last=seen: counter != last)


async def snapshot_decoders(client: httpx.AsyncClient) -> int:
    status = (await client.get("/api/status")).json()
    return int(status["parts"]["media-outputs"]["snapshots"]["decoders"])


@contextlib.asynccontextmanager
async def watched(
    cloud: Cloud, index: int
) -> AsyncIterator[tuple[SimulatedCamera, AsyncIterator[bytes]]]:
    """An online simulated camera and the pictures of one MJPEG viewer watching it."""
    async with (
        online(cloud.camera(index)) as camera,
        httpx.AsyncClient(base_url=cloud.url(""), timeout=WITHIN) as client,
        client.stream("GET", f"/api/cameras/{camera.camera_id}/stream.mjpeg") as response,
    ):
        yield camera, mjpeg_pictures(response)


async def reconnected(camera: SimulatedCamera, pictures: AsyncIterator[bytes]) -> None:
    """Drop the camera's connection mid-stream; return once the viewer sees its next stream.

    Each stream the camera sends starts its counter at 0: a low counter after a high one can
    only come from a stream started after the reconnection."""
    await counter_until(pictures, lambda counter: counter >= 20)
    camera.drop_connection()
    await counter_until(pictures, lambda counter: counter < 20)


async def test_a_stream_is_started_and_stopped_once_and_frees_its_decoder(cloud: Cloud) -> None:
    streams = cloud.runtime.services.bus.subscribe("test", StreamStarted, StreamStopped)
    async with (
        online(cloud.camera(6)) as camera,
        httpx.AsyncClient(base_url=cloud.url(""), timeout=WITHIN) as client,
    ):
        camera_id = camera.camera_id
        assert camera_id is not None
        await snapshot_counter(client, camera_id)
        assert await next_event(streams) == StreamStarted(camera_id)
        assert await snapshot_decoders(client) == 1
        # No viewer is left: after the linger the stream is released and the camera stopped.
        async with asyncio.timeout(WITHIN):
            await camera.video_idle.wait()
        assert await next_event(streams) == StreamStopped(camera_id, "released")
        async with asyncio.timeout(WITHIN):
            while await snapshot_decoders(client):  # noqa: ASYNC110 - polling the status API
                await asyncio.sleep(0.02)
    assert camera.video_requests == 1
    assert streams.status()["queued"] == 0  # nothing more: the camera left with no stream


async def test_a_camera_that_reconnects_resumes_video_for_a_connected_viewer(
    cloud: Cloud,
) -> None:
    streams = cloud.runtime.services.bus.subscribe("test", StreamStarted, StreamStopped)
    async with watched(cloud, 1) as (camera, pictures):
        await reconnected(camera, pictures)
        assert camera.login_count == 2
        assert camera.video_requests == 2
        # Heard on the bus: the old session's stream stopped, a new one started.
        assert await next_event(streams) == StreamStarted(camera.camera_id)
        stopped = await next_event(streams)
        assert isinstance(stopped, StreamStopped) and stopped.reason in SESSION_ENDED
        assert await next_event(streams) == StreamStarted(camera.camera_id)
        assert streams.status()["queued"] == 0


async def test_a_late_camera_online_for_the_current_session_changes_nothing(cloud: Cloud) -> None:
    bus = cloud.runtime.services.bus
    streams = bus.subscribe("test", StreamStarted, StreamStopped)
    async with watched(cloud, 8) as (camera, pictures):
        assert camera.camera_id is not None
        seen = await counter_until(pictures, lambda counter: counter >= 0)
        # Heard a moment after the login it reports, as a subscriber always hears it.
        bus.publish(CameraOnline(camera.camera_id, OWNER, "127.0.0.1"))
        await pictures_after(pictures, seen, 5)
        assert camera.video_requests == 1 and camera.login_count == 1
        assert await next_event(streams) == StreamStarted(camera.camera_id)
        assert streams.status()["queued"] == 0


async def test_a_stuck_bus_subscriber_never_delays_video(cloud: Cloud) -> None:
    # Security consideration (the bus's promise): a subscriber that never reads loses its
    # oldest events; the broker and the viewer publishing to it are never held up.
    stuck = cloud.runtime.services.bus.subscribe("stuck", limit=1)
    async with watched(cloud, 9) as (camera, pictures):
        # Online, started, offline, stopped, online again, started: far more than it holds.
        await reconnected(camera, pictures)
        await pictures_after(pictures, await counter_until(pictures, lambda _: True), 5)
    status = stuck.status()
    assert status["queued"] == 1 and status["delivered"] == 0
    assert status["dropped"] >= 4
