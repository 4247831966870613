"""The outbox keeps the latest message per topic, and every change of a change topic in
order, within its limit."""

from __future__ import annotations

import pytest

from fakecloud.integrations.mqtt.discovery import Message
from fakecloud.integrations.mqtt.outbox import Outbox


def change(topic: str, payload: bytes) -> Message:
    return Message(topic, payload, retain=True, every_change=True)


async def drain(outbox: Outbox) -> list[Message]:
    return [await outbox.get() for _ in range(len(outbox))]


async def test_the_latest_value_of_a_topic_wins_and_keeps_its_turn_at_the_end() -> None:
    outbox = Outbox(limit=10)
    for topic, payload in [("a", b"1"), ("b", b"1"), ("a", b"2")]:
        outbox.put(Message(topic, payload))
    assert len(outbox) == 2
    assert await drain(outbox) == [Message("b", b"1"), Message("a", b"2")]


async def test_every_change_waits_in_order_and_a_repeat_adds_nothing() -> None:
    """A motion that starts and ends while the sender is behind is ON then OFF, not only OFF;
    a snapshot between them still keeps only its latest picture."""
    outbox = Outbox(limit=10)
    outbox.put(change("motion", b"ON"))
    outbox.put(Message("snapshot", b"first"))
    outbox.put(change("motion", b"ON"))  # a camera's repeated motion report: no change
    outbox.put(change("motion", b"OFF"))
    outbox.put(Message("snapshot", b"second"))
    outbox.put(change("motion", b"ON"))
    assert await drain(outbox) == [
        change("motion", b"ON"),
        change("motion", b"OFF"),
        Message("snapshot", b"second"),
        change("motion", b"ON"),
    ]
    outbox.put(change("motion", b"ON"))  # what was sent is not compared: sent again
    assert await drain(outbox) == [change("motion", b"ON")]


async def test_past_the_limit_the_oldest_is_dropped_and_counted() -> None:
    outbox = Outbox(limit=2)
    for topic in "abc":
        outbox.put(Message(topic, b""))
    assert outbox.dropped == 1
    assert [(await outbox.get()).topic, (await outbox.get()).topic] == ["b", "c"]
    for payload in (b"ON", b"OFF", b"ON"):
        outbox.put(change("motion", payload))
    assert outbox.dropped == 2
    assert await drain(outbox) == [change("motion", b"OFF"), change("motion", b"ON")]


async def test_a_failed_message_goes_first_unless_a_newer_one_came() -> None:
    outbox = Outbox(limit=4)
    outbox.put(Message("b", b"new"))
    outbox.put(change("motion", b"OFF"))
    outbox.put_back(Message("a", b"failed"))
    outbox.put_back(Message("b", b"old"))
    outbox.put_back(change("motion", b"ON"))  # a change came before whatever waits
    assert await drain(outbox) == [
        change("motion", b"ON"),
        Message("a", b"failed"),
        Message("b", b"new"),
        change("motion", b"OFF"),
    ]


def test_an_outbox_has_room() -> None:
    with pytest.raises(ValueError, match="at least one"):
        Outbox(limit=0)
