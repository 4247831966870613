"""The media hub: bounded fan-out, keyframe-aligned starts, demand and linger."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fakecloud.media.frames import MediaFrame
from fakecloud.media.hub import HubFullError, MediaHub, Subscription


def h264(index: int, keyframe: bool) -> MediaFrame:
    return MediaFrame("h264", index.to_bytes(4, "big"), index / 15, keyframe)


def jpeg(index: int) -> MediaFrame:
    return MediaFrame("jpeg", index.to_bytes(4, "big"), index / 15, True)


def gop_stream(count: int, gop: int = 5, start: int = 0) -> list[MediaFrame]:
    return [h264(i, i % gop == 0) for i in range(start, start + count)]


def index_of(frame: MediaFrame) -> int:
    return int.from_bytes(frame.data, "big")


def drain(subscription: Subscription) -> list[int]:
    """What a subscriber has queued, without waiting."""
    return [index_of(subscription._frames.popleft()) for _ in range(subscription.queued)]


class Calls:
    """demand/release callbacks that record calls and wake waiters."""

    def __init__(self) -> None:
        self.demanded: list[int] = []
        self.released: list[int] = []
        self.demand_event = asyncio.Event()
        self.release_event = asyncio.Event()

    async def demand(self, camera_id: int) -> None:
        self.demanded.append(camera_id)
        self.demand_event.set()

    async def release(self, camera_id: int) -> None:
        self.released.append(camera_id)
        self.release_event.set()


async def test_slow_subscriber_drops_to_next_keyframe_and_never_delays_others() -> None:
    hub = MediaHub(queue_size=8)
    async with hub.subscribe(1) as slow, hub.subscribe(1) as fast:
        received = []
        for frame in gop_stream(40):
            hub.publish(1, frame)
            received.append(index_of(await anext(fast)))
        assert received == list(range(40))
        assert slow.queued == 8 and slow.dropped == 32
        assert drain(slow) == list(range(8))
        # After the backlog is gone the slow viewer resumes at a keyframe, not mid-GOP.
        for frame in gop_stream(9, start=41):
            hub.publish(1, frame)
        assert drain(slow) == list(range(45, 50))


async def test_jpeg_subscriber_keeps_the_freshest_frames() -> None:
    hub = MediaHub(queue_size=3)
    async with hub.subscribe(1) as viewer:
        for index in range(10):
            hub.publish(1, jpeg(index))
        assert drain(viewer) == [7, 8, 9]
        assert viewer.dropped == 7


async def test_new_subscriber_starts_with_current_gop() -> None:
    hub = MediaHub()
    for frame in gop_stream(8):
        hub.publish(1, frame)
    async with hub.subscribe(1) as late:
        assert drain(late) == [5, 6, 7]
    assert [index_of(f) for f in hub.latest_pictures(1)] == [5, 6, 7]


async def test_subscriber_without_live_gop_waits_for_a_keyframe() -> None:
    hub = MediaHub()
    async with hub.subscribe(1) as viewer:
        for frame in gop_stream(7, start=3):  # 3, 4 are P-frames; 5 is a keyframe
            hub.publish(1, frame)
        assert drain(viewer) == [5, 6, 7, 8, 9]


async def test_stale_gop_is_not_replayed() -> None:
    now = [100.0]
    hub = MediaHub(stall_after=5, clock=lambda: now[0])
    for frame in gop_stream(3):
        hub.publish(1, frame)
    now[0] += 6
    async with hub.subscribe(1) as viewer:
        assert viewer.queued == 0
    assert hub.latest_pictures(1) == []


async def test_gop_memory_is_capped() -> None:
    hub = MediaHub(max_gop_frames=4)
    for frame in gop_stream(10, gop=100):
        hub.publish(1, frame)
    # Past the cap only the keyframe stays: still enough for a snapshot.
    assert [index_of(f) for f in hub.latest_pictures(1)] == [0]


async def test_first_subscriber_demands_and_last_one_releases_after_linger() -> None:
    calls = Calls()
    hub = MediaHub(calls.demand, calls.release, linger=0.05)
    async with hub.subscribe(7):
        await asyncio.wait_for(calls.demand_event.wait(), 5)
        async with hub.subscribe(7):
            pass
        assert hub.active_cameras() == [7]
    assert calls.released == []  # the linger has not passed yet
    await asyncio.wait_for(calls.release_event.wait(), 5)
    assert calls.demanded == [7] and calls.released == [7]
    assert hub.active_cameras() == []


async def test_resubscribe_during_linger_cancels_release() -> None:
    calls = Calls()
    hub = MediaHub(calls.demand, calls.release, linger=0.2)
    async with hub.subscribe(1):
        pass
    async with hub.subscribe(1):  # back within the linger: camera 1 must not be released
        async with hub.subscribe(2):
            pass
        # Camera 2's release is scheduled after camera 1's would have been; when it comes,
        # camera 1's timer has had its chance to fire.
        await asyncio.wait_for(calls.release_event.wait(), 5)
        assert calls.released == [2]
        assert calls.demanded == [1, 2]


async def test_redemand_only_for_wanted_cameras() -> None:
    calls = Calls()
    hub = MediaHub(calls.demand, calls.release)
    assert hub.redemand(1) is False
    async with hub.subscribe(1):
        await asyncio.wait_for(calls.demand_event.wait(), 5)
        calls.demand_event.clear()
        assert hub.redemand(1) is True
        await asyncio.wait_for(calls.demand_event.wait(), 5)
    assert calls.demanded == [1, 1]
    await hub.stop()


async def test_failing_demand_does_not_break_the_viewer() -> None:
    failed = asyncio.Event()

    async def demand(camera_id: int) -> None:
        failed.set()
        raise ConnectionError("camera offline")

    hub = MediaHub(demand)
    async with hub.subscribe(1) as viewer:
        await asyncio.wait_for(failed.wait(), 5)
        hub.publish(1, jpeg(1))
        assert index_of(await anext(viewer)) == 1


async def test_status_shows_stalls() -> None:
    now = [0.0]
    hub = MediaHub(stall_after=10, clock=lambda: now[0])
    async with hub.subscribe(3):
        hub.publish(3, jpeg(0))
        assert hub.status()["cameras"]["3"]["stalled"] is False
        now[0] = 11
        camera = hub.status()["cameras"]["3"]
        assert camera["stalled"] is True and camera["viewers"] == 1
        assert camera["codec"] == "jpeg" and camera["frames"] == 1
        assert camera["last_frame_age"] == 11


async def test_limits() -> None:
    hub = MediaHub(max_cameras=2, max_subscribers=1)
    hub.publish(1, jpeg(0))
    hub.publish(2, jpeg(0))
    hub.publish(3, jpeg(0))
    assert hub.status()["rejected_frames"] == 1
    assert hub.is_known(1) and not hub.is_known(3)
    with pytest.raises(HubFullError):
        hub.subscribe(3)
    async with hub.subscribe(1):
        with pytest.raises(HubFullError):
            hub.subscribe(1)


async def test_known_camera_callback() -> None:
    hub = MediaHub(known_camera=lambda camera_id: camera_id == 42)
    assert hub.is_known(42) and not hub.is_known(43)


async def test_stop_ends_iteration() -> None:
    hub = MediaHub()
    async with hub.subscribe(1) as viewer:
        waiting = asyncio.create_task(anext(viewer))
        await hub.stop()
        with pytest.raises(StopAsyncIteration):
            await asyncio.wait_for(waiting, 5)


async def test_next_within_keeps_one_timer_while_frames_come_and_gives_up_on_a_stall() -> None:
    hub = MediaHub()
    loop = asyncio.get_running_loop()
    async with hub.subscribe(1) as viewer:
        hub.publish(1, h264(0, True))
        assert index_of(await viewer.next_within(5.0)) == 0
        timer = viewer._deadline_timer
        for index in range(1, 20):
            loop.call_soon(hub.publish, 1, h264(index, False))  # while the viewer waits
            assert index_of(await viewer.next_within(5.0)) == index
        assert viewer._deadline_timer is timer  # one timer for all twenty waits
        # A shorter wait than the armed timer's gets a timer of its own.
        started = loop.time()
        with pytest.raises(TimeoutError):
            await viewer.next_within(0.2)
        assert 0.2 <= loop.time() - started < 3.0
        hub.publish(1, h264(20, False))  # a frame after giving up still comes
        assert index_of(await viewer.next_within(0.2)) == 20


async def test_next_within_waits_its_own_time_when_the_timer_was_set_for_an_earlier_wait() -> None:
    hub = MediaHub()
    loop = asyncio.get_running_loop()
    async with hub.subscribe(1) as viewer:
        loop.call_later(0.2, hub.publish, 1, h264(0, True))
        assert index_of(await viewer.next_within(0.4)) == 0  # sets the timer for 0.4 s
        started = loop.time()
        with pytest.raises(TimeoutError):
            await viewer.next_within(0.4)  # the timer fires at 0.4 first, then is set again
        assert loop.time() - started >= 0.4
        # Closing wakes a waiter and drops the timer.
        waiting = asyncio.create_task(viewer.next_within(30.0))
        loop.call_soon(viewer.close)
        with pytest.raises(StopAsyncIteration):
            await asyncio.wait_for(waiting, 5)
        assert viewer._deadline_timer is None


@settings(max_examples=200, deadline=None)
@given(
    steps=st.lists(st.one_of(st.booleans(), st.integers(min_value=0, max_value=6)), max_size=120),
    queue_size=st.integers(min_value=1, max_value=6),
)
def test_h264_delivery_is_always_decodable(steps: list[bool | int], queue_size: int) -> None:
    """Whatever the publish/read interleaving, each run of consecutive frames a viewer gets
    starts with a keyframe, so its decoder never sees a frame whose reference was dropped."""

    async def scenario() -> None:
        hub = MediaHub(queue_size=queue_size)
        published: dict[int, MediaFrame] = {}
        received: list[int] = []
        async with hub.subscribe(1) as viewer:
            for step in steps:
                if isinstance(step, bool):  # publish one frame, keyframe or not
                    frame = h264(len(published), step)
                    published[len(published)] = frame
                    hub.publish(1, frame)
                else:  # read up to `step` queued frames
                    for _ in range(min(step, viewer.queued)):
                        received.append(index_of(await anext(viewer)))
                assert viewer.queued <= queue_size
            received += drain(viewer)
        previous = None
        for index in received:
            if previous is None or index != previous + 1:
                assert published[index].keyframe
            previous = index
        assert received == sorted(set(received))

    asyncio.run(scenario())
