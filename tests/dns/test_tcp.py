"""DNS over TCP (tcp.py): connection slots, the per-client share and deadlines."""

from __future__ import annotations

import asyncio
import struct
import time

import pytest
from dnslib import DNSRecord

from tests.dns.clients import GOOD_QUERY, TCP_SHARE_TIMEOUT, tcp_query
from tests.dns.conftest import ShimFactory


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
