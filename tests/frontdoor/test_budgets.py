"""Connection budgets on real loopback sockets: per address, in total, and out of descriptors."""

from __future__ import annotations

import asyncio
import os
import resource
import subprocess
import sys
import textwrap

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fakecloud.frontdoor import ConnectionInfo
from fakecloud.frontdoor.budgets import (
    ConnectionBudget,
    Slot,
    descriptor_budget,
)
from tests.frontdoor.clients import cxnet_header, read_until_closed
from tests.frontdoor.conftest import PartFactory

IO_TIMEOUT = 5.0
PER_ADDRESS = 4


class Holder:
    """A stand-in broker that logs every connection in, keeps it open and says who arrived."""

    def __init__(self) -> None:
        self.arrived: asyncio.Queue[ConnectionInfo] = asyncio.Queue()

    async def __call__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, info: ConnectionInfo
    ) -> None:
        info.mark_authenticated()
        await self.arrived.put(info)
        writer.write(b"in")
        await reader.read()


async def _connect_from(
    source: str, port: int
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0))
    writer.write(cxnet_header())
    return reader, writer


async def _admitted(reader: asyncio.StreamReader) -> bool:
    """True when the handler answered, False when the door closed the connection."""
    async with asyncio.timeout(IO_TIMEOUT):
        try:
            return await reader.read(2) == b"in"
        except ConnectionResetError:
            return False


async def test_one_address_cannot_fill_a_port(front_door: PartFactory) -> None:
    part = await front_door(
        cxnet_handler=Holder(), budget=ConnectionBudget(total=100, per_address=PER_ADDRESS)
    )
    port = part.bound_ports[0]
    held = [await _connect_from("127.0.0.2", port) for _ in range(PER_ADDRESS)]
    assert all([await _admitted(reader) for reader, _ in held])
    refused_reader, refused_writer = await _connect_from("127.0.0.2", port)
    assert await read_until_closed(refused_reader) == b""
    other_reader, other_writer = await _connect_from("127.0.0.3", port)
    assert await _admitted(other_reader)
    status = part.status()
    assert status["budget"]["refused"] == {"per_address": 1}
    assert status["listening"][0]["connections"]["rejected_budget"] == 1
    # a slot freed is a slot for that address again
    held[0][1].close()
    async with asyncio.timeout(IO_TIMEOUT):
        while part.budget.active > PER_ADDRESS:  # noqa: ASYNC110 - the close reaches the door
            await asyncio.sleep(0.01)
    again_reader, again_writer = await _connect_from("127.0.0.2", port)
    assert await _admitted(again_reader)
    for writer in (refused_writer, other_writer, again_writer, *(w for _, w in held[1:])):
        writer.close()


async def test_the_total_budget_is_shared_by_every_port(front_door: PartFactory) -> None:
    budget = ConnectionBudget(total=3, per_address=PER_ADDRESS)
    first = await front_door(cxnet_handler=Holder(), budget=budget)
    second = await front_door(cxnet_handler=Holder(), budget=budget)
    ports = [first.bound_ports[0], second.bound_ports[0], first.bound_ports[0]]
    held = []
    for index, port in enumerate(ports):  # each logs in before the next arrives
        held.append(await _connect_from(f"127.0.0.{4 + index}", port))
        assert await _admitted(held[-1][0])
    reader, writer = await _connect_from("127.0.0.9", second.bound_ports[0])
    assert await read_until_closed(reader) == b""
    assert budget.refused["total"] == 1
    for _, held_writer in [*held, (reader, writer)]:
        held_writer.close()


def test_connections_stay_below_the_descriptor_limit() -> None:
    assert descriptor_budget(8192, 1024) < 1024 - 50
    assert descriptor_budget(100, 1_000_000) == 100
    assert descriptor_budget(8192, 10) == 1


