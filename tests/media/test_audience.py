"""Audience end to end: fakecloud is the camera's only viewer, so one watcher leaving never stops
a stream another still watches."""

from __future__ import annotations

import asyncio

import httpx

from fakecloud.net.cxnet import Action, Frame
from fakecloud.net.properties import encode_properties, parse_properties
from fakecloud.sim.app import SimulatedApp
from tests.media.test_viewer_e2e import (
    OWNER,
    PASSWORD,
    WITHIN,
    Cloud,
    cloud,
    counter_until,
    mjpeg_pictures,
    online,
)
from tests.relay.peers import bye, r_viewer, receiver_report

__all__ = ["cloud"]  # the fixture


async def command_as_k(app: SimulatedApp, destination: str, command: str, correlation: str) -> None:
    """Send `command` with a CorrelationID of our choosing, as K reuses its require's on the stop,
    and wait for the answer that carries it. (SimulatedApp picks its own CorrelationIDs, so this
    writes on its logged-in link.)"""
    link = app._link
    assert link is not None
    options = encode_properties({"CX_DSTID": destination, "CorrelationID": correlation})
    frame = Frame(Action.COMMAND, session=app._session, options=options, body=command.encode())
    await link.send(frame)
    async with asyncio.timeout(WITHIN):
        while parse_properties((await link.receive()).options).get("CorrelationID") != correlation:
            pass


async def test_an_app_leaving_never_stops_a_stream_fakecloud_still_watches(cloud: Cloud) -> None:
    app = SimulatedApp("127.0.0.1", cloud.cloud_port, login=OWNER, password=PASSWORD)
    relay = (cloud.runtime.settings.announce_address, cloud.runtime.services.relay.port)
    async with (
        online(cloud.camera(5)) as camera,
        httpx.AsyncClient(base_url=cloud.url(""), timeout=WITHIN) as client,
        client.stream("GET", f"/api/cameras/{camera.camera_id}/stream.mjpeg") as local,
    ):
        pictures = mjpeg_pictures(local)
        await counter_until(pictures, lambda counter: counter >= 0)  # fakecloud watches
        await app.login()
        try:
            [entry] = app.cameras
            alias = app.welcome["alias"]
            # Two app sessions: one leaves by stop (with its require's CorrelationID, as K
            # does), one by an RTCP BYE; neither reaches the camera while fakecloud watches.
            await command_as_k(app, entry.destination, f"require-video-send|{alias}|9|", "K-1")
            first = await r_viewer(relay, f"V_{alias}", f"V_{entry.device_id}")
            await first[0].media_count(1, WITHIN)
            assert cloud.relay_sessions == 2
            await command_as_k(app, entry.destination, f"stop-video-receive|{alias}|9|", "K-1")
            assert cloud.relay_sessions == 1  # released at once

            await command_as_k(app, entry.destination, f"require-video-send|{alias}|9|", "K-2")
            second = await r_viewer(relay, f"V_{alias}", f"V_{entry.device_id}")
            await second[0].media_count(1, WITHIN)
            second[1].send(receiver_report(1), relay)
            second[1].send(bye(1), relay)
            async with asyncio.timeout(WITHIN):
                while cloud.relay_sessions != 1:  # noqa: ASYNC110 - the relay's own count
                    await asyncio.sleep(0.01)

            # The local viewer's pictures go on; the camera only ever heard fakecloud start.
            seen = await counter_until(pictures, lambda counter: counter >= 0)
            await counter_until(pictures, lambda counter: counter != seen)
            assert camera.video_running.is_set() and camera.video_requests == 1
            assert [c.name for c in camera.received_commands] == ["require-video-send"]
        finally:
            await app.close()
        await local.aclose()  # the last watcher leaves: after the linger the camera is stopped
        async with asyncio.timeout(WITHIN):
            await camera.video_idle.wait()
        assert [c.name for c in camera.received_commands] == [
            "require-video-send",
            "stop-video-receive",
        ]
