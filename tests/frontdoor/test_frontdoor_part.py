"""The front door on real loopback sockets, with real TLS and real clients."""

from __future__ import annotations

import asyncio
import errno
import logging
import socket
import ssl
import struct
import time
from collections.abc import Iterator

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fakecloud.frontdoor import ConnectionInfo, FrontDoorPart
from fakecloud.frontdoor.part import describe_bind_error
from fakecloud.web.asgi import AsgiProtocolFactory
from tests.frontdoor.conftest import APP_NAME, DEVICE_NAME, ListRecorder, PartFactory, Pki
from tests.frontdoor.test_clienthello import real_client_hello

HOST = "127.0.0.1"
IO_TIMEOUT = 5.0


def cxnet_header(version: int = 1, action: int = 519) -> bytes:
    # marker, version, total_len, hlen, direction, data_len, service, action, crypto, server_id, to
    return struct.pack("<BBHHBIHHHHQ", 0x41, version, 43, 16, 0, 0, 121, action, 2, 0, 7)


class CxnetEcho:
    """A stand-in broker: answers every 27-byte header with b'ok' + the header."""

    def __init__(self) -> None:
        self.seen: asyncio.Queue[tuple[bytes, ConnectionInfo]] = asyncio.Queue()

    async def __call__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, info: ConnectionInfo
    ) -> None:
        while header := await reader.read(27):
            header += await reader.readexactly(27 - len(header))
            await self.seen.put((header, info))
            if header[1] == 2:
                raise RuntimeError("this test handler fails on version 2")
            writer.write(b"ok" + header)
            await writer.drain()


async def read_until_closed(reader: asyncio.StreamReader) -> bytes:
    """Everything the server sends until it closes (a reset counts as closed)."""
    received = b""
    async with asyncio.timeout(IO_TIMEOUT):
        try:
            while chunk := await reader.read(65536):
                received += chunk
        except (ConnectionResetError, ssl.SSLError):
            pass
    return received


async def cxnet_round_trip(port: int, header: bytes, **tls: object) -> bytes:
    reader, writer = await asyncio.open_connection(HOST, port, **tls)  # type: ignore[arg-type]
    try:
        writer.write(header)
        async with asyncio.timeout(IO_TIMEOUT):
            return await reader.readexactly(2 + len(header))
    finally:
        writer.close()


