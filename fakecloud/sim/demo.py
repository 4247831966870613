"""Simulated camera fleets: `fakecloud sim camera` (and the tests and benchmarks) and the
cameras of `fakecloud serve --demo`."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from fakecloud.sim.camera import LoginRefused, SimulatedCamera

log = logging.getLogger(__name__)

# Locally administered MAC prefixes (second-lowest bit of the first byte set): never a real
# device. The demo has its own, so its cameras never collide with `fakecloud sim` ones.
SIM_MAC_PREFIX = "02:FC:00"
DEMO_MAC_PREFIX = "02:FC:DE"
# A refused or failing demo camera tries again after this long, doubling up to the maximum.
DEMO_FIRST_RETRY_SECONDS = 5.0
DEMO_MAX_RETRY_SECONDS = 300.0


def prefixed_mac(prefix: str, index: int) -> str:
    if not 0 <= index < 1 << 24:
        raise ValueError("simulated camera index out of range")
    low = index.to_bytes(3, "big")
    return prefix + "".join(f":{byte:02X}" for byte in low)


def simulated_mac(index: int) -> str:
    return prefixed_mac(SIM_MAC_PREFIX, index)


def demo_mac(index: int) -> str:
    return prefixed_mac(DEMO_MAC_PREFIX, index)


def demo_cameras(
    host: str,
    port: int,
    login: str | None,
    password: str | None,
    count: int,
    *,
    mac_for: Callable[[int], str] = simulated_mac,
    **options: Any,
) -> list[SimulatedCamera]:
    """`count` simulated cameras, by default with `fakecloud sim` MACs."""
    return [
        SimulatedCamera(host, port, login=login, password=password, mac=mac_for(i), **options)
        for i in range(count)
    ]


async def keep_running(
    camera: SimulatedCamera,
    first_retry: float = DEMO_FIRST_RETRY_SECONDS,
    max_retry: float = DEMO_MAX_RETRY_SECONDS,
) -> None:
    """Run one camera until cancelled or stopped. A refused login (its MAC owned by another
    account, say) or a crash is logged and retried later, so it never ends the other cameras."""
    retry = first_retry
    try:
        while True:
            try:
                await camera.run()
                return  # stop() was called
            except LoginRefused as refused:
                log.warning(
                    "demo camera %s was refused (%s); trying again in %g s",
                    camera.mac,
                    refused,
                    retry,
                )
            except Exception:
                log.exception("demo camera %s failed; trying again in %g s", camera.mac, retry)
            await asyncio.sleep(retry)  # backoff, not synchronisation: cancelling ends it
            retry = min(retry * 2, max_retry)
    finally:
        camera.stop()


async def run_demo(
    host: str,
    port: int,
    login: str,
    password: str,
    count: int = 3,
    *,
    first_retry: float = DEMO_FIRST_RETRY_SECONDS,
    **options: Any,
) -> None:
    """Run `count` demo cameras against the broker until cancelled, each on its own."""
    cameras = demo_cameras(host, port, login, password, count, mac_for=demo_mac, **options)
    await asyncio.gather(*(keep_running(camera, first_retry) for camera in cameras))