@given(st.lists(st.tuples(st.sampled_from(["open", "close", "log in"]), st.integers(0, 5))))
def test_a_budget_never_exceeds_its_caps_and_never_evicts_a_session(
    steps: list[tuple[str, int]],
) -> None:
    budget = ConnectionBudget(total=6, per_address=3)
    held: dict[Slot, str] = {}
    evicted: list[Slot] = []
    sessions: set[Slot] = set()
    for step, client in steps:
        host = f"10.0.0.{client}"
        if step == "open":
            mine: list[Slot] = []
            slot = budget.acquire(host, lambda mine=mine: evicted.append(mine[0]))
            if slot is not None:
                mine.append(slot)
                held[slot] = host
        elif held:
            slot = list(held)[client % len(held)]
            if step == "close":
                del held[slot]
                sessions.discard(slot)
                slot.release()
            else:
                slot.established()
                sessions.add(slot)
        for slot in evicted:
            held.pop(slot, None)
        assert not sessions & set(evicted)
        assert budget.active == len(held) <= 6
        assert budget.pre_login == len(held) - len(sessions) <= budget.pre_login_cap == 3
        assert all(list(held.values()).count(host) <= 3 for host in held.values())
    assert sum(budget.evicted.values()) == len(evicted)


# A small server made of the real parts, started with few descriptors: it fills what is left,
# so every accept() fails with EMFILE until the test says "release".
_CHILD = textwrap.dedent(
    """
    import asyncio, logging, os, sys
    from fakecloud.frontdoor.part import FrontDoorPart
    from fakecloud.frontdoor.budgets import throttle_accept_errors

    async def answer(reader, writer, info):
        writer.write(b"in")
        await writer.drain()
        await reader.read()

    async def main():
        logging.basicConfig(level=logging.INFO, stream=sys.stderr)
        throttle_accept_errors(asyncio.get_running_loop())
        door = FrontDoorPart("127.0.0.1", [0], tls_context=None, cxnet_handler=answer,
                             asgi=None, recorder=None)
        await door.start()
        loop = asyncio.get_running_loop()
        commands = asyncio.StreamReader()
        await loop.connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(commands), sys.stdin
        )
        filler = []
        while True:
            try:
                filler.append(os.open(os.devnull, os.O_RDONLY))
            except OSError:
                break
        print(door.bound_ports[0], flush=True)
        await commands.readline()  # "release"
        for fd in filler:
            os.close(fd)
        await commands.readline()  # "stop"
        await door.stop()

    asyncio.run(main())
    """
)


def _few_descriptors() -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (128, hard))


async def test_out_of_descriptors_is_logged_once_per_interval_and_recovers() -> None:
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        _CHILD,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        preexec_fn=_few_descriptors,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert child.stdin and child.stdout and child.stderr
    writers: list[asyncio.StreamWriter] = []
    try:
        async with asyncio.timeout(30):
            port = int(await child.stdout.readline())
        # clients wait in the kernel's backlog while accept() keeps failing
        pending = [await asyncio.open_connection("127.0.0.1", port) for _ in range(20)]
        writers += [writer for _, writer in pending]
        for _, writer in pending:
            writer.write(cxnet_header())
        first = b""
        async with asyncio.timeout(30):
            while b"cannot accept connections" not in first:
                line = await child.stderr.readline()
                assert line, "the child exited"
                first += line
        # asyncio retries accept() every second: watch three retries stay silent
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(3.0):
                await child.stderr.readline()
        child.stdin.write(b"release\n")
        await child.stdin.drain()
        for reader, _ in pending:
            async with asyncio.timeout(IO_TIMEOUT):
                assert await reader.readexactly(2) == b"in"
        child.stdin.write(b"stop\n")
        await child.stdin.drain()
        async with asyncio.timeout(30):
            rest = await child.stderr.read()
            assert await child.wait() == 0
    finally:
        for writer in writers:
            writer.close()
        if child.returncode is None:
            child.kill()
            await child.wait()
    log = first + rest
    assert log.count(b"cannot accept connections") == 1
    assert b"Traceback" not in log and b"out of system resource" not in log


def test_the_descriptor_limit_is_raised_to_the_hard_limit_at_start() -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard <= 128:
        pytest.skip(f"the hard descriptor limit ({hard}) leaves nothing to raise")
    script = (
        "import resource\n"
        "from fakecloud.frontdoor.budgets import raise_descriptor_limit\n"
        "print(*raise_descriptor_limit(), resource.getrlimit(resource.RLIMIT_NOFILE)[0])\n"
    )
    shown = subprocess.run(
        [sys.executable, "-c", script],
        preexec_fn=_few_descriptors,
        capture_output=True,
        check=True,
        timeout=30,
    )
    assert shown.stdout.split() == [b"128", str(hard).encode(), str(hard).encode()]
