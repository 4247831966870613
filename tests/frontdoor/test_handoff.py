"""Handing recognised connections to the web app and to stream handlers (handoff.py)."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from tests.frontdoor.clients import (
    HOST,
    IO_TIMEOUT,
    CxnetEcho,
    cxnet_header,
    cxnet_round_trip,
    read_until_closed,
)
from tests.frontdoor.conftest import PartFactory


async def test_plain_http_reaches_the_web_app(front_door: PartFactory) -> None:
    part = await front_door()
    async with httpx.AsyncClient() as client:
        response = await client.get(f"http://{HOST}:{part.bound_ports[0]}/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "scheme": "http"}
    assert part.status()["listening"][0]["connections"]["http"] == 1


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
