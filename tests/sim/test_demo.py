"""The demo's cameras: their own MACs, and each one on its own."""

from __future__ import annotations

import asyncio
import json
import logging

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fakecloud.sim.demo import DEMO_MAC_PREFIX, SIM_MAC_PREFIX, demo_mac, run_demo, simulated_mac
from fakecloud.sim.demo_part import DemoRecord, parse_demo_record
from tests.broker.conftest import OTHER, OWNER, OWNER_PASSWORD, BrokerServer, wait_until

WITHIN = 30.0


def test_demo_macs_never_collide_with_simulated_ones() -> None:
    assert demo_mac(0) == "02:FC:DE:00:00:00"
    assert demo_mac(0x1234) == "02:FC:DE:00:12:34"
    assert DEMO_MAC_PREFIX != SIM_MAC_PREFIX
    assert not {demo_mac(i) for i in range(256)} & {simulated_mac(i) for i in range(256)}
    assert int(demo_mac(7)[:2], 16) & 0x02  # locally administered: never a real device
    with pytest.raises(ValueError):
        demo_mac(1 << 24)


class _Refusals(logging.Handler):
    """Tells the test when a demo camera's refusal has been logged `wanted` times."""

    def __init__(self, wanted: int) -> None:
        super().__init__()
        self.wanted = wanted
        self.messages: list[str] = []
        self.enough = asyncio.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if "was refused" in record.getMessage():
            self.messages.append(record.getMessage())
            if len(self.messages) >= self.wanted:
                self.enough.set()


async def test_a_refused_demo_camera_never_stops_the_others(served: BrokerServer) -> None:
    # The second demo camera's MAC already belongs to another account: its logins are refused.
    taken = await served.store.upsert_camera(mac=demo_mac(1), owner=OTHER)
    refusals = _Refusals(wanted=2)
    logger = logging.getLogger("fakecloud.sim.demo")
    logger.addHandler(refusals)
    demo = asyncio.create_task(
        run_demo("127.0.0.1", served.port, OWNER, OWNER_PASSWORD, 3, first_retry=0.05)
    )
    try:
        async with asyncio.timeout(WITHIN):
            await refusals.enough.wait()  # refused, then tried again
        assert not demo.done()

        async def others_online() -> bool:
            return len(served.broker.online_camera_ids()) == 2

        await wait_until(others_online, WITHIN)
        online = {(await served.store.get_camera(i)).mac for i in served.broker.online_camera_ids()}
        assert online == {demo_mac(0), demo_mac(2)}
        assert (await served.store.get_camera(taken.id)).owner == OTHER  # never taken over
        assert demo_mac(1) in refusals.messages[0]
    finally:
        logger.removeHandler(refusals)
        demo.cancel()
        await asyncio.gather(demo, return_exceptions=True)
    assert demo.cancelled()


def test_a_demo_record_round_trips() -> None:
    assert parse_demo_record('{"login": "demo-2", "alias": "ab12cd"}') == DemoRecord(
        "demo-2", "ab12cd"
    )
    for damaged in ("", "{", "[]", '{"login": "demo"}', '{"login": 1, "alias": "x"}'):
        assert parse_demo_record(damaged) is None


@given(st.text(max_size=200))
def test_any_demo_record_text_parses_or_is_none(text: str) -> None:
    record = parse_demo_record(text)
    assert record is None or (record.login and record.alias)


@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(), lambda inner: (
    st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(["login", "alias", "x"]), inner)
), max_leaves=8))  # fmt: skip
def test_any_json_demo_record_parses_or_is_none(value: object) -> None:
    record = parse_demo_record(json.dumps(value))
    well_formed = isinstance(value, dict) and all(
        isinstance(value.get(key), str) and value[key] for key in ("login", "alias")
    )
    assert (record is not None) == well_formed
