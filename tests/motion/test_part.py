"""Server-side motion detection end to end: a simulated camera streams through the relay; its
picture shows motion on demand (the test pattern's moving block); real decoding and differencing
turn that into one start and one end, stored with a snapshot and served over HTTP."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from fakecloud.core.config import Settings
from fakecloud.core.events import Motion, Subscription
from fakecloud.media.hub import MediaHub
from fakecloud.motion.part import MotionPart
from tests.media.test_viewer_e2e import WITHIN, Cloud, online, running_cloud

QUIET = 2.0
DETECTION = {"motion_start_frames": 2, "motion_quiet_seconds": QUIET, "motion_fps": 2.0}
BAND = [0.0, 0.25, 1.0, 0.5]  # where the test pattern's block moves: rows 1/4 to 3/4
CSRF = {"AntiCSRF": "1"}


async def keyframes_pass(hub: MediaHub, camera_id: int, count: int) -> None:
    """Until `count` keyframes went through the hub (about a second each)."""
    async with asyncio.timeout(WITHIN), hub.subscribe(camera_id) as frames:
        seen = 0
        async for frame in frames:
            seen += frame.keyframe
            if seen > count:  # the first may be the hub's cached one
                return


async def next_motion(events: Subscription) -> dict[str, Any]:
    async with asyncio.timeout(WITHIN):
        event = await events.get()
    assert isinstance(event, Motion)
    return event.detail


def motion_part(cloud: Cloud) -> MotionPart:
    part = cloud.runtime.part("motion")
    assert isinstance(part, MotionPart)
    return part


async def test_motion_on_is_one_start_and_off_is_one_end(settings: Settings) -> None:
    async with (
        running_cloud(settings, motion_detection=True, **DETECTION) as cloud,
        online(cloud.camera(0)) as camera,
        httpx.AsyncClient(base_url=cloud.url(""), timeout=WITHIN) as client,
    ):
        camera_id = camera.camera_id
        assert camera_id is not None
        hub, bus = cloud.runtime.services.media_hub, cloud.runtime.services.bus
        events = bus.subscribe("test", Motion)
        # Nobody watches: detection alone makes the camera stream. A still picture (but for
        # its counter and sweep) is no motion.
        async with asyncio.timeout(WITHIN):
            await camera.video_running.wait()
        await keyframes_pass(hub, camera_id, 4)
        assert motion_part(cloud).counters["pictures"] >= 3
        assert events.status()["queued"] == 0

        await camera.show_motion(True)
        start = await next_motion(events)
        assert start["state"] == "start" and start["source"] == "server"
        await keyframes_pass(hub, camera_id, 3)
        assert events.status()["queued"] == 0  # motion goes on: still one event

        await camera.show_motion(False)
        end = await next_motion(events)
        assert end["state"] == "end"
        await keyframes_pass(hub, camera_id, 2)
        assert events.status()["queued"] == 0

        # Stored with a snapshot, in fakecloud's API and in Tend's shape.
        listed = (await client.get("/api/events", params={"camera_id": camera_id})).json()
        assert [(e["kind"], e["data"]["state"]) for e in listed] == [("motion", "start")]
        assert listed[0]["thumbnail"] == f"/cxs/api/events/{listed[0]['id']}/media/thumbnail"
        thumbnail = await client.get(listed[0]["thumbnail"])
        assert thumbnail.status_code == 200 and thumbnail.content[:2] == b"\xff\xd8"
        tend = (await client.get("/cxs/api/events")).json()["items"]
        assert [(item["id"], item["srcId"]) for item in tend] == [
            (str(listed[0]["id"]), str(camera_id))
        ]


async def test_motion_in_a_masked_zone_is_no_event(settings: Settings) -> None:
    async with (
        running_cloud(settings, **DETECTION) as cloud,
        online(cloud.camera(1)) as camera,
        httpx.AsyncClient(base_url=cloud.url(""), timeout=WITHIN) as client,
    ):
        camera_id = camera.camera_id
        assert camera_id is not None
        events = cloud.runtime.services.bus.subscribe("test", Motion)
        part = motion_part(cloud)
        options = f"/api/cameras/{camera_id}/options"
        refused = await client.patch(options, json={"motion_zones": [[0, 0, 2, 1]]}, headers=CSRF)
        assert refused.status_code == 422
        assert (await client.patch(options, json={"motion_detection": True})).status_code == 403
        changed = {"motion_detection": True, "motion_zones": [BAND]}
        answer = await client.patch(options, json=changed, headers=CSRF)
        assert answer.status_code == 200, answer.text
        assert answer.json() == (await client.get(options)).json()
        assert answer.json()["motion_zones"] == [BAND] and answer.json()["record"] is None
        assert str(camera_id) in part.status()["cameras"]  # detection started at once
        await camera.show_motion(True)
        async with asyncio.timeout(WITHIN):
            await camera.video_running.wait()
        await keyframes_pass(cloud.runtime.services.media_hub, camera_id, 5)
        assert part.counters["pictures"] >= 3
        assert events.status()["queued"] == 0
        assert part.status()["cameras"][str(camera_id)]["moving"] is False
