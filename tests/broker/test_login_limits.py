"""Login limits on CXNet: a wrong-password flood from one address is refused cheaply with the
usual answer, while another address, tokens and cached passwords still log in."""

from __future__ import annotations

import asyncio
import threading

from fakecloud.net.cxnet import Action, Frame, encode_frame
from fakecloud.net.properties import encode_properties
from tests.broker.conftest import OWNER, OWNER_PASSWORD, BrokerServer, wait_until
from tests.broker.tend_clients import read_reply

REFUSAL = {"error": "login-failed", "reason": "login refused"}
TIMEOUT = 30.0


async def log_in(
    served: BrokerServer, login: str, secret: str, source: str = "127.0.0.1"
) -> tuple[int, dict[str, str]]:
    """One app login from `source`; the reply's action and properties."""
    reader, writer = await asyncio.open_connection("127.0.0.1", served.port, local_addr=(source, 0))
    try:
        properties = encode_properties({"CX_UNAME": login, "CX_PASSWD": secret})
        writer.write(encode_frame(Frame(action=Action.LOGIN, options=properties)))
        async with asyncio.timeout(TIMEOUT):
            reply = await read_reply(reader)
        return reply.action, reply.properties.as_dict()
    finally:
        writer.close()


async def test_a_flood_is_limited_and_another_address_still_logs_in(served: BrokerServer) -> None:
    flood = [log_in(served, OWNER, f"guess {n}", "127.0.0.2") for n in range(30)]
    results = await asyncio.gather(*flood, log_in(served, OWNER, OWNER_PASSWORD))
    *refused, legit = results
    assert legit[0] == Action.LOGIN  # the owner, from another address, got in
    assert all(result == (Action.ERROR, REFUSAL) for result in refused)  # one answer for all
    assert served.broker.counters["logins_limited"] > 0
    # The limited ones never reached scrypt.
    assert served.store.hash_pool.counters["checks"] < len(flood) + 1


async def test_backoff_never_blocks_a_token_or_a_cached_password(served: BrokerServer) -> None:
    token = await served.store.issue_token(OWNER)
    assert (await log_in(served, OWNER, OWNER_PASSWORD))[0] == Action.LOGIN  # now cached
    for n in range(8):
        assert await log_in(served, OWNER, f"guess {n}", f"127.0.0.{10 + n}") == (
            Action.ERROR,
            REFUSAL,
        )
    guard = served.store.login_guard
    assert guard.delay(("account", OWNER)) > 0  # the account is backing off ...
    checks = served.store.hash_pool.counters["checks"]
    assert (await log_in(served, OWNER, token, "127.0.0.3"))[0] == Action.LOGIN
    assert (await log_in(served, OWNER, OWNER_PASSWORD, "127.0.0.4"))[0] == Action.LOGIN
    assert served.store.hash_pool.counters["checks"] == checks  # ... and neither waited for it


async def test_a_login_whose_client_left_is_dropped_unchecked(served: BrokerServer) -> None:
    pool = served.store.hash_pool
    gate = threading.Event()
    occupy = [asyncio.create_task(pool.run(lambda: gate.wait(TIMEOUT))) for _ in range(2)]
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", served.port)
        properties = encode_properties({"CX_UNAME": OWNER, "CX_PASSWD": "a guess"})
        writer.write(encode_frame(Frame(action=Action.LOGIN, options=properties)))
        await writer.drain()

        async def queued() -> bool:
            return pool.queued == 1

        await wait_until(queued, TIMEOUT)
        writer.close()
        await reader.read()  # our side is closed: the broker sees end of stream
        gate.set()

        async def dropped() -> bool:
            return pool.counters["dropped"] == 1

        await wait_until(dropped, TIMEOUT)
    finally:
        gate.set()
        await asyncio.gather(*occupy)
    assert pool.counters["checks"] == len(occupy)
