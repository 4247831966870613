"""Simulated cameras for `fakecloud serve --demo`."""

from __future__ import annotations

import asyncio
from typing import Any

from fakecloud.sim.camera import SimulatedCamera

# Locally administered MAC prefix (second-lowest bit of the first byte set): never a real device.
SIM_MAC_PREFIX = "02:FC:00"


def simulated_mac(index: int) -> str:
    if not 0 <= index < 1 << 24:
        raise ValueError("simulated camera index out of range")
    low = index.to_bytes(3, "big")
    return SIM_MAC_PREFIX + "".join(f":{byte:02X}" for byte in low)


def demo_cameras(
    host: str, port: int, login: str | None, password: str | None, count: int, **options: Any
) -> list[SimulatedCamera]:
    return [
        SimulatedCamera(host, port, login=login, password=password, mac=simulated_mac(i), **options)
        for i in range(count)
    ]


async def run_demo(
    host: str, port: int, login: str, password: str, count: int = 3, **options: Any
) -> None:
    """Run `count` simulated cameras against the broker until cancelled."""
    cameras = demo_cameras(host, port, login, password, count, **options)
    try:
        async with asyncio.TaskGroup() as group:
            for camera in cameras:
                group.create_task(camera.run())
    finally:
        for camera in cameras:
            camera.stop()
