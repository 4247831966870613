"""The running shim, asked by real clients (dig, dnspython) over loopback UDP and TCP."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
import struct
import sys
import time

import dns.asyncquery
import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype
import pytest
from dnslib import DNSRecord

from fakecloud.catalogue import load_catalogue
from fakecloud.core.config import Settings
from fakecloud.dns import DnsPart
from fakecloud.dns.upstream import Upstream
from tests.dns.conftest import ListRecorder, ShimFactory, StubFactory
from tests.dns.stub import HUGE_ANSWER_RECORDS

TIMEOUT = 2.0


async def dig(port: int, *args: str) -> str:
    process = await asyncio.create_subprocess_exec(
        "dig", "+time=2", "+tries=1", "-p", str(port), "@127.0.0.1", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    stdout, _ = await asyncio.wait_for(process.communicate(), 10)
    return stdout.decode()


async def ask(
    part: DnsPart, name: str, rdtype: str = "A", *, tcp: bool = False
) -> dns.message.Message:
    query = dns.message.make_query(name, rdtype)
    assert part.port is not None
    if tcp:
        return await dns.asyncquery.tcp(query, "127.0.0.1", timeout=TIMEOUT, port=part.port)
    return await dns.asyncquery.udp(query, "127.0.0.1", timeout=TIMEOUT, port=part.port)


def addresses(reply: dns.message.Message) -> list[str]:
    return [item.address for rrset in reply.answer for item in rrset]


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


async def test_big_answer_is_truncated_for_a_udp_client(
    make_shim: ShimFactory, make_stub: StubFactory
) -> None:
    stub = await make_stub("truncate")
    part = await make_shim(stub)
    udp = await ask(part, "big.example.test")  # no EDNS: 512 bytes at most
    assert udp.flags & dns.flags.TC and udp.answer == []
    tcp = await ask(part, "big.example.test", tcp=True)
    assert len(addresses(tcp)) == 60


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
    finally:
        await part.stop()
    messages = [record.getMessage() for record in caplog.records]
    assert messages.count("127.0.0.1 asked for server.seedonk.com (answered with 127.0.0.1)") == 1
    assert sum("discovered vendor name cam7.seedonk.com" in m for m in messages) == 1
    assert part.status()["discovered"] == ["cam7.seedonk.com", "new.xbcs.net"]
    assert [(e["kind"], e["name"], e["qtype"]) for e in recorder.events] == [
        ("dns", "cam7.seedonk.com", 28),
        ("dns", "new.xbcs.net", 1),
    ]


def raw_exchange(port: int, packet: bytes, timeout: float = 0.5) -> bytes | None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
        client.settimeout(timeout)
        client.sendto(packet, ("127.0.0.1", port))
        try:
            return client.recv(65535)
        except TimeoutError:
            return None


HEADER = struct.Struct("!HHHHHH")
GOOD_QUERY = DNSRecord.question("server.seedonk.com").pack()

HOSTILE_PACKETS = {
    "truncated header": (b"\x12\x34\x01", None),
    "truncated question": (GOOD_QUERY[:-3], 1),
    "pointer loop": (HEADER.pack(7, 0x0100, 1, 0, 0, 0) + b"\xc0\x0c\x00\x01\x00\x01", 1),
    "two pointer cycle": (
        HEADER.pack(7, 0x0100, 1, 0, 0, 0) + b"\x01a" * 218 + b"\xc1\xc1\xc0\x00\x01\x00\x01",
        1,
    ),
    "oversized": (GOOD_QUERY + b"\x00" * 5000, 1),
    "two questions": (HEADER.pack(7, 0x0100, 2, 0, 0, 0) + GOOD_QUERY[12:] * 2, 1),
    "no question": (HEADER.pack(7, 0x0100, 0, 0, 0, 0), 1),
    "notify opcode": (HEADER.pack(7, 0x2000, 1, 0, 0, 0) + GOOD_QUERY[12:], 4),
    "update opcode": (HEADER.pack(7, 0x2800, 1, 0, 0, 0) + GOOD_QUERY[12:], 4),
    "response sent to us": (HEADER.pack(7, 0x8180, 1, 0, 0, 0) + GOOD_QUERY[12:], None),
    "answer in a query": (HEADER.pack(7, 0x0100, 1, 1, 0, 0) + GOOD_QUERY[12:], 1),
}


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


# 50,000 hostile packets a second: far above any home network's DNS load, yet below what one
# Python process can read, so the kernel queue does not overflow (past that point every UDP
# server, dnsmasq included, loses queries at random and clients must retry).
FLOOD_RATE = 50_000
FLOOD_SCRIPT = """
import select, socket, sys, time
port, rate, packets = int(sys.argv[1]), int(sys.argv[2]), [bytes.fromhex(h) for h in sys.argv[3:]]
started = time.monotonic()
deadline, sent = started + 10, 0
with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
    sender.setblocking(False)
    while time.monotonic() < deadline:
        if sent % 1000 == 0 and select.select([sys.stdin], [], [], 0)[0]:
            break  # the test closed our stdin: stop
        if sent > rate * (time.monotonic() - started):
            continue
        try:
            sender.sendto(packets[sent % len(packets)], ("127.0.0.1", port))
        except BlockingIOError:
            continue
        sent += 1
        if sent == 5000:
            print("flooding", flush=True)
