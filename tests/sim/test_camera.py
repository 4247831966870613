"""Simulated cameras: many in one process, bounded reconnects."""

from __future__ import annotations

import asyncio
import time

from fakecloud.sim.camera import SimulatedCamera
from fakecloud.sim.demo import demo_cameras, run_demo, simulated_mac
from tests.broker.conftest import (
    OWNER,
    OWNER_PASSWORD,
    BrokerServer,
    no_camera_online,
    wait_until,
)
from tests.conftest import free_port


async def test_two_hundred_cameras_share_one_event_loop(served: BrokerServer) -> None:
    fleet = demo_cameras("127.0.0.1", served.port, OWNER, OWNER_PASSWORD, 200)
    tasks = [asyncio.create_task(camera.run()) for camera in fleet]
    async with asyncio.timeout(20):
        for camera in fleet:
            await camera.logged_in.wait()
    assert len(served.broker.online_camera_ids()) == 200
    assert len({camera.camera_id for camera in fleet}) == 200
    for camera in fleet:
        camera.stop()
    await asyncio.gather(*tasks)


async def test_reconnects_are_bounded_and_back_off() -> None:
    camera = SimulatedCamera(
        "127.0.0.1",
        free_port(),
        login=OWNER,
        password=OWNER_PASSWORD,
        mac=simulated_mac(1),
        first_backoff=0.05,
        max_backoff=0.1,
    )
    started = time.monotonic()
    await asyncio.wait_for(camera.run(max_attempts=4), 5)
    # three waits between four attempts: 0.05, 0.1, 0.1 at most, each at least halved by jitter
    assert 0.1 < time.monotonic() - started < 2
    assert camera.disconnected.is_set() and camera.login_count == 0


async def test_run_demo_brings_cameras_online(served: BrokerServer) -> None:
    demo = asyncio.create_task(run_demo("127.0.0.1", served.port, OWNER, OWNER_PASSWORD, 3))

    async def three_online() -> bool:
        return len(served.broker.online_camera_ids()) == 3

    await wait_until(three_online)
    demo.cancel()
    await asyncio.gather(demo, return_exceptions=True)
    await wait_until(lambda: no_camera_online(served))


def test_simulated_macs_are_locally_administered() -> None:
    assert simulated_mac(0) == "02:FC:00:00:00:00"
    assert simulated_mac(0x1234) == "02:FC:00:00:12:34"
    assert int(simulated_mac(5)[:2], 16) & 0x02
