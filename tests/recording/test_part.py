"""The recorder end to end: a simulated camera streams through the relay into the hub; the
recorder writes a motion clip with its pre-roll, which ffprobe and PyAV read back."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx

from fakecloud.core.config import Settings
from fakecloud.core.events import Motion, RecordingFinished
from fakecloud.media.hub import Subscription
from tests.media.test_viewer_e2e import WITHIN, online, running_cloud
from tests.recording.clips import assert_consecutive, counters, probe

FPS = 15
PRE_SECONDS = 2.0


async def frames_pass(frames: Subscription, count: int) -> None:
    """Until `count` more frames of the camera went through the hub (to a viewer of our own)."""
    async with asyncio.timeout(WITHIN):
        for _ in range(count):
            await anext(frames)


async def test_a_motion_clip_has_its_pre_roll_and_plays(settings: Settings) -> None:
    changes = {
        "record_mode": "motion",
        "record_pre_seconds": PRE_SECONDS,
        "record_post_seconds": 1.0,
    }
    async with running_cloud(settings, **changes) as cloud, online(cloud.camera(0)) as camera:
        camera_id = camera.camera_id
        assert camera_id is not None
        hub, bus = cloud.runtime.services.media_hub, cloud.runtime.services.bus
        finished = bus.subscribe("test", RecordingFinished)
        # Nobody watches: the recorder alone makes the camera stream.
        async with asyncio.timeout(WITHIN):
            await camera.video_running.wait()
        async with hub.subscribe(camera_id) as frames:
            await frames_pass(frames, 4 * FPS)  # the pre-roll fills
            assert not list((settings.data_dir / "recordings").rglob("*.mp4"))
            bus.publish(Motion(camera_id, {"state": "start"}))
            await frames_pass(frames, 2 * FPS)
            bus.publish(Motion(camera_id, {"state": "end"}))
        async with asyncio.timeout(WITHIN):
            event = await finished.get()
        assert isinstance(event, RecordingFinished) and event.camera_id == camera_id
        path = Path(event.path)
        # pre-roll (whole seconds of GOPs, at least PRE_SECONDS) + 2 s of motion + 1 s post-roll
        assert PRE_SECONDS + 3 - 0.5 <= event.seconds <= PRE_SECONDS + 3 + 2.5, event.seconds
        found = probe(path)
        assert (found["codec_name"], found["width"], found["height"]) == ("h264", 1280, 720)
        assert abs(float(found["duration"]) - event.seconds) < 0.5
        decoded = counters(path)
        assert len(decoded) == int(found["nb_read_frames"]) >= (PRE_SECONDS + 3) * FPS - 10
        assert_consecutive(decoded)

        async with httpx.AsyncClient(base_url=cloud.url(""), timeout=WITHIN) as client:
            listed = (await client.get(f"/api/cameras/{camera_id}/recordings")).json()
            assert [clip["name"] for clip in listed] == [path.name]
            assert listed[0]["reason"] == "motion" and not listed[0]["recording"]
            assert (await client.get("/api/recordings")).json() == listed
            ranged = await client.get(listed[0]["url"], headers={"Range": "bytes=0-99"})
            assert ranged.status_code == 206 and len(ranged.content) == 100
            assert ranged.content[4:8] == b"ftyp"
            whole = await client.get(listed[0]["url"], params={"download": "1"})
            assert whole.content == await asyncio.to_thread(path.read_bytes)
            assert "attachment" in whole.headers["content-disposition"]
            missing = await client.get(f"/api/cameras/{camera_id}/recordings/..%2Fx.mp4")
            assert missing.status_code == 404


async def test_a_jpeg_camera_is_not_recorded_nor_kept_streaming(settings: Settings) -> None:
    async with (
        running_cloud(settings, record_mode="continuous") as cloud,
        online(cloud.camera(3, profile="F7D7601")) as camera,
    ):
        async with asyncio.timeout(WITHIN):
            await camera.video_running.wait()  # asked once, to learn what it sends
            await camera.video_idle.wait()  # then let go after the linger
        recorder = cloud.runtime.part("recordings")
        assert recorder is not None and recorder.status()["cameras"] == {}
        assert not list((settings.data_dir / "recordings").rglob("*.mp4"))
