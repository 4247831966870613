"""Held connections that never log in make room for new clients (issue 8, sections 3 and 9):
real loopback sockets from several source addresses, against the front door and the HTTP port."""

from __future__ import annotations

import asyncio
import logging

import pytest
from fastapi import FastAPI

from fakecloud.frontdoor import ConnectionInfo
from fakecloud.frontdoor.budgets import ConnectionBudget
from fakecloud.frontdoor.part import FrontDoorPart
from fakecloud.web.asgi import AsgiProtocolFactory
from fakecloud.web.http_part import HttpPart
from tests.frontdoor.clients import HOST, IO_TIMEOUT, cxnet_header, read_until_closed
from tests.frontdoor.conftest import ListRecorder, PartFactory

Stream = tuple[asyncio.StreamReader, asyncio.StreamWriter]


class LoginBroker:
    """A stand-in broker: `LOGIN` logs a connection in (and tells the front door, as the broker
    does), `PING` answers `PONG` once logged in and `WAIT` before."""

    async def __call__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, info: ConnectionInfo
    ) -> None:
        await reader.readexactly(len(cxnet_header()))
        writer.write(b"HELLO")
        logged_in = False
        while line := await reader.readline():
            if line == b"LOGIN\n":
                logged_in = True
                info.mark_authenticated()
                writer.write(b"WELCOME")
            elif line == b"PING\n":
                writer.write(b"PONG" if logged_in else b"WAIT")


async def _answer(stream: Stream, line: bytes, expected: bytes) -> bool:
    """Send `line`; True when the answer is `expected`, False when the door closed the
    connection."""
    reader, writer = stream
    writer.write(line)
    try:
        async with asyncio.timeout(IO_TIMEOUT):
            return await reader.readexactly(len(expected)) == expected
    except (asyncio.IncompleteReadError, ConnectionResetError):
        return False


async def _handed_off(source: str, port: int) -> Stream:
    """A connection from `source` that the broker has greeted, not logged in."""
    stream = await asyncio.open_connection(HOST, port, local_addr=(source, 0))
    assert await _answer(stream, cxnet_header(), b"HELLO")
    return stream


async def _session(source: str, port: int) -> Stream:
    stream = await _handed_off(source, port)
    assert await _answer(stream, b"LOGIN\n", b"WELCOME")
    return stream


async def _silent(source: str, port: int, part: FrontDoorPart) -> Stream:
    """A connection that sends nothing, once the door has counted it in (or evicted it)."""
    counters = part.status()["listening"][0]["connections"]
    seen = counters.get("accepted", 0) + counters.get("rejected_budget", 0)
    stream = await asyncio.open_connection(HOST, port, local_addr=(source, 0))
    async with asyncio.timeout(IO_TIMEOUT):
        while True:  # bounded by the timeout: the door's accept runs on this loop
            counters = part.status()["listening"][0]["connections"]
            if counters.get("accepted", 0) + counters.get("rejected_budget", 0) > seen:
                return stream
            await asyncio.sleep(0.01)


def _close(*streams: Stream) -> None:
    for _, writer in streams:
        writer.close()


