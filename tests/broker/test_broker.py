"""The broker end to end: real sockets, real store, R- and K-style clients, simulated cameras."""

from __future__ import annotations

import asyncio

from fakecloud.broker import Broker
from tests.broker.conftest import (
    BrokerServer,
    camera_for,
    wait_until,
)


async def test_cameras_come_back_after_a_server_restart(served: BrokerServer) -> None:
    cameras = [camera_for(served, mac=f"00:11:22:33:44:{index:02X}") for index in range(5)]
    tasks = [asyncio.create_task(camera.run()) for camera in cameras]
    async with asyncio.timeout(5):
        for camera in cameras:
            await camera.logged_in.wait()
    await served.shutdown()
    async with asyncio.timeout(5):
        for camera in cameras:
            await camera.disconnected.wait()
    assert not any(camera.online for camera in await served.store.list_cameras())
    served.broker = Broker(served.broker.settings, served.store, served.recorder)
    await served.listen()  # same port
    async with asyncio.timeout(5):
        for camera in cameras:
            await camera.logged_in.wait()

    async def all_online() -> bool:
        return all(camera.online for camera in await served.store.list_cameras())

    await wait_until(all_online)
    assert all(camera.login_count == 2 for camera in cameras)
    for camera in cameras:
        camera.stop()
    await asyncio.gather(*tasks)
