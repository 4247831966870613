"""DNS over UDP (udp.py): truncation, the EDNS size clamp, and a flood."""

from __future__ import annotations

import asyncio
import sys
import time

import dns.asyncquery
import dns.exception
import dns.flags
import dns.message

from tests.dns.clients import HOSTILE_PACKETS, TIMEOUT, addresses, ask, dig, edns_query
from tests.dns.conftest import ShimFactory, StubFactory
from tests.dns.stub import HUGE_ANSWER_RECORDS


async def test_big_answer_is_truncated_for_a_udp_client(
    make_shim: ShimFactory, make_stub: StubFactory
) -> None:
    stub = await make_stub("truncate")
    part = await make_shim(stub)
    udp = await ask(part, "big.example.test")  # no EDNS: 512 bytes at most
    assert udp.flags & dns.flags.TC and udp.answer == []
    tcp = await ask(part, "big.example.test", tcp=True)
    assert len(addresses(tcp)) == 60


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
