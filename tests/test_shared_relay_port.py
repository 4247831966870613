"""The default ports put the relay (UDP 6178 and its TCP fallback) on a cloud port (TCP 6178):
the front door then owns the TCP side and hands relay streams over."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator

import pytest

from fakecloud.core.config import Settings
from fakecloud.net.sdnk import Address, Peers, Register, RelayAck, decode
from fakecloud.runtime import Runtime
from fakecloud.server import build_runtime, close_services, start_parts, stop_parts
from tests.conftest import free_port
from tests.relay.peers import TcpPeer

ATTEMPTS = 20


def port_free_for_udp_and_tcp() -> int:
    for _ in range(ATTEMPTS):
        port = free_port(socket.SOCK_DGRAM)
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port
    raise RuntimeError("no port is free for both UDP and TCP")


@pytest.fixture
async def runtime(settings: Settings) -> AsyncIterator[Runtime]:
    shared = port_free_for_udp_and_tcp()
    settings = settings.model_copy(
        # broker_port 0: no second-hop CXNet listener, so the shared port is the only one.
        update={
            "dns_enabled": False,
            "cloud_ports": [shared],
            "relay_port": shared,
            "broker_port": 0,
        }
    )
    running = build_runtime(settings)
    await start_parts(running)
    try:
        yield running
    finally:
        await stop_parts(running)
        await close_services(running)


async def test_relay_tcp_fallback_and_http_share_one_cloud_port(runtime: Runtime) -> None:
    port = runtime.settings.relay_port
    frontdoor = runtime.part("frontdoor")
    assert frontdoor is not None
    assert frontdoor.bound_ports == {port: port}  # type: ignore[attr-defined]

    relay = runtime.services.relay
    allocation = relay.allocate(5, "video", "alice", viewer_host="127.0.0.1")
    viewer = await TcpPeer.connect(port)
    ids = (allocation.viewer_media_id, allocation.camera_media_id)
    await viewer.send(Register(0, "V", Address("127.0.0.1", 1), ids).encode())
    assert isinstance(decode(await viewer.receive()), RelayAck)
    assert isinstance(decode(await viewer.receive()), Peers)
    assert relay.status()["tcp_connections"] == 1
    await viewer.close()

    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    async with asyncio.timeout(10):
        answer = await reader.read()
    writer.close()
    assert answer.startswith(b"HTTP/1.1 200")
