"""The session table: allocation rules and caps, release, liveness, one host's share."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from fakecloud.core.config import Settings
from fakecloud.core.events import CameraEvent, EventBus, Subscription, ViewerStarted, ViewerStopped
from fakecloud.net.sdnk import Address, Register
from fakecloud.relay import RelayError, RelayPart
from tests.relay.peers import (
    RECEIVE_TIMEOUT,
    TcpPeer,
    UdpPeer,
    bye,
    k_viewer,
    r_viewer,
    receiver_report,
)
from tests.relay.scenario import (
    CAMERA,
    HOST,
    SHORT,
    Ended,
    address_of,
    camera_of,
    media_datagram,
    r_viewer_of,
    running_relay,
    silent_socket,
    wait_for,
)


async def test_release_ends_the_session(relay: RelayPart) -> None:
    allocation = relay.allocate(CAMERA, "video", "alice", viewer_host=HOST)
    tap = relay.open_tap(allocation)
    camera = await camera_of(allocation)
    relay.release(allocation)
    assert [d async for d in tap] == []  # iteration ends
    assert relay.status()["streams"] == relay.status()["cameras"] == 0
    with pytest.raises(RelayError):
        relay.open_tap(allocation)
    probe = await UdpPeer.bind()
    camera[0].send(media_datagram(1), address_of(allocation))
    # Once the media is dropped as unregistered, a REGISTER for the old ids is unknown too.
    ids = (allocation.camera_media_id, allocation.viewer_media_id)
    probe.send(Register(0, "V", probe.address, ids).encode(), address_of(allocation))
    await wait_for(lambda: relay.status()["drops"].get("unknown_id") == 1)
    assert relay.status()["drops"]["unregistered"] == 1


async def test_inactivity_ends_the_session(settings: Settings) -> None:
    async for relay in running_relay(RelayPart(settings, inactivity_timeout=0.3)):
        allocation = relay.allocate(CAMERA, "video", "alice", viewer_host=HOST)
        tap = relay.open_tap(allocation)
        await camera_of(allocation)
        async with asyncio.timeout(5):
            assert [d async for d in tap] == []
        assert relay.status()["sessions"] == relay.status()["cameras"] == 0


async def test_allocation_rules(relay: RelayPart) -> None:
    first = relay.allocate(CAMERA, "video", "alice", viewer_host=HOST)
    assert relay.allocate(CAMERA, "video", "alice", viewer_host=HOST) == first
    # Both public clients cut an id to its 32 bytes; so does the relay.
    assert (
        relay.allocate(CAMERA, "video", "x" * 40, viewer_host=HOST).viewer_media_id
        == "V_" + "x" * 30
    )
    with pytest.raises(ValueError, match="SDNK id"):
        relay.allocate(CAMERA, "video", "alicé", viewer_host=HOST)
    relay.release(first)
    relay.release(first)  # twice is harmless
    assert relay.allocate(CAMERA, "video", "alice", viewer_host=HOST) != first


async def test_session_cap(settings: Settings) -> None:
    async for relay in running_relay(RelayPart(settings, max_sessions=2)):
        relay.allocate(1, "video", "a", viewer_host=HOST)
        relay.allocate(1, "video", "b", viewer_host=HOST)
        with pytest.raises(RelayError, match="full"):
            relay.allocate(1, "video", "c", viewer_host=HOST)


async def test_a_quiet_media_socket_keeps_video_while_rtcp_flows(settings: Settings) -> None:
    async for relay in running_relay(RelayPart(settings, inactivity_timeout=SHORT)):
        ended = Ended()
        allocation = relay.allocate(CAMERA, "video", "alice", on_end=ended, viewer_host=HOST)
        viewer = await r_viewer_of(allocation)
        camera = await camera_of(allocation)
        loop = asyncio.get_running_loop()
        started = loop.time()
        index = 0
        # Four timeouts long: the media socket never sends, the control socket reports.
        while loop.time() - started < 4 * SHORT:
            camera[0].send(media_datagram(index), address_of(allocation))
            index += 1
            await viewer[0].media_count(index)
            viewer[1].send(receiver_report(0xCAFE), address_of(allocation))
            await asyncio.sleep(SHORT / 4)  # pacing: let real time pass, not synchronisation
        assert viewer[0].media == [media_datagram(i) for i in range(index)]
        assert ended.reasons == [] and relay.status()["sessions"] == 1
        # The camera heard every report; the viewer now falls silent and is let go.
        await camera[1].media_count(index)
        assert await ended.wait() == ["idle"]
        assert relay.status()["sessions"] == 0


async def test_one_host_cannot_take_every_viewer_slot(settings: Settings) -> None:
    async for relay in running_relay(RelayPart(settings, max_viewer_sockets_per_host=4)):
        hog = relay.allocate(CAMERA, "video", "hog", viewer_host=HOST)
        for _ in range(3):  # three proven viewers = 6 sockets asked for; 4 fit
            with contextlib.suppress(TimeoutError):
                await r_viewer(address_of(hog), hog.viewer_media_id, hog.camera_media_id)
        assert relay.status()["viewers"] == 4
        assert relay.status()["drops"]["source_limit"] >= 1
        other = relay.allocate(CAMERA, "video", "alice", viewer_host="127.0.0.2")
        assert await k_viewer(address_of(other), other.camera_media_id, host="127.0.0.2")
        assert relay.status()["viewers"] == 6


# --- issue 9: viewer sessions on the event bus ------------------------------------------------


async def _next(subscription: Subscription) -> CameraEvent:
    async with asyncio.timeout(RECEIVE_TIMEOUT):
        return await subscription.get()


async def test_a_proven_viewer_starts_and_its_bye_stops_on_the_bus(settings: Settings) -> None:
    bus = EventBus()
    events = bus.subscribe("test", ViewerStarted, ViewerStopped)
    relay = RelayPart(settings, bus=bus)
    async for _ in running_relay(relay):
        allocation = relay.allocate(CAMERA, "video", "alice", viewer_host=HOST)
        # A socket that registers but never proves its address starts nothing.
        unproven = silent_socket()
        ids = (allocation.viewer_media_id, allocation.camera_media_id)
        unproven.sendto(Register(0, "V", Address(HOST, 9), ids).encode(), address_of(allocation))
        await wait_for(lambda: relay.status()["unproven_viewers"] == 1)
        assert events.status()["queued"] == 0
        unproven.close()
        viewer = await r_viewer_of(allocation)
        assert await _next(events) == ViewerStarted(CAMERA, "alice")
        viewer[1].send(bye(0xCAFE), address_of(allocation))
        # Both sockets proved themselves, yet the session started once.
        assert await _next(events) == ViewerStopped(CAMERA, "alice", "bye")
        assert events.status()["queued"] == 0


async def test_release_idle_and_tcp_sessions_on_the_bus(settings: Settings) -> None:
    bus = EventBus()
    events = bus.subscribe("test", ViewerStarted, ViewerStopped)
    async for relay in running_relay(RelayPart(settings, bus=bus, inactivity_timeout=SHORT)):
        released = relay.allocate(CAMERA, "video", "alice", viewer_host=HOST)
        await r_viewer_of(released)
        assert await _next(events) == ViewerStarted(CAMERA, "alice")
        relay.release(released)
        assert await _next(events) == ViewerStopped(CAMERA, "alice", "release")
        # fakecloud's own tap session has no sockets: it neither starts nor stops a viewer.
        tapped = relay.allocate(CAMERA, "video", "fakecloud")
        relay.open_tap(tapped)
        relay.release(tapped)
        # A TCP connection is proven by its handshake; its viewer falls silent and is let go.
        quiet = relay.allocate(CAMERA, "video", "bob", viewer_host=HOST)
        tcp = await TcpPeer.connect(relay.port)
        ids = (quiet.viewer_media_id, quiet.camera_media_id)
        await tcp.send(Register(0, "V", Address(HOST, 1), ids).encode())
        assert await _next(events) == ViewerStarted(CAMERA, "bob")
        assert await _next(events) == ViewerStopped(CAMERA, "bob", "idle")
        await tcp.close()


async def test_a_part_built_alone_has_its_own_bus(settings: Settings) -> None:
    async for relay in running_relay(RelayPart(settings)):
        allocation = relay.allocate(CAMERA, "video", "alice", viewer_host=HOST)
        await r_viewer_of(allocation)
        relay.release(allocation)  # publishing with nobody subscribed is harmless
        assert relay.status()["sessions"] == 0