async def test_plain_http_reaches_the_web_app(front_door: PartFactory) -> None:
    part = await front_door()
    async with httpx.AsyncClient() as client:
        response = await client.get(f"http://{HOST}:{part.bound_ports[0]}/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "scheme": "http"}
    assert part.status()["listening"][0]["connections"]["http"] == 1


@pytest.mark.parametrize("server_name", [DEVICE_NAME, APP_NAME])
async def test_https_with_sni_reaches_the_web_app(
    front_door: PartFactory, pki: Pki, server_name: str
) -> None:
    part = await front_door()
    async with httpx.AsyncClient(verify=pki.client_context()) as client:
        response = await client.get(
            f"https://{HOST}:{part.bound_ports[0]}/healthz",
            extensions={"sni_hostname": server_name},
        )
    assert response.json() == {"status": "ok", "scheme": "https"}
    counters = part.status()["listening"][0]["connections"]
    assert counters["tls"] == 1
    assert counters["http"] == 1


async def test_plain_cxnet_reaches_the_handler_byte_for_byte(front_door: PartFactory) -> None:
    handler = CxnetEcho()
    part = await front_door(cxnet_handler=handler)
    port = part.bound_ports[0]
    header = cxnet_header()
    assert await cxnet_round_trip(port, header) == b"ok" + header
    seen, info = handler.seen.get_nowait()
    assert seen == header
    assert info.local_port == port
    assert info.peer[0] == HOST
    assert (info.tls, info.sni) == (False, None)
    assert len(info.id) == 8


async def test_cxnet_inside_tls_carries_the_server_name(front_door: PartFactory, pki: Pki) -> None:
    handler = CxnetEcho()
    part = await front_door(cxnet_handler=handler)
    header = cxnet_header(version=3, action=411)
    reply = await cxnet_round_trip(
        part.bound_ports[0], header, ssl=pki.client_context(), server_hostname=DEVICE_NAME
    )
    assert reply == b"ok" + header
    seen, info = handler.seen.get_nowait()
    assert seen == header
    assert (info.tls, info.sni) == (True, DEVICE_NAME)


async def test_garbage_is_captured_and_closed_after_the_idle_timeout(
    front_door: PartFactory, recorder: ListRecorder
) -> None:
    part = await front_door(first_bytes_timeout=0.3)
    port = part.bound_ports[0]
    reader, writer = await asyncio.open_connection(HOST, port)
    started = time.monotonic()
    writer.write(b"\x00\x01 hello?")
    await writer.drain()
    writer.write(b" more")
    assert await read_until_closed(reader) == b""
    assert time.monotonic() - started >= 0.3
    writer.close()
    [record] = await recorder.wait_for(1)
    assert record["kind"] == "connection"
    assert record["data"] == b"\x00\x01 hello? more"
    local_host, local_port = writer.get_extra_info("sockname")[:2]
    assert record["peer"] == f"{local_host}:{local_port}"
    assert record["local_port"] == port
    assert (record["tls"], record["sni"], record["direction"]) == (False, None, "in")
    assert (record["protocol"], record["reason"]) == ("unknown", "idle")
    assert len(record["connection"]) == 8


async def test_a_silent_client_is_recorded_and_closed(
    front_door: PartFactory, recorder: ListRecorder
) -> None:
    part = await front_door(first_bytes_timeout=0.2)
    reader, writer = await asyncio.open_connection(HOST, part.bound_ports[0])
    assert await read_until_closed(reader) == b""
    writer.close()
    [record] = await recorder.wait_for(1)
    assert (record["data"], record["reason"]) == (b"", "silent")


async def test_a_trickling_client_cannot_hold_the_sniffer(
    front_door: PartFactory, recorder: ListRecorder
) -> None:
    part = await front_door(first_bytes_timeout=0.3)
    reader, writer = await asyncio.open_connection(HOST, part.bound_ports[0])
    writer.write(b"OPTI")  # could still become HTTP, but never finishes
    assert await read_until_closed(reader) == b""
    writer.close()
    [record] = await recorder.wait_for(1)
    assert (record["data"], record["reason"], record["protocol"]) == (
        b"OPTI",
        "too_slow",
        "undecided",
    )


async def test_a_capture_stops_at_the_size_cap(
    front_door: PartFactory, recorder: ListRecorder
) -> None:
    part = await front_door(max_sniff_bytes=4096)
    reader, writer = await asyncio.open_connection(HOST, part.bound_ports[0])
    writer.write(b"\xff" * 10_000)
    await read_until_closed(reader)
    writer.close()
    [record] = await recorder.wait_for(1)
    assert record["data"] == b"\xff" * 4096
    assert record["reason"] == "size_cap"


async def test_garbage_inside_tls_is_captured_decrypted(
    front_door: PartFactory, recorder: ListRecorder, pki: Pki
) -> None:
    part = await front_door(first_bytes_timeout=0.3)
    reader, writer = await asyncio.open_connection(
        HOST, part.bound_ports[0], ssl=pki.client_context(), server_hostname=DEVICE_NAME
    )
    writer.write(b"w0 not yet understood")
    await read_until_closed(reader)
    writer.close()
    [record] = await recorder.wait_for(1)
    assert record["data"] == b"w0 not yet understood"
    assert (record["tls"], record["sni"]) == (True, DEVICE_NAME)


async def test_a_tls_1_0_client_gets_through_to_http(front_door: PartFactory) -> None:
    part = await front_door()
    client = await asyncio.create_subprocess_exec(
        "openssl",
        "s_client",
        "-connect",
        f"{HOST}:{part.bound_ports[0]}",
        "-servername",
        DEVICE_NAME,
        "-tls1",
        "-cipher",
        "AES128-SHA:@SECLEVEL=0",
        "-brief",
        "-ign_eof",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    request = f"GET /healthz HTTP/1.0\r\nHost: {DEVICE_NAME}\r\n\r\n".encode()
    async with asyncio.timeout(IO_TIMEOUT * 2):
        stdout, stderr = await client.communicate(request)
    assert b"Protocol version: TLSv1\n" in stderr
    assert b"AES128-SHA" in stderr
    assert stdout.startswith(b"HTTP/1.1 200 OK")
    assert stdout.endswith(b'{"status":"ok","scheme":"https"}')


async def test_a_failed_handshake_keeps_the_client_hello(
    front_door: PartFactory, recorder: ListRecorder
) -> None:
    part = await front_door()
    hello = real_client_hello("netcam.belkin.com")
    _, writer = await asyncio.open_connection(HOST, part.bound_ports[0])
    writer.write(hello)
    await writer.drain()
    writer.close()  # gives up mid-handshake, as a client that distrusts the CA would
    [record] = await recorder.wait_for(1)
    assert record["data"] == hello
    assert (record["reason"], record["sni"], record["tls"]) == (
        "tls_failed",
        "netcam.belkin.com",
        False,
    )
    assert part.status()["listening"][0]["connections"]["tls_failed"] == 1


async def test_recognised_traffic_without_a_destination_is_captured(
    front_door: PartFactory, recorder: ListRecorder
) -> None:
    part = await front_door(asgi=None, tls_context=None, first_bytes_timeout=0.2)
    cases = (
        (cxnet_header(), "cxnet"),
        (b"GET / HTTP/1.1\r\n\r\n", "http"),
        (real_client_hello(None), "tls"),
    )
    for count, (first_bytes, protocol) in enumerate(cases, start=1):
        reader, writer = await asyncio.open_connection(HOST, part.bound_ports[0])
        writer.write(first_bytes)
        await read_until_closed(reader)
        writer.close()
        record = (await recorder.wait_for(count))[-1]
        assert (record["data"], record["protocol"]) == (first_bytes, protocol)


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


async def test_a_flood_does_not_delay_a_real_camera(front_door: PartFactory) -> None:
    part = await front_door(cxnet_handler=CxnetEcho(), first_bytes_timeout=10.0)
    port = part.bound_ports[0]
    flood = await asyncio.gather(*(asyncio.open_connection(HOST, port) for _ in range(200)))
    for index, (_, writer) in enumerate(flood):
        if index % 2:
            writer.write(b"\x00" * 1000)  # garbage being captured
        else:
            writer.write(b"G")  # a slow sender still being sniffed
    try:
        started = time.monotonic()
        header = cxnet_header()
        assert await cxnet_round_trip(port, header) == b"ok" + header
        assert time.monotonic() - started < 1.0
    finally:
        for _, writer in flood:
            writer.close()


async def test_connections_beyond_the_cap_are_refused(front_door: PartFactory) -> None:
    arrived: asyncio.Queue[ConnectionInfo] = asyncio.Queue()

    async def holding_handler(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, info: ConnectionInfo
    ) -> None:
        await arrived.put(info)
        await reader.read()

    part = await front_door(max_connections=3, cxnet_handler=holding_handler)
    port = part.bound_ports[0]
    held = [await asyncio.open_connection(HOST, port) for _ in range(3)]
    for _, held_writer in held:
        held_writer.write(cxnet_header())
    async with asyncio.timeout(IO_TIMEOUT):
        for _ in held:
            await arrived.get()
    assert part.status()["listening"][0]["active_connections"] == 3
    reader, writer = await asyncio.open_connection(HOST, port)
    assert await read_until_closed(reader) == b""
    writer.close()
    assert part.status()["listening"][0]["connections"]["rejected"] == 1
    for _, held_writer in held:
        held_writer.close()


async def test_a_failing_handler_closes_only_its_connection(
    front_door: PartFactory, caplog: pytest.LogCaptureFixture
) -> None:
    part = await front_door(cxnet_handler=CxnetEcho())
    port = part.bound_ports[0]
    good_reader, good_writer = await asyncio.open_connection(HOST, port)
    good_writer.write(cxnet_header())
    async with asyncio.timeout(IO_TIMEOUT):
        await good_reader.readexactly(29)
    bad_reader, bad_writer = await asyncio.open_connection(HOST, port)
    bad_writer.write(cxnet_header(version=2))
    assert await read_until_closed(bad_reader) == b""
    bad_writer.close()
    good_writer.write(cxnet_header(action=526))
    async with asyncio.timeout(IO_TIMEOUT):
        assert await good_reader.readexactly(29) == b"ok" + cxnet_header(action=526)
    good_writer.close()
    assert part.status()["listening"][0]["connections"]["handler_errors"] == 1
    assert any("cxnet handler failed" in r.getMessage() for r in caplog.records)


async def test_an_idle_handed_off_connection_is_closed(front_door: PartFactory) -> None:
    handler_saw_eof = asyncio.Event()

    async def patient_handler(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, info: ConnectionInfo
    ) -> None:
        await reader.readexactly(27)
        writer.write(b"hello")
        assert await reader.read() == b""
        handler_saw_eof.set()

    part = await front_door(cxnet_handler=patient_handler, idle_timeout=0.3)
    reader, writer = await asyncio.open_connection(HOST, part.bound_ports[0])
    started = time.monotonic()
    writer.write(cxnet_header())
    assert await read_until_closed(reader) == b"hello"
    assert time.monotonic() - started >= 0.3
    async with asyncio.timeout(IO_TIMEOUT):
        await handler_saw_eof.wait()
    writer.close()


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


async def drain_handler(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, info: ConnectionInfo
) -> None:
    await reader.read()


async def send_and_half_close(
    pki: Pki, asgi: AsgiProtocolFactory, first_bytes: bytes
) -> list[dict[str, object]]:
    recorder = ListRecorder()
    part = FrontDoorPart(
        HOST,
        [0],
        tls_context=pki.device_context(),
        cxnet_handler=drain_handler,
        asgi=asgi,
        recorder=recorder,
        first_bytes_timeout=1.0,
        idle_timeout=1.0,
    )
    await part.start()
    try:
        port = part.bound_ports[0]
        reader, writer = await asyncio.open_connection(HOST, port)
        writer.write(first_bytes)
        writer.write_eof()
        await read_until_closed(reader)
        writer.close()
        async with httpx.AsyncClient() as client:
            response = await client.get(f"http://{HOST}:{port}/healthz")
        assert response.status_code == 200
    finally:
        await part.stop()
    return recorder.records


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    first_bytes=st.tuples(
        st.sampled_from([b"", b"\x16\x03\x01", b"A\x01", b"A\x03", b"GET ", b"OPTIONS "]),
        st.binary(max_size=300),
    )
    .map(b"".join)
    .filter(bool)
)
def test_any_first_bytes_end_cleanly_and_the_door_stays_open(
    pki: Pki, asgi: AsgiProtocolFactory, first_bytes: bytes
) -> None:
    records = asyncio.run(send_and_half_close(pki, asgi, first_bytes))
    assert len(records) <= 1
    for record in records:
        assert record["data"] == first_bytes


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
