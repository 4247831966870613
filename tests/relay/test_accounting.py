"""Drops are counted; what is recorded is cut short and rate limited."""

from __future__ import annotations

from fakecloud.net.sdnk import Address
from fakecloud.relay.accounting import RECORDED_BYTES, RelayAccounting
from tests.relay.scenario import ListRecorder


def test_drops_are_counted_and_recorded_within_the_budget() -> None:
    recorder = ListRecorder()
    accounting = RelayAccounting(recorder, records_per_second=5, local_port=lambda: 6178)
    for _ in range(100):
        accounting.drop("oversize", bytes(5000), Address("127.0.0.1", 9), length=5000)
    assert accounting.drops["oversize"] == 100
    # The bucket holds two seconds' worth; a burst records no more than that.
    assert 1 <= len(recorder.events) <= 10
    first = recorder.events[0]
    assert first["kind"] == "relay" and first["event"] == "oversize"
    assert first["peer"] == "127.0.0.1:9" and first["local_port"] == 6178
    assert first["length"] == 5000 and len(first["data"]) == RECORDED_BYTES


def test_without_a_recorder_only_the_counts_remain() -> None:
    accounting = RelayAccounting(None, records_per_second=5, local_port=lambda: 0)
    accounting.drop("unknown_id", b"SDNK", Address("127.0.0.1", 9))
    accounting.record("session_idle", viewer="alice")
    assert accounting.drops == {"unknown_id": 1}
