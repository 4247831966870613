"""The relay's side of the handshake: PEERS per peer mode, inviting the camera, the punch proof."""

from __future__ import annotations

from fakecloud.core.config import Settings
from fakecloud.net.sdnk import Address, Connected, Peers, Punch, Register, RelayAck
from fakecloud.relay import RelayPart
from fakecloud.relay.proof import UNPROVEN_ALLOWANCE
from fakecloud.relay.sessions import CHANNELS
from tests.relay.peers import UdpPeer
from tests.relay.scenario import (
    CAMERA,
    HOST,
    address_of,
    camera_of,
    drain,
    media_datagram,
    r_viewer_of,
    register_with,
    running_relay,
    silent_socket,
    wait_for,
)


async def test_direct_mode_names_the_counterpart(settings: Settings) -> None:
    async for relay in running_relay(RelayPart(settings, peer_mode="direct")):
        allocation = relay.allocate(CAMERA, "video", "alice", viewer_host=HOST)
        viewer = await UdpPeer.bind()
        ids = (allocation.viewer_media_id, allocation.camera_media_id)
        viewer.send(Register(0, "V", viewer.address, ids).encode(), address_of(allocation))
        camera = await UdpPeer.bind()
        camera_ids = (allocation.camera_media_id, allocation.viewer_media_id)
        peers = await register_with(camera, allocation, 0, camera_ids)
        assert peers.slots[3] == viewer.address
        # The viewer registered first and gets PEERS once the camera arrives.
        assert (await viewer.peers()).slots[3] == camera.address


async def test_the_camera_is_punched_once_someone_watches_each_channel(relay: RelayPart) -> None:
    allocation = relay.allocate(CAMERA, "video", "alice", viewer_host=HOST)
    camera = await camera_of(allocation)
    ids = (allocation.camera_media_id, allocation.viewer_media_id)

    async def reregister(channel: int) -> list[Punch]:
        """REGISTER again and read up to its PEERS: every punch sent before has arrived."""
        sock = camera[channel]
        peers = len(sock.of_type(Peers))
        sock.send(Register(channel, "V", sock.address, ids).encode(), address_of(allocation))
        await sock.until(lambda peer: len(peer.of_type(Peers)) > peers)
        return sock.of_type(Punch)

    assert await reregister(0) == [] and await reregister(1) == []
    viewer = await UdpPeer.bind()
    viewer_ids = (allocation.viewer_media_id, allocation.camera_media_id)
    viewer.send(Register(0, "V", viewer.address, viewer_ids).encode(), address_of(allocation))
    await camera[0].until(lambda peer: len(peer.of_type(Punch)) >= 2)
    assert [punch.sequence for punch in camera[0].of_type(Punch)] == [0, 1]
    assert await reregister(1) == []  # nobody on the control channel yet
    tap_allocation = relay.allocate(CAMERA, "video", "fakecloud", viewer_host=HOST)
    relay.open_tap(tap_allocation)  # fakecloud's own viewer counts on both channels
    await camera[1].until(lambda peer: bool(peer.of_type(Punch)))


async def test_a_spoofed_register_aims_nothing_large_at_its_victim(relay: RelayPart) -> None:
    allocation = relay.allocate(CAMERA, "video", "alice", viewer_host=HOST)
    target = address_of(allocation)
    victim = silent_socket()
    ids = (allocation.viewer_media_id, allocation.camera_media_id)
    # The spoofer's datagrams carry the victim's address (here: sent from the victim's socket,
    # which is all the relay can see): REGISTERs, then every possible echo, blind.
    sent = [Register(channel, "V", Address(HOST, 9), ids).encode() for channel in CHANNELS]
    sent += [RelayAck(0, "V", ids).encode()] + [Connected(b).encode() for b in range(64)]
    for datagram in sent:
        victim.sendto(datagram, target)
    # (64 guesses: a burst the kernel's receive buffer holds, so nothing else is lost.)
    await wait_for(lambda: relay.status()["drops"].get("proof_failed", 0) >= 60)
    viewer = await r_viewer_of(allocation)
    camera = await camera_of(allocation)
    for index in range(40):
        camera[0].send(media_datagram(index, 1200), target)
    await viewer[0].media_count(40)  # 48 KB flowed, to the viewer that proved itself
    received = drain(victim)
    victim.close()
    assert received <= sum(map(len, sent)) + UNPROVEN_ALLOWANCE
    assert relay.status()["unproven_viewers"] == 1  # the victim's socket, still unproven
