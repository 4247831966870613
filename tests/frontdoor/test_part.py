"""The front door part (part.py): listeners, bind failures, limits, stopping."""

from __future__ import annotations

import asyncio
import errno
import logging
import socket
from collections.abc import Iterator

import httpx
import pytest

from fakecloud.frontdoor import ConnectionInfo
from fakecloud.frontdoor.part import FrontDoorPart, describe_bind_error
from fakecloud.web.asgi import AsgiProtocolFactory
from tests.frontdoor.clients import HOST, IO_TIMEOUT, CxnetEcho, cxnet_header, read_until_closed
from tests.frontdoor.conftest import ListRecorder, PartFactory, Pki


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A loopback port another program already listens on."""
    with socket.socket() as squatter:
        squatter.bind((HOST, 0))
        squatter.listen()
        yield squatter.getsockname()[1]


async def test_a_taken_port_is_reported_and_the_others_serve(
    front_door: PartFactory, caplog: pytest.LogCaptureFixture, taken_port: int
) -> None:
    with caplog.at_level(logging.INFO, logger="fakecloud.frontdoor"):
        part = await front_door(ports=[taken_port, 0])
    in_use = "address already in use (another program listens there)"
    assert part.status()["failed"] == [{"port": taken_port, "error": in_use}]
    failures = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert failures == [f"cannot listen on port {taken_port}: {in_use}"]
    assert list(part.bound_ports) == [0]
    async with httpx.AsyncClient() as client:
        response = await client.get(f"http://{HOST}:{part.bound_ports[0]}/healthz")
    assert response.status_code == 200


async def test_no_port_at_all_still_starts_but_says_so(
    front_door: PartFactory, caplog: pytest.LogCaptureFixture, taken_port: int
) -> None:
    part = await front_door(ports=[taken_port])
    assert part.status()["listening"] == []
    assert part.bound_ports == {}
    [critical] = [r for r in caplog.records if r.levelno == logging.CRITICAL]
    assert "could not listen on ANY port" in critical.getMessage()


def test_bind_errors_are_explained() -> None:
    denied = PermissionError(errno.EACCES, "Permission denied")
    assert describe_bind_error(denied, "0.0.0.0") == (
        "permission denied (needs root or CAP_NET_BIND_SERVICE)"
    )
    missing = OSError(errno.EADDRNOTAVAIL, "Cannot assign requested address")
    assert describe_bind_error(missing, "10.9.9.9") == (
        "address 10.9.9.9 is not an address of this machine"
    )


def test_bad_limits_are_refused() -> None:
    with pytest.raises(ValueError, match="max_sniff_bytes"):
        FrontDoorPart(
            HOST,
            [0],
            tls_context=None,
            cxnet_handler=None,
            asgi=None,
            recorder=None,
            max_sniff_bytes=10,
        )


async def test_stop_keeps_captures_and_closes_everything(
    front_door: PartFactory, recorder: ListRecorder
) -> None:
    handler = CxnetEcho()
    part = await front_door(cxnet_handler=handler)
    port = part.bound_ports[0]
    capture_reader, capture_writer = await asyncio.open_connection(HOST, port)
    capture_writer.write(b"\x00partial")
    await capture_writer.drain()
    # On loopback the bytes above are queued at the server before the camera even connects, and
    # one event loop reads them before it can answer the camera: after the answer, the capture
    # is in progress with its bytes read.
    camera_reader, camera_writer = await asyncio.open_connection(HOST, port)
    camera_writer.write(cxnet_header())
    async with asyncio.timeout(IO_TIMEOUT):
        await camera_reader.readexactly(29)
    await part.stop()
    await part.stop()  # a second stop is harmless
    assert await read_until_closed(camera_reader) == b""
    assert await read_until_closed(capture_reader) == b""
    [record] = await recorder.wait_for(1)
    assert (record["data"], record["reason"]) == (b"\x00partial", "stopping")
    assert part.status()["listening"] == []
    capture_writer.close()
    camera_writer.close()


async def test_extra_hosts_share_each_port_with_the_bind_address(
    pki: Pki, asgi: AsgiProtocolFactory
) -> None:
    """The broker's own address (127.0.0.2 here) is served on the same kernel-chosen port."""
    local_addresses: list[str] = []

    async def note_local_address(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, info: ConnectionInfo
    ) -> None:
        local_addresses.append(writer.get_extra_info("sockname")[0])
        writer.close()

    part = FrontDoorPart(
        HOST,
        [0],
        tls_context=pki.device_context(),
        cxnet_handler=note_local_address,
        asgi=asgi,
        recorder=ListRecorder(),
        extra_hosts=["127.0.0.2", HOST],
    )
    await part.start()
    try:
        port = part.bound_ports[0]
        assert part.status()["extra_hosts"] == ["127.0.0.2"]
        for address in (HOST, "127.0.0.2"):
            reader, writer = await asyncio.open_connection(address, port)
            writer.write(b"A\x01" + bytes(60))
            await read_until_closed(reader)
            writer.close()
        assert local_addresses == [HOST, "127.0.0.2"]
    finally:
        await part.stop()
    with pytest.raises(OSError):
        await asyncio.open_connection("127.0.0.2", port)
