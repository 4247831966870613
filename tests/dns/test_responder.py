"""What the shim replies (responder.py), asked by real clients over loopback UDP and TCP."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
import time
from typing import Literal

import dns.asyncquery
import dns.flags
import dns.message
import dns.rcode
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from fakecloud.catalogue import WILDCARD_PROBE_LABEL, load_catalogue
from fakecloud.core.config import Settings
from fakecloud.dns import DnsPart
from fakecloud.dns.responder import Responder
from fakecloud.dns.upstream import Upstream
from tests.dns.clients import HEADER, HOSTILE_PACKETS, TIMEOUT, addresses, ask, raw_exchange
from tests.dns.conftest import ListRecorder, ShimFactory, StubFactory


@pytest.mark.parametrize("tcp", [False, True])
async def test_other_types_of_redirected_names_get_no_data(
    make_shim: ShimFactory, tcp: bool
) -> None:
    part = await make_shim()
    for rdtype in ("AAAA", "MX", "TXT", "ANY"):
        reply = await ask(part, "www.seedonk.com", rdtype, tcp=tcp)
        assert reply.rcode() == dns.rcode.NOERROR
        assert reply.answer == []
        assert reply.flags & dns.flags.AA


async def test_the_ttl_comes_from_the_settings(make_shim: ShimFactory) -> None:
    part = await make_shim(settings_changes={"dns_ttl": 7})
    reply = await ask(part, "server.seedonk.com")
    assert reply.answer[0].ttl == 7


async def test_ipv6_announce_address_answers_aaaa(make_shim: ShimFactory) -> None:
    part = await make_shim(settings_changes={"announce_address": "fd00::5"})
    reply = await ask(part, "server.seedonk.com", "AAAA")
    assert addresses(reply) == ["fd00::5"]
    assert (await ask(part, "server.seedonk.com", "A")).answer == []


async def test_other_names_are_forwarded_and_cached(
    make_shim: ShimFactory, make_stub: StubFactory
) -> None:
    stub = await make_stub()
    part = await make_shim(stub)
    first = await ask(part, "example.test")
    assert addresses(first) == ["192.0.2.1"]
    second = await ask(part, "EXAMPLE.test")
    assert addresses(second) == ["192.0.2.1"]
    assert second.answer[0].ttl <= 300
    assert stub.udp_queries == 1
    counters = part.status()["counters"]
    assert counters["forwarded"] == 1 and counters["cache_hits"] == 1
    missing = await ask(part, "missing.test")
    assert missing.rcode() == dns.rcode.NXDOMAIN


async def test_listed_but_not_redirected_vendor_names_are_forwarded(
    make_shim: ShimFactory, make_stub: StubFactory
) -> None:
    stub = await make_stub()
    part = await make_shim(stub)
    reply = await ask(part, "api.xbcs.net")
    assert reply.rcode() == dns.rcode.NXDOMAIN  # the stub's answer, not ours
    assert stub.udp_queries == 1


async def test_upstream_query_uses_a_fresh_id(
    make_shim: ShimFactory, make_stub: StubFactory
) -> None:
    stub = await make_stub()
    part = await make_shim(stub)
    ids = set()
    for index in range(4):
        query = dns.message.make_query(f"n{index}.example.test", "A")
        query.id = 4242
        assert part.port
        reply = await dns.asyncquery.udp(query, "127.0.0.1", timeout=TIMEOUT, port=part.port)
        assert reply.id == 4242
    ids = {seen.header.id for seen in stub.seen}
    assert len(ids) > 1  # random ids, not the client's


async def test_truncated_upstream_answer_is_retried_over_tcp(
    make_shim: ShimFactory, make_stub: StubFactory
) -> None:
    stub = await make_stub("truncate")
    part = await make_shim(stub)
    reply = await ask(part, "example.test", tcp=True)
    assert addresses(reply) == ["192.0.2.1"]
    assert stub.udp_queries == 1 and stub.tcp_queries == 1
    assert part.status()["counters"]["tcp_retries"] == 1


async def test_failover_to_the_next_upstream(
    make_shim: ShimFactory, make_stub: StubFactory
) -> None:
    silent, good = await make_stub("silent"), await make_stub()
    part = await make_shim(silent, good)
    started = time.monotonic()
    reply = await ask(part, "example.test")
    assert addresses(reply) == ["192.0.2.1"]
    assert time.monotonic() - started < 1.5
    assert silent.udp_queries == 1 and good.udp_queries == 1
    assert part.status()["counters"]["upstream_failures"] == 1


@pytest.mark.parametrize("behaviour", ["silent", "wrong_id", "wrong_question"])
async def test_servfail_when_every_upstream_fails(
    make_shim: ShimFactory, make_stub: StubFactory, behaviour: str
) -> None:
    stubs = [await make_stub(behaviour), await make_stub(behaviour)]  # type: ignore[arg-type]
    part = await make_shim(*stubs)
    reply = await ask(part, "example.test")
    assert reply.rcode() == dns.rcode.SERVFAIL
    assert all(stub.udp_queries == 1 for stub in stubs)
    counters = part.status()["counters"]
    assert counters["upstream_failures"] == 2 and counters["servfail"] == 1
    if behaviour != "silent":
        assert counters["mismatched_replies"] == 2


async def test_clients_outside_the_allowed_networks_are_refused(make_shim: ShimFactory) -> None:
    part = await make_shim(allowed_networks=[ipaddress.ip_network("192.168.0.0/16")])
    reply = await ask(part, "server.seedonk.com")
    assert reply.rcode() == dns.rcode.REFUSED and reply.answer == []
    tcp = await ask(part, "example.test", tcp=True)
    assert tcp.rcode() == dns.rcode.REFUSED
    assert part.status()["counters"]["refused"] == 2


async def test_vendor_names_are_logged_once_and_discoveries_recorded(
    settings: Settings, make_stub: StubFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="fakecloud.dns")
    recorder = ListRecorder()
    stub = await make_stub()
    upstreams = [Upstream("127.0.0.1", stub.port)]
    part = DnsPart(settings, load_catalogue(), recorder, upstreams=upstreams)
    await part.start()
    try:
        for _ in range(2):
            await ask(part, "server.seedonk.com")
            await ask(part, "cam7.seedonk.com", "AAAA")
            await ask(part, "new.xbcs.net")
        await ask(part, f"{WILDCARD_PROBE_LABEL}.seedonk.com")  # the doctor, not a device
    finally:
        await part.stop()
    messages = [record.getMessage() for record in caplog.records]
    assert messages.count("127.0.0.1 asked for server.seedonk.com (answered with 127.0.0.1)") == 1
    assert sum("discovered vendor name cam7.seedonk.com" in m for m in messages) == 1
    assert part.status()["discovered"] == ["cam7.seedonk.com", "new.xbcs.net"]
    # Each first ask, for the setup page: who asked, for what, and whether it was redirected.
    asked = [(e["client"], e["name"], e["redirected"]) for e in part.status()["asked"]]
    assert asked == [
        ("127.0.0.1", "server.seedonk.com", True),
        ("127.0.0.1", "cam7.seedonk.com", True),
        ("127.0.0.1", "new.xbcs.net", False),
    ]
    assert [(e["kind"], e["name"], e["qtype"]) for e in recorder.events] == [
        ("dns", "cam7.seedonk.com", 28),
        ("dns", "new.xbcs.net", 1),
    ]


@pytest.mark.parametrize("case", sorted(HOSTILE_PACKETS))
async def test_hostile_packets_get_an_error_or_are_dropped(
    make_shim: ShimFactory, case: str
) -> None:
    part = await make_shim()
    packet, expected_rcode = HOSTILE_PACKETS[case]
    assert part.port
    started = time.monotonic()
    reply = await asyncio.to_thread(raw_exchange, part.port, packet)
    if expected_rcode is None:
        assert reply is None
    else:
        assert reply is not None and time.monotonic() - started < 0.5
        ident, flags, *_ = HEADER.unpack_from(reply)
        assert ident == 7 or case in ("truncated question", "oversized")
        assert flags & 0x8000 and flags & 0xF == expected_rcode
    still_fine = await ask(part, "server.seedonk.com")
    assert addresses(still_fine) == ["127.0.0.1"]


async def test_error_replies_are_rate_limited_per_client(make_shim: ShimFactory) -> None:
    part = await make_shim(error_replies_per_second=5)
    assert part.port
    bad = HOSTILE_PACKETS["two questions"][0]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
        for _ in range(20):
            client.sendto(bad, ("127.0.0.1", part.port))
        # A good query after the burst is still answered: only error replies are limited.
        good = dns.message.make_query("server.seedonk.com", "A")
        assert part.port
        reply = await dns.asyncquery.udp(good, "127.0.0.1", timeout=TIMEOUT, port=part.port)
        assert addresses(reply) == ["127.0.0.1"]
    counters = part.status()["counters"]
    assert counters["formerr"] == 20
    # 15 over the budget, or 10 if a second boundary fell inside the burst and reset it.
    assert counters["rate_limited"] >= 10


@hypothesis_settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.one_of(
        st.binary(max_size=600),
        st.sampled_from([packet for packet, _ in HOSTILE_PACKETS.values()]).flatmap(
            lambda packet: st.binary(max_size=40).map(lambda tail: packet + tail)
        ),
    ),
    st.sampled_from(["udp", "tcp"]),
)
def test_any_packet_gets_a_reply_to_its_own_id_or_nothing(
    settings: Settings, packet: bytes, transport: Literal["udp", "tcp"]
) -> None:
    responder = Responder(
        settings,
        load_catalogue(),
        None,
        allowed_networks=[ipaddress.ip_network("127.0.0.0/8")],
        cache_entries=16,
        error_replies_per_second=1000,
    )
    reply, forward = responder.decide(packet, "127.0.0.1", transport)
    assert reply is None or forward is None
    if reply is not None:
        (reply_id, flags) = HEADER.unpack_from(reply)[:2]
        assert flags & 0x8000  # a response
        assert reply_id == HEADER.unpack_from(packet)[0]
    if forward is not None:
        message, question = forward
        assert message.question == question
