"""The relay's non-blocking queue and token bucket."""

from __future__ import annotations

import asyncio

import pytest

from fakecloud.relay.queues import DatagramQueue


async def test_drop_oldest_keeps_the_newest() -> None:
    queue = DatagramQueue(2)
    assert queue.put(b"1") and queue.put(b"2")
    assert not queue.put(b"3")
    assert queue.dropped == 1
    assert [await queue.get(), await queue.get()] == [b"2", b"3"]


async def test_drop_newest_keeps_the_oldest() -> None:
    queue = DatagramQueue(2, "drop_newest")
    for item in (b"1", b"2", b"3"):
        queue.put(item)
    assert [await queue.get(), await queue.get()] == [b"1", b"2"]


async def test_get_waits_and_close_ends() -> None:
    queue = DatagramQueue(4)
    waiter = asyncio.ensure_future(queue.get())
    await asyncio.sleep(0)  # let the waiter block (a scheduling step, not a timing guess)
    assert not waiter.done()
    queue.put(b"x")
    assert await waiter == b"x"
    queue.put(b"y")
    queue.close()
    assert not queue.put(b"z")
    assert await queue.get() == b"y"
    assert await queue.get() is None


def test_queue_needs_room() -> None:
    with pytest.raises(ValueError):
        DatagramQueue(0)
