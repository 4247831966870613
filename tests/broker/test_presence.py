"""The session table end to end: cameras online and offline, in the store and on the bus."""

from __future__ import annotations

import asyncio

from fakecloud.core.events import CameraOffline, CameraOnline
from fakecloud.sim.camera import SimulatedCamera
from tests.broker.conftest import (
    MAC,
    OWNER,
    BrokerServer,
    camera_for,
    wait_until,
)


async def test_camera_login_marks_it_online_in_the_store(
    served: BrokerServer, online_camera: SimulatedCamera
) -> None:
    stored = await served.store.find_camera(mac=MAC)
    assert stored.online and stored.owner == OWNER and stored.last_ip == "127.0.0.1"
    assert stored.firmware == "2.4.8.5-sim"
    assert online_camera.welcome["p2p-key"] == stored.p2p_key  # our hypothesis (docs/viewer.md)
    assert online_camera.camera_id == stored.id
    assert served.broker.online_camera_ids() == [stored.id]
    assert served.broker.status()["cameras_online"] == 1
    assert served.recorder.of_kind("login"), "camera logins are recorded while the form is [U]"
    assert "correct horse" not in repr(served.recorder.events)


async def test_closed_connection_marks_camera_offline_at_once(
    served: BrokerServer, online_camera: SimulatedCamera
) -> None:
    camera_id = online_camera.camera_id
    online_camera.stop()
    await online_camera.disconnected.wait()

    async def offline() -> bool:
        return not (await served.store.get_camera(camera_id)).online

    await wait_until(offline, within=2)
    assert served.broker.online_camera_ids() == []


async def test_the_bus_hears_cameras_come_and_go(served: BrokerServer) -> None:
    presence = served.broker.bus.subscribe("test", CameraOnline, CameraOffline)

    async def heard() -> tuple[int, bool]:
        event = await presence.get()
        assert isinstance(event, CameraOnline | CameraOffline)
        if isinstance(event, CameraOnline):
            assert (event.owner, event.address) == (OWNER, "127.0.0.1")
            # A command sent at once reaches a camera that already has its login reply.
            command = f"modify-device|{event.camera_id}|FPS=7|"
            reply = await served.broker.send_command(event.camera_id, command)
            assert reply.body.startswith(b"ack|modify-device|")
        return event.camera_id, isinstance(event, CameraOnline)

    camera = camera_for(served)
    task = asyncio.create_task(camera.run())
    async with asyncio.timeout(5):
        camera_id, online = await heard()
        await camera.logged_in.wait()
        assert (camera_id, online) == (camera.camera_id, True)
        camera.drop_connection()
        assert await heard() == (camera_id, False)
        assert await heard() == (camera_id, True)  # it reconnected by itself
    assert camera.settings == {"FPS": "7"} and camera.login_count == 2
    camera.stop()
    await task
    assert await asyncio.wait_for(heard(), 5) == (camera_id, False)
