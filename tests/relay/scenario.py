"""A relay under test and the camera and viewers it meets, on real loopback sockets."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from typing import Any

from fakecloud.net.sdnk import Peers, Register
from fakecloud.relay import Allocation, RelayPart, Tap
from tests.relay.peers import RECEIVE_TIMEOUT, UdpPeer, k_viewer, r_viewer

CAMERA = 5
HOST = "127.0.0.1"  # where the test viewers register from: their app's broker address


class ListRecorder:
    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def record(self, kind: str, *, data: bytes | None = None, **fields: Any) -> None:
        self.events.append({"kind": kind, "data": data, **fields})


async def running_relay(relay: RelayPart) -> AsyncIterator[RelayPart]:
    await relay.start()
    try:
        yield relay
    finally:
        await relay.stop()


def address_of(allocation: Allocation) -> tuple[str, int]:
    return (allocation.host, allocation.port)


async def register_with(
    peer: UdpPeer, allocation: Allocation, channel: int, ids: tuple[str, str], kind: str = "V"
) -> Peers:
    peer.send(Register(channel, kind, peer.address, ids).encode(), address_of(allocation))
    return await peer.peers()


async def camera_of(allocation: Allocation, host: str = "127.0.0.1") -> list[UdpPeer]:
    """A camera registering both channels, R-reading mirrored: its own id first."""
    ids = (allocation.camera_media_id, allocation.viewer_media_id)
    sockets = [await UdpPeer.bind(host), await UdpPeer.bind(host)]
    for channel, sock in enumerate(sockets):
        await register_with(sock, allocation, channel, ids)
    return sockets


async def r_viewer_of(allocation: Allocation) -> list[UdpPeer]:
    return await r_viewer(
        address_of(allocation), allocation.viewer_media_id, allocation.camera_media_id
    )


async def k_viewer_of(allocation: Allocation, host: str = "127.0.0.1") -> list[UdpPeer]:
    return await k_viewer(address_of(allocation), allocation.camera_media_id, host)


def media_datagram(index: int, size: int = 64) -> bytes:
    # 8-byte chunk header (frame number, LE) then RTP version 2: never "SDNK".
    return index.to_bytes(4, "little") + b"\x01\x00\x00\x00\x80\x60" + bytes(size - 10)


async def take(tap: Tap, count: int) -> AsyncIterator[bytes]:
    async with asyncio.timeout(5):
        for _ in range(count):
            yield await anext(tap)


async def wait_for(condition: Any, seconds: float = 5.0) -> None:
    """Bounded polling, only where no event exists (the relay's own counters)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while not condition():
        assert loop.time() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


SHORT = 0.4  # a shortened inactivity timeout; every wait below is bounded by RECEIVE_TIMEOUT


class Ended:
    """An `on_end` callback that tests can wait on."""

    def __init__(self) -> None:
        self.reasons: list[str] = []
        self.event = asyncio.Event()

    def __call__(self, allocation: Allocation, reason: str) -> None:
        self.reasons.append(reason)
        self.event.set()

    async def wait(self) -> list[str]:
        async with asyncio.timeout(RECEIVE_TIMEOUT):
            await self.event.wait()
        return self.reasons


def silent_socket() -> socket.socket:
    """A victim's socket: it never answers, so what it receives is what a spoofer aimed at it."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((HOST, 0))
    sock.setblocking(False)
    return sock


def drain(sock: socket.socket) -> int:
    received = 0
    with contextlib.suppress(BlockingIOError):
        for _ in range(100_000):  # bounded: far more than the relay could have sent
            received += len(sock.recv(4096))
    return received
