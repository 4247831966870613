import asyncio

import pytest

from fakecloud.core.events import (
    CameraOffline,
    CameraOnline,
    EventBus,
    Motion,
    consume,
)


async def test_each_subscriber_gets_the_kinds_it_asked_for_in_order() -> None:
    bus = EventBus()
    presence = bus.subscribe("presence", CameraOnline, CameraOffline)
    everything = bus.subscribe("all")
    events = [CameraOnline(1, "alice", "127.0.0.1"), Motion(1), CameraOffline(1, "closed")]
    for event in events:
        bus.publish(event)
    assert [await presence.get(), await presence.get()] == [events[0], events[2]]
    assert [await everything.get() for _ in events] == events
    assert bus.status()["published"] == 3


async def test_a_slow_subscriber_drops_its_oldest_and_never_delays_the_publisher() -> None:
    bus = EventBus()
    slow = bus.subscribe("slow", limit=4)
    fast = bus.subscribe("fast", limit=1000)
    for camera_id in range(100):
        bus.publish(CameraOffline(camera_id, "x"))  # returns at once: nothing awaits
    assert slow.status() == {"queued": 4, "delivered": 0, "dropped": 96}
    assert [(await slow.get()).camera_id for _ in range(4)] == [96, 97, 98, 99]
    assert fast.status()["queued"] == 100 and fast.dropped == 0


async def test_a_waiting_subscriber_wakes_on_publish_and_ends_on_close() -> None:
    bus = EventBus()
    subscription = bus.subscribe("waiter")
    received: list[object] = []
    got_one = asyncio.Event()

    async def read_all() -> None:
        async for event in subscription:
            received.append(event)
            got_one.set()

    reader = asyncio.create_task(read_all())
    bus.publish(Motion(7))
    await asyncio.wait_for(got_one.wait(), 5)
    got_one.clear()
    bus.publish(Motion(8))  # the reader is now waiting on an empty queue
    await asyncio.wait_for(got_one.wait(), 5)
    subscription.close()
    await asyncio.wait_for(reader, 5)
    assert received == [Motion(7), Motion(8)]
    bus.publish(Motion(9))  # closed: no longer subscribed
    assert received == [Motion(7), Motion(8)]
    assert "waiter" not in bus.status()["subscribers"]


async def test_consume_survives_a_failing_handler() -> None:
    bus = EventBus()
    subscription = bus.subscribe("flaky")
    handled: list[int] = []
    done = asyncio.Event()

    async def handle(event: object) -> None:
        assert isinstance(event, Motion)
        if event.camera_id == 1:
            raise RuntimeError("boom")
        handled.append(event.camera_id)
        if event.camera_id == 3:
            done.set()

    task = asyncio.create_task(consume(subscription, handle))
    for camera_id in (1, 2, 3):
        bus.publish(Motion(camera_id))
    await asyncio.wait_for(done.wait(), 5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert handled == [2, 3]
    assert "flaky" not in bus.status()["subscribers"]


def test_a_subscription_needs_room() -> None:
    with pytest.raises(ValueError):
        EventBus().subscribe("none", limit=0)