async def test_held_pre_login_connections_make_room_for_a_new_client(
    front_door: PartFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    budget = ConnectionBudget(total=8, per_address=4)  # at most 4 not logged in
    part = await front_door(cxnet_handler=LoginBroker(), budget=budget)
    port = part.bound_ports[0]
    session = await _session("127.0.0.3", port)
    held: list[Stream] = []
    for attacker in range(10, 14):  # 4 addresses x 3, each under the per-address cap
        for number in range(3):
            source = f"127.0.0.{attacker}"
            if number:
                held.append(await _silent(source, port, part))
            else:
                held.append(await _handed_off(source, port))
    assert budget.pre_login <= budget.pre_login_cap == 4
    assert budget.status()["evicted"]["pre_login_share"] >= 12 - 4
    newcomer = await _session("127.0.0.2", port)
    assert await _answer(session, b"PING\n", b"PONG")
    assert await _answer(newcomer, b"PING\n", b"PONG")
    assert budget.active <= budget.total
    assert part.status()["listening"][0]["connections"]["evicted"] >= 9
    assert "connection budget full" in caplog.text
    _close(session, newcomer, *held)


async def test_a_full_budget_closes_the_oldest_of_the_biggest_holder(
    front_door: PartFactory,
) -> None:
    budget = ConnectionBudget(total=5, per_address=4, pre_login_share=1.0)
    part = await front_door(cxnet_handler=LoginBroker(), budget=budget)
    port = part.bound_ports[0]
    session = await _session("127.0.0.3", port)
    biggest = [await _handed_off("127.0.0.10", port) for _ in range(3)]
    other = await _handed_off("127.0.0.11", port)
    assert budget.active == budget.total
    newcomer = await _session("127.0.0.2", port)
    assert await read_until_closed(biggest[0][0]) == b""
    for stream in (*biggest[1:], other):
        assert await _answer(stream, b"PING\n", b"WAIT")
    assert await _answer(session, b"PING\n", b"PONG")
    assert budget.status()["evicted"] == {"total": 1}
    _close(session, newcomer, other, *biggest)


async def test_an_address_at_its_cap_makes_room_among_its_own_pre_login_connections(
    front_door: PartFactory,
) -> None:
    """Behind Docker's userland proxy every client shares one address: held connections from
    it must not lock out a camera from it."""
    budget = ConnectionBudget(total=100, per_address=3)
    part = await front_door(cxnet_handler=LoginBroker(), budget=budget)
    port = part.bound_ports[0]
    session = await _session("127.0.0.5", port)
    held = [await _handed_off("127.0.0.5", port) for _ in range(2)]
    newcomer = await _session("127.0.0.5", port)
    assert await read_until_closed(held[0][0]) == b""
    assert await _answer(held[1], b"PING\n", b"WAIT")
    assert await _answer(session, b"PING\n", b"PONG")
    assert budget.status()["evicted"] == {"per_address": 1}
    _close(session, newcomer, *held)


async def test_an_evicted_connection_keeps_what_it_sent(
    front_door: PartFactory, recorder: ListRecorder
) -> None:
    budget = ConnectionBudget(total=2, per_address=4, pre_login_share=1.0)
    part = await front_door(cxnet_handler=LoginBroker(), budget=budget)
    port = part.bound_ports[0]
    started = await _silent("127.0.0.10", port, part)
    started[1].write(b"\x16\x03")  # the start of a TLS record, never finished
    silent = await _silent("127.0.0.10", port, part)
    session = await _session("127.0.0.11", port)
    assert await read_until_closed(started[0]) == b""
    other = await _session("127.0.0.12", port)
    assert await read_until_closed(silent[0]) == b""
    evicted = [record for record in recorder.records if record["reason"] == "evicted"]
    assert [record["data"] for record in evicted] == [b"\x16\x03"]
    _close(started, silent, session, other)


async def test_logged_in_sessions_are_never_closed_to_make_room(
    front_door: PartFactory,
) -> None:
    budget = ConnectionBudget(total=3, per_address=4)
    part = await front_door(cxnet_handler=LoginBroker(), budget=budget)
    port = part.bound_ports[0]
    sessions = [await _session(f"127.0.0.{20 + number}", port) for number in range(3)]
    reader, writer = await asyncio.open_connection(HOST, port, local_addr=("127.0.0.2", 0))
    writer.write(cxnet_header())
    assert await read_until_closed(reader) == b""
    for session in sessions:
        assert await _answer(session, b"PING\n", b"PONG")
    assert budget.status()["evicted"] == {}
    assert budget.refused["total"] == 1
    _close((reader, writer), *sessions)


async def test_a_cxnet_connection_open_past_the_login_deadline_counts_as_logged_in(
    front_door: PartFactory,
) -> None:
    """The broker closes what has not logged in by its deadline, so what is still open then
    logged in, even when the broker never said so."""
    budget = ConnectionBudget(total=1, per_address=4)
    part = await front_door(cxnet_handler=LoginBroker(), budget=budget, login_timeout=0.2)
    port = part.bound_ports[0]
    held = await _handed_off("127.0.0.10", port)
    async with asyncio.timeout(IO_TIMEOUT):
        while budget.pre_login:  # noqa: ASYNC110 - the deadline's timer runs on this loop
            await asyncio.sleep(0.01)
    reader, writer = await asyncio.open_connection(HOST, port, local_addr=("127.0.0.2", 0))
    writer.write(cxnet_header())
    assert await read_until_closed(reader) == b""
    assert await _answer(held, b"PING\n", b"WAIT")
    assert budget.refused["total"] == 1
    _close((reader, writer), held)


def _slow_app(started: asyncio.Event, finish: asyncio.Event) -> FastAPI:
    app = FastAPI()

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/slow")
    async def slow() -> dict[str, str]:
        started.set()
        await finish.wait()
        return {"status": "done"}

    return app


async def _http_get(port: int, path: str, source: str, *, close: bool = True) -> Stream:
    stream = await asyncio.open_connection(HOST, port, local_addr=(source, 0))
    connection = b"close" if close else b"keep-alive"
    stream[1].write(
        b"GET "
        + path.encode()
        + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: "
        + connection
        + b"\r\n\r\n"
    )
    return stream


async def _response(reader: asyncio.StreamReader) -> bytes:
    async with asyncio.timeout(IO_TIMEOUT):
        head = await reader.readuntil(b"\r\n\r\n")
        length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
        return head + await reader.readexactly(length)


async def _answer_again(stream: Stream) -> bool:
    """True when a keep-alive connection still answers a request."""
    stream[1].write(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    return b" 200 " in await _response(stream[0])


async def test_the_http_port_closes_idle_connections_never_requests_being_answered() -> None:
    started, finish = asyncio.Event(), asyncio.Event()
    part = HttpPart(AsgiProtocolFactory(_slow_app(started, finish)), HOST, 0, max_connections=3)
    await part.start()
    try:
        attacker = "127.0.0.10"
        pending = await asyncio.open_connection(HOST, part.port, local_addr=(attacker, 0))
        serving = await _http_get(part.port, "/slow", attacker)
        async with asyncio.timeout(IO_TIMEOUT):
            await started.wait()
        idle = await _http_get(part.port, "/healthz", attacker, close=False)
        assert b" 200 " in await _response(idle[0])
        assert part.status()["active_connections"] == 3
        # the idle keep-alive connection goes first, though the one without a request is older
        newcomer = await _http_get(part.port, "/healthz", "127.0.0.2", close=False)
        assert b" 200 " in await _response(newcomer[0])
        assert await read_until_closed(idle[0]) == b""
        # full again: the address holding the most goes first, with its oldest not being served
        last = await _http_get(part.port, "/healthz", "127.0.0.3")
        assert b" 200 " in await _response(last[0])
        assert await read_until_closed(pending[0]) == b""
        assert await _answer_again(newcomer)
        assert part.status()["evicted"] == {"total": 2}
        assert part.status()["connections"]["evicted"] == 2
        finish.set()
        assert b'"done"' in await _response(serving[0])
        _close(pending, serving, idle, newcomer, last)
    finally:
        await part.stop()


async def test_the_http_port_refuses_when_every_connection_is_being_answered() -> None:
    started, finish = asyncio.Event(), asyncio.Event()
    part = HttpPart(AsgiProtocolFactory(_slow_app(started, finish)), HOST, 0, max_connections=1)
    await part.start()
    try:
        serving = await _http_get(part.port, "/slow", "127.0.0.10")
        async with asyncio.timeout(IO_TIMEOUT):
            await started.wait()
        refused = await _http_get(part.port, "/healthz", "127.0.0.2")
        assert await read_until_closed(refused[0]) == b""
        assert part.status()["connections"]["rejected"] == 1
        finish.set()
        assert b'"done"' in await _response(serving[0])
        _close(serving, refused)
    finally:
        await part.stop()
