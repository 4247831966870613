"""The outbox keeps the latest message per topic, within its limit."""

from __future__ import annotations

import pytest

from fakecloud.integrations.mqtt.discovery import Message
from fakecloud.integrations.mqtt.outbox import Outbox


async def test_the_latest_value_of_a_topic_wins_and_keeps_its_turn_at_the_end() -> None:
    outbox = Outbox(limit=10)
    for topic, payload in [("a", b"1"), ("b", b"1"), ("a", b"2")]:
        outbox.put(Message(topic, payload))
    assert len(outbox) == 2
    assert [await outbox.get(), await outbox.get()] == [Message("b", b"1"), Message("a", b"2")]


async def test_past_the_limit_the_oldest_is_dropped_and_counted() -> None:
    outbox = Outbox(limit=2)
    for topic in "abc":
        outbox.put(Message(topic, b""))
    assert outbox.dropped == 1
    assert [(await outbox.get()).topic, (await outbox.get()).topic] == ["b", "c"]


async def test_a_failed_message_goes_first_unless_a_newer_one_came() -> None:
    outbox = Outbox(limit=3)
    outbox.put(Message("b", b"new"))
    outbox.put_back(Message("a", b"failed"))
    outbox.put_back(Message("b", b"old"))
    assert [await outbox.get(), await outbox.get()] == [
        Message("a", b"failed"),
        Message("b", b"new"),
    ]


def test_an_outbox_has_room() -> None:
    with pytest.raises(ValueError, match="at least one"):
        Outbox(limit=0)
