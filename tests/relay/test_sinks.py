"""Sinks: a tap that is not read drops by its overflow policy and delays nobody."""

from __future__ import annotations

from fakecloud.relay import RelayPart
from tests.relay.scenario import (
    CAMERA,
    HOST,
    address_of,
    camera_of,
    media_datagram,
    r_viewer_of,
    take,
)


async def test_a_viewer_that_never_reads_does_not_delay_others(relay: RelayPart) -> None:
    allocation = relay.allocate(CAMERA, "video", "alice", viewer_host=HOST)
    stuck = relay.open_tap(relay.allocate(CAMERA, "video", "stuck", viewer_host=HOST), max_queue=4)
    newest = relay.open_tap(
        relay.allocate(CAMERA, "video", "t2", viewer_host=HOST), 4, overflow="drop_newest"
    )
    viewer = await r_viewer_of(allocation)
    camera = await camera_of(allocation)
    for index in range(200):
        camera[0].send(media_datagram(index), address_of(allocation))
    assert len(await viewer[0].media_count(200)) == 200
    assert stuck.dropped == newest.dropped == 196
    assert [d async for d in take(stuck, 4)] == [media_datagram(i) for i in range(196, 200)]
    assert [d async for d in take(newest, 4)] == [media_datagram(i) for i in range(4)]
    assert relay.status()["drops"]["queue_full"] == 392
