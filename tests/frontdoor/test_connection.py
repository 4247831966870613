"""One connection's life (connection.py): sniffing, TLS, capture and limits, on real
loopback sockets with real TLS and real clients."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fakecloud.frontdoor import ConnectionInfo
from fakecloud.frontdoor.part import FrontDoorPart
from fakecloud.web.asgi import AsgiProtocolFactory
from tests.frontdoor.clients import (
    HOST,
    IO_TIMEOUT,
    CxnetEcho,
    cxnet_header,
    cxnet_round_trip,
    read_until_closed,
)
from tests.frontdoor.conftest import APP_NAME, DEVICE_NAME, ListRecorder, PartFactory, Pki
from tests.frontdoor.test_clienthello import real_client_hello


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
