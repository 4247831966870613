"""The running shim (part.py): listening, status and a port already in use."""

from __future__ import annotations

import socket

import pytest

from fakecloud.catalogue import load_catalogue
from fakecloud.core.config import Settings
from fakecloud.dns import DnsPart
from tests.dns.clients import ask, dig
from tests.dns.conftest import ShimFactory


async def test_dig_gets_the_announce_address_for_vendor_names(make_shim: ShimFactory) -> None:
    part = await make_shim()
    assert part.port
    output = await dig(part.port, "server.seedonk.com", "A")
    assert "status: NOERROR" in output
    assert "server.seedonk.com.\t60\tIN\tA\t127.0.0.1" in output
    assert " aa " in output.split("flags:")[1].split(";")[0] + " "
    short = await dig(part.port, "+short", "+tcp", "Deep.Sub.SEEDONK.com")
    assert short.split() == ["127.0.0.1"]


async def test_status_reports_the_real_port_and_counters(make_shim: ShimFactory) -> None:
    part = await make_shim()
    await ask(part, "netcam.belkin.com")
    status = part.status()
    assert status["port"] == part.port and part.port != 0
    assert status["address"] == f"127.0.0.1:{part.port}"
    assert status["counters"]["queries"] == 1
    assert status["counters"]["redirected"] == 1


@pytest.mark.parametrize("kind", [socket.SOCK_DGRAM, socket.SOCK_STREAM])
async def test_a_port_in_use_leaves_the_shim_not_running_with_the_fix(
    settings: Settings, kind: int, caplog: pytest.LogCaptureFixture
) -> None:
    with socket.socket(socket.AF_INET, kind) as holder:
        holder.bind(("127.0.0.1", 0))
        if kind == socket.SOCK_STREAM:
            holder.listen()
        taken = settings.model_copy(update={"dns_port": holder.getsockname()[1]})
        part = DnsPart(taken, load_catalogue(), upstreams=[])
        await part.start()  # does not raise: the rest of fakecloud keeps serving
        try:
            status = part.status()
            assert status["running"] is False and status["address"] is None
            assert "already in use" in status["error"]
            assert "fakecloud dns-config" in status["fix"]
            assert "FAKECLOUD_DNS_ENABLED=false" in status["fix"]
            assert part.failure is not None and "already in use" in part.failure
        finally:
            await part.stop()
    assert any("DNS shim is NOT running" in record.getMessage() for record in caplog.records)


async def test_a_running_shim_reports_running(make_shim: ShimFactory) -> None:
    part = await make_shim()
    status = part.status()
    assert status["running"] is True and "error" not in status and part.failure is None
