"""The relay part on real loopback sockets: binding, dispatch, a whole session, junk."""

from __future__ import annotations

import random

import pytest

from fakecloud.core.config import Settings
from fakecloud.core.errors import UserError
from fakecloud.net.sdnk import Address, Connect, Peers, Punch, Register
from fakecloud.relay import RelayPart
from tests.relay.peers import UdpPeer
from tests.relay.scenario import (
    CAMERA,
    HOST,
    ListRecorder,
    address_of,
    camera_of,
    media_datagram,
    r_viewer_of,
    wait_for,
)


async def test_r_reading_rendezvous_and_media(relay: RelayPart) -> None:
    allocation = relay.allocate(CAMERA, "video", "alice", viewer_host=HOST)
    assert allocation.offer_url == f"rtp://127.0.0.1:{relay.port}"
    assert (allocation.camera_media_id, allocation.viewer_media_id) == ("V_5", "V_alice")
    viewer = await r_viewer_of(allocation)
    peers = viewer[0].of_type(Peers)[0]
    # The relay is the peer, in every slot (K would otherwise pick its own LAN address when it
    # shares the camera's host).
    assert peers.slots == (Address("127.0.0.1", relay.port),) * 4
    camera = await camera_of(allocation)
    # The camera side sees R's CONNECT counters 7.. once it punches the relay.
    ids = (allocation.camera_media_id, allocation.viewer_media_id)
    camera[0].send(Punch(0, ids).encode(), address_of(allocation))
    await camera[0].until(lambda peer: bool(peer.of_type(Connect)))
    assert camera[0].of_type(Connect)[0] == Connect(7, header_counter=7)
    for index in range(20):
        camera[0].send(media_datagram(index), address_of(allocation))
    assert await viewer[0].media_count(20) == [media_datagram(i) for i in range(20)]
    # RTCP from the viewer's control channel reaches the camera's control socket.
    viewer[1].send(b"\x81\xc9\x00\x07" + bytes(28), address_of(allocation))
    assert await camera[1].media_count(1) == [b"\x81\xc9\x00\x07" + bytes(28)]
    status = relay.status()
    assert status["streams"] == 1 and status["viewers"] == 2 and status["cameras"] == 2
    assert status["datagrams_forwarded"] == 21
    # Every camera's media shares this socket: its buffer is more than the kernel's 208 KiB
    # default (fakecloud.relay.receive_buffer.py), so a busy loop's pause does not drop keyframes.
    assert status["receive_buffer_bytes"] > 212992


async def test_rejects_a_non_ipv4_announce_address(settings: Settings) -> None:
    relay = RelayPart(settings.model_copy(update={"announce_address": "::1"}))
    with pytest.raises(UserError, match="IPv4"):
        await relay.start()
    await relay.stop()


async def test_oversize_and_unexpected_packets_are_dropped(relay: RelayPart) -> None:
    allocation = relay.allocate(CAMERA, "video", "alice", viewer_host=HOST)
    viewer = await r_viewer_of(allocation)
    viewer[0].send(bytes(5000), address_of(allocation))
    viewer[0].send(
        Peers.between(viewer[0].address, viewer[0].address, viewer[0].address).encode(),
        address_of(allocation),
    )
    await wait_for(lambda: relay.status()["drops"].get("unexpected_packet") == 1)
    assert relay.status()["drops"]["oversize"] == 1


async def test_junk_flood_does_not_stop_forwarding(
    relay: RelayPart, recorder: ListRecorder
) -> None:
    allocation = relay.allocate(CAMERA, "video", "alice", viewer_host=HOST)
    viewer = await r_viewer_of(allocation)
    camera = await camera_of(allocation)
    flooder = await UdpPeer.bind()
    rng = random.Random(7)
    # Batches keep the burst inside the kernel's receive buffer: the test is about the relay,
    # not about the kernel dropping datagrams nobody has read yet.
    for batch in range(40):
        for index in range(batch * 10, batch * 10 + 10):
            flooder.send(rng.randbytes(rng.randrange(0, 3000)), address_of(allocation))
            junk_ids = (f"V_{rng.getrandbits(64):x}", f"V_{rng.getrandbits(64):x}")
            flooder.send(
                Register(0, "V", flooder.address, junk_ids).encode(), address_of(allocation)
            )
            flooder.send(b"SDNK\x01\x00\x00\x01" + rng.randbytes(40), address_of(allocation))
            camera[0].send(media_datagram(index), address_of(allocation))
        await viewer[0].media_count(batch * 10 + 10)
    assert viewer[0].media == [media_datagram(i) for i in range(400)]
    await wait_for(lambda: relay.status()["drops"].get("unknown_id") == 400)
    status = relay.status()
    assert status["cameras"] == 2 and status["viewers"] == 2  # no growth from the flood
    assert status["drops"]["malformed"] >= 400
    assert len(recorder.events) <= 60  # recording is rate limited