print(sent, flush=True)
"""


async def test_a_normal_query_is_answered_during_a_flood(make_shim: ShimFactory) -> None:
    part = await make_shim()
    assert part.port
    hostile = [packet.hex() for packet, _ in HOSTILE_PACKETS.values()]
    # A separate process, like a real attacker: it cannot starve the shim of the GIL.
    flooder = await asyncio.create_subprocess_exec(
        sys.executable, "-c", FLOOD_SCRIPT, str(part.port), str(FLOOD_RATE), *hostile,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert flooder.stdout is not None and flooder.stdin is not None
    try:
        async with asyncio.timeout(10):
            assert await flooder.stdout.readline() == b"flooding\n"
        answered_at = None
        started = time.monotonic()
        for _ in range(3):  # a resolver retries lost datagrams; so do we
            query = dns.message.make_query("server.seedonk.com", "A")
            try:
                reply = await dns.asyncquery.udp(query, "127.0.0.1", timeout=0.2, port=part.port)
            except dns.exception.Timeout:
                continue
            answered_at = time.monotonic() - started
            assert addresses(reply) == ["127.0.0.1"]
            break
        assert answered_at is not None and answered_at < 0.5
    finally:
        flooder.stdin.close()
        async with asyncio.timeout(15):
            sent = int(await flooder.stdout.readline())
            await flooder.wait()
    counters = part.status()["counters"]
    assert sent > 5000
    assert counters["formerr"] + counters["notimp"] + counters["dropped"] > 1000


async def test_tcp_connection_limits(make_shim: ShimFactory) -> None:
    part = await make_shim(max_tcp_connections=2, max_tcp_per_client=2, tcp_idle_timeout=0.3)
    assert part.port
    # Two idle clients fill the slots; a third is turned away at once.
    idle = [await asyncio.open_connection("127.0.0.1", part.port) for _ in range(2)]
    reader, writer = await asyncio.open_connection("127.0.0.1", part.port)
    async with asyncio.timeout(2):
        assert await reader.read() == b""
    writer.close()
    # The idle clients are closed by the idle limit.
    for idle_reader, idle_writer in idle:
        async with asyncio.timeout(2):
            assert await idle_reader.read() == b""
        idle_writer.close()
    assert part.status()["counters"]["tcp_connections_rejected"] == 1
    # An oversized length prefix closes the connection without an answer.
    reader, writer = await asyncio.open_connection("127.0.0.1", part.port)
    writer.write(struct.pack("!H", 60000) + b"\x00" * 100)
    async with asyncio.timeout(2):
        assert await reader.read() == b""
    writer.close()
    # Pipelined queries on one connection are all answered.
    reader, writer = await asyncio.open_connection("127.0.0.1", part.port)
    writer.write((struct.pack("!H", len(GOOD_QUERY)) + GOOD_QUERY) * 3)
    for _ in range(3):
        async with asyncio.timeout(2):
            (length,) = struct.unpack("!H", await reader.readexactly(2))
            reply = DNSRecord.parse(await reader.readexactly(length))
        assert str(reply.a.rdata) == "127.0.0.1"
    writer.close()


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


TCP_SHARE_TIMEOUT = 5.0


async def tcp_query(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> DNSRecord:
    writer.write(struct.pack("!H", len(GOOD_QUERY)) + GOOD_QUERY)
    async with asyncio.timeout(TCP_SHARE_TIMEOUT):
        (length,) = struct.unpack("!H", await reader.readexactly(2))
        return DNSRecord.parse(await reader.readexactly(length))


async def test_one_client_holds_only_its_share_of_tcp_slots(make_shim: ShimFactory) -> None:
    part = await make_shim(max_tcp_connections=8, max_tcp_per_client=2, tcp_idle_timeout=5)
    assert part.port
    held = [await asyncio.open_connection("127.0.0.1", part.port) for _ in range(2)]
    for reader, writer in held:
        assert str((await tcp_query(reader, writer)).a.rdata) == "127.0.0.1"
    # A third connection from the same address is closed at once, unanswered.
    reader, writer = await asyncio.open_connection("127.0.0.1", part.port)
    async with asyncio.timeout(TCP_SHARE_TIMEOUT):
        assert await reader.read() == b""
    writer.close()
    # Another client (another loopback source address) is still served.
    reader, writer = await asyncio.open_connection(
        "127.0.0.1", part.port, local_addr=("127.0.0.2", 0)
    )
    assert str((await tcp_query(reader, writer)).a.rdata) == "127.0.0.1"
    writer.close()
    assert part.status()["counters"]["tcp_client_share_rejected"] == 1
    # A slot given back can be taken again by the first client.
    held[0][1].close()
    await held[0][1].wait_closed()
    for _ in range(50):  # bounded: the shim notices the close within a loop turn or two
        reader, writer = await asyncio.open_connection("127.0.0.1", part.port)
        try:
            answer = await tcp_query(reader, writer)
            break
        except asyncio.IncompleteReadError:
            writer.close()
    else:
        pytest.fail("the slot was never given back")
    assert str(answer.a.rdata) == "127.0.0.1"
    writer.close()
    for _, held_writer in held[1:]:
        held_writer.close()


async def test_a_tcp_connection_has_a_whole_connection_deadline(
    make_shim: ShimFactory,
) -> None:
    # Each query arrives well inside the idle limit, yet the connection must still end.
    part = await make_shim(tcp_idle_timeout=5, settings_changes={"dns_tcp_connection_seconds": 1.0})
    assert part.port
    reader, writer = await asyncio.open_connection("127.0.0.1", part.port)
    started = time.monotonic()
    answered = 0
    with pytest.raises(asyncio.IncompleteReadError):
        for _ in range(100):  # 100 x 0.1 s is far past the 1 s deadline
            await tcp_query(reader, writer)
            answered += 1
            await asyncio.sleep(0.1)  # the trickle being tested, not synchronisation
    writer.close()
    assert answered >= 2 and time.monotonic() - started < 5
    assert part.status()["counters"]["tcp_connections_expired"] == 1


def edns_query(name: str, payload: int) -> dns.message.Message:
    return dns.message.make_query(name, "A", use_edns=0, payload=payload)


async def test_edns_reply_size_is_clamped_to_1232_bytes(
    make_shim: ShimFactory, make_stub: StubFactory
) -> None:
    stub = await make_stub()
    # The 200-record answer is large: give a busy machine time to forward it.
    part = await make_shim(stub, settings_changes={"dns_upstream_timeout": 5.0})
    assert part.port
    for _ in range(2):  # the forwarded answer, then the cached one
        wire = await dns.asyncquery.udp(
            edns_query("huge.example.test", 65535), "127.0.0.1", timeout=TIMEOUT,
            port=part.port, ignore_trailing=True,
        )  # fmt: skip
        assert wire.flags & dns.flags.TC and wire.answer == []
    assert stub.udp_queries == 1
    # dig asking for 64 KiB over UDP is told to retry over TCP, which it does by itself.
    output = await dig(part.port, "+bufsize=65535", "+ignore", "huge.example.test", "A")
    assert " tc" in output.split("flags:")[1].split(";")[0]
    assert "ANSWER: 0" in output
    output = await dig(part.port, "+bufsize=65535", "huge.example.test", "A")
    assert f"ANSWER: {HUGE_ANSWER_RECORDS}" in output
    # An answer under the clamp is still sent whole over UDP.
    fits = await dns.asyncquery.udp(
        edns_query("big.example.test", 4096), "127.0.0.1", timeout=TIMEOUT, port=part.port
    )
    assert not fits.flags & dns.flags.TC and len(addresses(fits)) == 60


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
