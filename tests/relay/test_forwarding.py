"""Forwarding on real loopback sockets: fan-out, RTCP back to the camera, BYE, vanished viewers."""

from __future__ import annotations

from fakecloud.relay import RelayPart
from tests.relay.peers import bye, receiver_report
from tests.relay.scenario import (
    CAMERA,
    HOST,
    Ended,
    address_of,
    camera_of,
    media_datagram,
    r_viewer_of,
    take,
)


async def test_fan_out_to_many_viewers_and_a_tap(relay: RelayPart) -> None:
    allocations = [
        relay.allocate(CAMERA, "video", f"viewer{i}", viewer_host=HOST) for i in range(8)
    ]
    viewers = [await r_viewer_of(allocation) for allocation in allocations]
    tap = relay.open_tap(relay.allocate(CAMERA, "video", "fakecloud", viewer_host=HOST))
    camera = await camera_of(allocations[0])
    for index in range(30):
        camera[0].send(media_datagram(index), address_of(allocations[0]))
    expected = [media_datagram(i) for i in range(30)]
    for viewer in viewers:
        assert await viewer[0].media_count(30) == expected
    received = [datagram async for datagram in take(tap, 30)]
    assert received == expected
    assert relay.status()["viewers"] == 17  # 8 viewers x 2 channels + the tap


async def test_an_rtcp_bye_releases_that_viewer_at_once(relay: RelayPart) -> None:
    ended = Ended()
    leaving = relay.allocate(CAMERA, "video", "alice", on_end=ended, viewer_host=HOST)
    staying = relay.allocate(CAMERA, "video", "bob", viewer_host=HOST)
    alice, bob = await r_viewer_of(leaving), await r_viewer_of(staying)
    camera = await camera_of(staying)
    alice[1].send(bye(0xCAFE), address_of(leaving))
    assert await ended.wait() == ["bye"]
    assert relay.status()["sessions"] == 1
    # The BYE went no further: the camera's control socket gets only bob's report.
    bob[1].send(receiver_report(0xCAFE), address_of(staying))
    assert await camera[1].media_count(1) == [receiver_report(0xCAFE)]
    camera[0].send(media_datagram(1), address_of(staying))
    assert await bob[0].media_count(1) == [media_datagram(1)]
    assert alice[0].media == []
    relay.release(staying)
    assert ended.reasons == ["bye"]  # a release by the owner is not reported back


async def test_a_vanished_viewer_does_not_disturb_the_others(relay: RelayPart) -> None:
    gone = await r_viewer_of(relay.allocate(CAMERA, "video", "gone", viewer_host=HOST))
    allocation = relay.allocate(CAMERA, "video", "alice", viewer_host=HOST)
    viewer = await r_viewer_of(allocation)
    camera = await camera_of(allocation)
    for sock in gone:
        sock.close()
    for batch in range(5):
        for index in range(batch * 20, batch * 20 + 20):
            camera[0].send(media_datagram(index), address_of(allocation))
        await viewer[0].media_count(batch * 20 + 20)
    assert viewer[0].media == [media_datagram(i) for i in range(100)]
