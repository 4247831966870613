"""What a port's connections share (shared.py): the per-port connection cap and admission."""

from __future__ import annotations

import asyncio
from typing import cast

from hypothesis import given
from hypothesis import strategies as st

from fakecloud.frontdoor import ConnectionInfo
from fakecloud.frontdoor.budgets import ConnectionBudget, Slots
from fakecloud.frontdoor.connection import Connection
from fakecloud.frontdoor.shared import ListenerState
from tests.frontdoor.clients import HOST, IO_TIMEOUT, cxnet_header, read_until_closed
from tests.frontdoor.conftest import PartFactory


async def test_connections_beyond_the_cap_are_refused(front_door: PartFactory) -> None:
    arrived: asyncio.Queue[ConnectionInfo] = asyncio.Queue()

    async def holding_handler(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, info: ConnectionInfo
    ) -> None:
        info.mark_authenticated()  # logged-in connections are never closed to make room
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


class _Closable:
    def evict(self) -> None:
        raise AssertionError("a port's cap refuses; it never evicts")


@given(st.lists(st.booleans(), max_size=60))
def test_a_port_never_admits_more_than_its_cap(steps: list[bool]) -> None:
    state = ListenerState(max_connections=3)
    budget = ConnectionBudget(total=100, per_address=100)
    open_connections: list[tuple[Connection, Slots]] = []
    for opening in steps:
        if opening:
            # admission only counts connections: anything with evict() stands in for one
            connection = cast(Connection, _Closable())
            if slots := state.admit(connection, budget, "10.0.0.1"):
                slots.established()
                open_connections.append((connection, slots))
        elif open_connections:
            state.release(*open_connections.pop())
        assert len(state.active) == len(open_connections) == budget.active
        assert len(open_connections) <= 3
    assert state.counters["accepted"] + state.counters["rejected"] == steps.count(True)
