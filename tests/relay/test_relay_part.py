"""The relay on real loopback sockets: rendezvous per reading, forwarding, limits, fallback."""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest

from fakecloud.core.config import Settings
from fakecloud.core.errors import UserError
from fakecloud.net.sdnk import (
    Address,
    Connect,
    Connected,
    Peers,
    Punch,
    Register,
    RelayAck,
    decode,
)
from fakecloud.relay import Allocation, RelayError, RelayPart, Tap
from fakecloud.relay.part import CHANNELS, UNPROVEN_ALLOWANCE
from tests.relay.peers import (
    RECEIVE_TIMEOUT,
    TcpPeer,
    UdpPeer,
    bye,
    k_viewer,
    r_viewer,
    receiver_report,
)

CAMERA = 5
HOST = "127.0.0.1"  # where the test viewers register from: their app's broker address


class ListRecorder:
    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def record(self, kind: str, *, data: bytes | None = None, **fields: Any) -> None:
        self.events.append({"kind": kind, "data": data, **fields})


@pytest.fixture
def recorder() -> ListRecorder:
    return ListRecorder()


async def _running(relay: RelayPart) -> AsyncIterator[RelayPart]:
    await relay.start()
    try:
        yield relay
    finally:
        await relay.stop()


@pytest.fixture
async def relay(settings: Settings, recorder: ListRecorder) -> AsyncIterator[RelayPart]:
    async for running in _running(RelayPart(settings, recorder)):
        yield running


def _target(allocation: Allocation) -> tuple[str, int]:
    return (allocation.host, allocation.port)


async def _register(
    peer: UdpPeer, allocation: Allocation, channel: int, ids: tuple[str, str], kind: str = "V"
) -> Peers:
    peer.send(Register(channel, kind, peer.address, ids).encode(), _target(allocation))
    return await peer.peers()


async def _camera(allocation: Allocation, host: str = "127.0.0.1") -> list[UdpPeer]:
    """A camera registering both channels, R-reading mirrored: its own id first."""
    ids = (allocation.camera_media_id, allocation.viewer_media_id)
    sockets = [await UdpPeer.bind(host), await UdpPeer.bind(host)]
    for channel, sock in enumerate(sockets):
        await _register(sock, allocation, channel, ids)
    return sockets


async def _r_viewer(allocation: Allocation) -> list[UdpPeer]:
    return await r_viewer(
        _target(allocation), allocation.viewer_media_id, allocation.camera_media_id
    )


async def _k_viewer(allocation: Allocation, host: str = "127.0.0.1") -> list[UdpPeer]:
    return await k_viewer(_target(allocation), allocation.camera_media_id, host)


def _media(index: int, size: int = 64) -> bytes:
    # 8-byte chunk header (frame number, LE) then RTP version 2: never "SDNK".
    return index.to_bytes(4, "little") + b"\x01\x00\x00\x00\x80\x60" + bytes(size - 10)


async def test_r_reading_rendezvous_and_media(relay: RelayPart) -> None:
    allocation = relay.allocate(CAMERA, "video", "alice", viewer_host=HOST)
    assert allocation.offer_url == f"rtp://127.0.0.1:{relay.port}"
    assert (allocation.camera_media_id, allocation.viewer_media_id) == ("V_5", "V_alice")
    viewer = await _r_viewer(allocation)
    peers = viewer[0].of_type(Peers)[0]
    # The relay is the peer, in every slot (K would otherwise pick its own LAN address when it
    # shares the camera's host).
    assert peers.slots == (Address("127.0.0.1", relay.port),) * 4
    camera = await _camera(allocation)
    # The camera side sees R's CONNECT counters 7.. once it punches the relay.
    ids = (allocation.camera_media_id, allocation.viewer_media_id)
    camera[0].send(Punch(0, ids).encode(), _target(allocation))
    await camera[0].until(lambda peer: bool(peer.of_type(Connect)))
    assert camera[0].of_type(Connect)[0] == Connect(7, header_counter=7)
    for index in range(20):
        camera[0].send(_media(index), _target(allocation))
    assert await viewer[0].media_count(20) == [_media(i) for i in range(20)]
    # RTCP from the viewer's control channel reaches the camera's control socket.
    viewer[1].send(b"\x81\xc9\x00\x07" + bytes(28), _target(allocation))
    assert await camera[1].media_count(1) == [b"\x81\xc9\x00\x07" + bytes(28)]
    status = relay.status()
    assert status["streams"] == 1 and status["viewers"] == 2 and status["cameras"] == 2
    assert status["datagrams_forwarded"] == 21


async def test_k_reading_rendezvous_with_camera_host(relay: RelayPart) -> None:
    allocation = relay.allocate(CAMERA, "audio", "bob", camera_host="127.0.0.2", viewer_host=HOST)
    assert allocation.camera_media_id == "A_5"
    viewer = await _k_viewer(allocation)
    # A K-style camera also names itself twice; its host tells it apart.
    camera = await _k_viewer(allocation, host="127.0.0.2")
    for index in range(5):
        camera[0].send(_media(index), _target(allocation))
    assert await viewer[0].media_count(5) == [_media(i) for i in range(5)]
    assert relay.status()["cameras"] == 2


async def test_camera_host_is_enforced(relay: RelayPart, recorder: ListRecorder) -> None:
    allocation = relay.allocate(CAMERA, "video", "alice", camera_host="127.0.0.2", viewer_host=HOST)
    impostor = await UdpPeer.bind()
    ids = (allocation.camera_media_id, allocation.viewer_media_id)
    impostor.send(Register(0, "V", impostor.address, ids).encode(), _target(allocation))
    await _r_viewer(allocation)  # proves the impostor's datagram was handled first
    assert relay.status()["cameras"] == 0
    assert relay.status()["drops"]["camera_host_mismatch"] == 1
    assert any(e.get("event") == "camera_host_mismatch" for e in recorder.events)


async def test_fan_out_to_many_viewers_and_a_tap(relay: RelayPart) -> None:
    allocations = [
        relay.allocate(CAMERA, "video", f"viewer{i}", viewer_host=HOST) for i in range(8)
    ]
    viewers = [await _r_viewer(allocation) for allocation in allocations]
    tap = relay.open_tap(relay.allocate(CAMERA, "video", "fakecloud", viewer_host=HOST))
    camera = await _camera(allocations[0])
    for index in range(30):
        camera[0].send(_media(index), _target(allocations[0]))
    expected = [_media(i) for i in range(30)]
    for viewer in viewers:
        assert await viewer[0].media_count(30) == expected
    received = [datagram async for datagram in _take(tap, 30)]
    assert received == expected
    assert relay.status()["viewers"] == 17  # 8 viewers x 2 channels + the tap


async def _take(tap: Tap, count: int) -> AsyncIterator[bytes]:
    async with asyncio.timeout(5):
        for _ in range(count):
            yield await anext(tap)


async def test_a_viewer_that_never_reads_does_not_delay_others(relay: RelayPart) -> None:
    allocation = relay.allocate(CAMERA, "video", "alice", viewer_host=HOST)
    stuck = relay.open_tap(relay.allocate(CAMERA, "video", "stuck", viewer_host=HOST), max_queue=4)
    newest = relay.open_tap(
        relay.allocate(CAMERA, "video", "t2", viewer_host=HOST), 4, overflow="drop_newest"
    )
    viewer = await _r_viewer(allocation)
    camera = await _camera(allocation)
    for index in range(200):
        camera[0].send(_media(index), _target(allocation))
    assert len(await viewer[0].media_count(200)) == 200
    assert stuck.dropped == newest.dropped == 196
    assert [d async for d in _take(stuck, 4)] == [_media(i) for i in range(196, 200)]
    assert [d async for d in _take(newest, 4)] == [_media(i) for i in range(4)]
    assert relay.status()["drops"]["queue_full"] == 392


async def test_release_ends_the_session(relay: RelayPart) -> None:
    allocation = relay.allocate(CAMERA, "video", "alice", viewer_host=HOST)
    tap = relay.open_tap(allocation)
    camera = await _camera(allocation)
    relay.release(allocation)
    assert [d async for d in tap] == []  # iteration ends
    assert relay.status()["streams"] == relay.status()["cameras"] == 0
    with pytest.raises(RelayError):
        relay.open_tap(allocation)
    probe = await UdpPeer.bind()
    camera[0].send(_media(1), _target(allocation))
    # Once the media is dropped as unregistered, a REGISTER for the old ids is unknown too.
    ids = (allocation.camera_media_id, allocation.viewer_media_id)
    probe.send(Register(0, "V", probe.address, ids).encode(), _target(allocation))
    await _wait_for(lambda: relay.status()["drops"].get("unknown_id") == 1)
    assert relay.status()["drops"]["unregistered"] == 1


async def _wait_for(condition: Any, seconds: float = 5.0) -> None:
    """Bounded polling, only where no event exists (the relay's own counters)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while not condition():
        assert loop.time() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


async def test_inactivity_ends_the_session(settings: Settings) -> None:
    async for relay in _running(RelayPart(settings, inactivity_timeout=0.3)):
        allocation = relay.allocate(CAMERA, "video", "alice", viewer_host=HOST)
        tap = relay.open_tap(allocation)
        await _camera(allocation)
        async with asyncio.timeout(5):
            assert [d async for d in tap] == []
        assert relay.status()["sessions"] == relay.status()["cameras"] == 0


async def test_tcp_fallback_registers_and_receives_media(relay: RelayPart) -> None:
    allocation = relay.allocate(CAMERA, "video", "alice", viewer_host=HOST)
    tcp = await TcpPeer.connect(relay.port)
    ids = (allocation.viewer_media_id, allocation.camera_media_id)
    await tcp.send(Register(0, "V", Address("127.0.0.1", 1), ids).encode())
    assert isinstance(decode(await tcp.receive()), RelayAck)
    assert isinstance(decode(await tcp.receive()), Peers)
    camera = await _camera(allocation)
    for index in range(10):
        camera[0].send(_media(index, 1200), _target(allocation))
    assert [await tcp.receive() for _ in range(10)] == [_media(i, 1200) for i in range(10)]
    await tcp.send(b"\x81\xc9\x00\x01rtcp")
    assert await camera[0].media_count(1) == [b"\x81\xc9\x00\x01rtcp"]
    await tcp.close()
    await _wait_for(lambda: relay.status()["tcp_connections"] == 0)


async def test_tcp_junk_closes_only_that_connection(relay: RelayPart) -> None:
    rng = random.Random(4)
    for _ in range(5):
        junk = await TcpPeer.connect(relay.port)
        junk.writer.write(rng.randbytes(rng.randrange(1, 400)))
        await junk.send(b"x" * 3000)  # over the datagram cap: the relay hangs up
        assert await junk.reader.read() == b""
    allocation = relay.allocate(CAMERA, "video", "alice", viewer_host=HOST)
    tcp = await TcpPeer.connect(relay.port)
    ids = (allocation.viewer_media_id, allocation.camera_media_id)
    await tcp.send(Register(0, "V", Address("127.0.0.1", 1), ids).encode())
    assert isinstance(decode(await tcp.receive()), RelayAck)
    await tcp.close()


async def test_junk_flood_does_not_stop_forwarding(
    relay: RelayPart, recorder: ListRecorder
) -> None:
    allocation = relay.allocate(CAMERA, "video", "alice", viewer_host=HOST)
    viewer = await _r_viewer(allocation)
    camera = await _camera(allocation)
    flooder = await UdpPeer.bind()
    rng = random.Random(7)
    # Batches keep the burst inside the kernel's receive buffer: the test is about the relay,
    # not about the kernel dropping datagrams nobody has read yet.
    for batch in range(40):
        for index in range(batch * 10, batch * 10 + 10):
            flooder.send(rng.randbytes(rng.randrange(0, 3000)), _target(allocation))
            junk_ids = (f"V_{rng.getrandbits(64):x}", f"V_{rng.getrandbits(64):x}")
            flooder.send(Register(0, "V", flooder.address, junk_ids).encode(), _target(allocation))
            flooder.send(b"SDNK\x01\x00\x00\x01" + rng.randbytes(40), _target(allocation))
            camera[0].send(_media(index), _target(allocation))
        await viewer[0].media_count(batch * 10 + 10)
    assert viewer[0].media == [_media(i) for i in range(400)]
    await _wait_for(lambda: relay.status()["drops"].get("unknown_id") == 400)
    status = relay.status()
    assert status["cameras"] == 2 and status["viewers"] == 2  # no growth from the flood
    assert status["drops"]["malformed"] >= 400
    assert len(recorder.events) <= 60  # recording is rate limited


async def test_direct_mode_names_the_counterpart(settings: Settings) -> None:
    async for relay in _running(RelayPart(settings, peer_mode="direct")):
        allocation = relay.allocate(CAMERA, "video", "alice", viewer_host=HOST)
        viewer = await UdpPeer.bind()
        ids = (allocation.viewer_media_id, allocation.camera_media_id)
        viewer.send(Register(0, "V", viewer.address, ids).encode(), _target(allocation))
        camera = await UdpPeer.bind()
        camera_ids = (allocation.camera_media_id, allocation.viewer_media_id)
        peers = await _register(camera, allocation, 0, camera_ids)
        assert peers.slots[3] == viewer.address
        # The viewer registered first and gets PEERS once the camera arrives.
        assert (await viewer.peers()).slots[3] == camera.address


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
    async for relay in _running(RelayPart(settings, max_sessions=2)):
        relay.allocate(1, "video", "a", viewer_host=HOST)
        relay.allocate(1, "video", "b", viewer_host=HOST)
        with pytest.raises(RelayError, match="full"):
            relay.allocate(1, "video", "c", viewer_host=HOST)


async def test_rejects_a_non_ipv4_announce_address(settings: Settings) -> None:
    relay = RelayPart(settings.model_copy(update={"announce_address": "::1"}))
    with pytest.raises(UserError, match="IPv4"):
        await relay.start()
    await relay.stop()


async def test_a_vanished_viewer_does_not_disturb_the_others(relay: RelayPart) -> None:
    gone = await _r_viewer(relay.allocate(CAMERA, "video", "gone", viewer_host=HOST))
    allocation = relay.allocate(CAMERA, "video", "alice", viewer_host=HOST)
    viewer = await _r_viewer(allocation)
    camera = await _camera(allocation)
    for sock in gone:
        sock.close()
    for batch in range(5):
        for index in range(batch * 20, batch * 20 + 20):
            camera[0].send(_media(index), _target(allocation))
        await viewer[0].media_count(batch * 20 + 20)
    assert viewer[0].media == [_media(i) for i in range(100)]


async def test_oversize_and_unexpected_packets_are_dropped(relay: RelayPart) -> None:
    allocation = relay.allocate(CAMERA, "video", "alice", viewer_host=HOST)
    viewer = await _r_viewer(allocation)
    viewer[0].send(bytes(5000), _target(allocation))
    viewer[0].send(
        Peers.between(viewer[0].address, viewer[0].address, viewer[0].address).encode(),
        _target(allocation),
    )
    await _wait_for(lambda: relay.status()["drops"].get("unexpected_packet") == 1)
    assert relay.status()["drops"]["oversize"] == 1


# --- issue 7: liveness, release, ids, shared addresses, the camera's invitation --------------

SHORT = 0.4  # a shortened inactivity timeout; every wait below is bounded by RECEIVE_TIMEOUT


class Ended:
    """An `on_end` callback that tests can wait on."""

    def __init__(self) -> None:
        self.reasons: list[str] = []
        self.event = asyncio.Event()

    def __call__(self, allocation: Allocation, reason: str) -> None:
        self.reasons.append(reason)
        self.event.set()

    async def wait(self) -> list[str]:
        async with asyncio.timeout(RECEIVE_TIMEOUT):
            await self.event.wait()
        return self.reasons


async def test_a_quiet_media_socket_keeps_video_while_rtcp_flows(settings: Settings) -> None:
    async for relay in _running(RelayPart(settings, inactivity_timeout=SHORT)):
        ended = Ended()
        allocation = relay.allocate(CAMERA, "video", "alice", on_end=ended, viewer_host=HOST)
        viewer = await _r_viewer(allocation)
        camera = await _camera(allocation)
        loop = asyncio.get_running_loop()
        started = loop.time()
        index = 0
        # Four timeouts long: the media socket never sends, the control socket reports.
        while loop.time() - started < 4 * SHORT:
            camera[0].send(_media(index), _target(allocation))
            index += 1
            await viewer[0].media_count(index)
            viewer[1].send(receiver_report(0xCAFE), _target(allocation))
            await asyncio.sleep(SHORT / 4)  # pacing: let real time pass, not synchronisation
        assert viewer[0].media == [_media(i) for i in range(index)]
        assert ended.reasons == [] and relay.status()["sessions"] == 1
        # The camera heard every report; the viewer now falls silent and is let go.
        await camera[1].media_count(index)
        assert await ended.wait() == ["idle"]
        assert relay.status()["sessions"] == 0


async def test_an_rtcp_bye_releases_that_viewer_at_once(relay: RelayPart) -> None:
    ended = Ended()
    leaving = relay.allocate(CAMERA, "video", "alice", on_end=ended, viewer_host=HOST)
    staying = relay.allocate(CAMERA, "video", "bob", viewer_host=HOST)
    alice, bob = await _r_viewer(leaving), await _r_viewer(staying)
    camera = await _camera(staying)
    alice[1].send(bye(0xCAFE), _target(leaving))
    assert await ended.wait() == ["bye"]
    assert relay.status()["sessions"] == 1
    # The BYE went no further: the camera's control socket gets only bob's report.
    bob[1].send(receiver_report(0xCAFE), _target(staying))
    assert await camera[1].media_count(1) == [receiver_report(0xCAFE)]
    camera[0].send(_media(1), _target(staying))
    assert await bob[0].media_count(1) == [_media(1)]
    assert alice[0].media == []
    relay.release(staying)
    assert ended.reasons == ["bye"]  # a release by the owner is not reported back


async def test_the_camera_and_its_viewers_register_by_id_or_alias(relay: RelayPart) -> None:
    camera_alias, account_alias = "k3x:AABBCCDDEEFF", "k3x"
    allocation = relay.allocate(
        CAMERA,
        "video",
        account_alias,
        camera_host="127.0.0.1",
        viewer_host=HOST,
        camera_aliases=[camera_alias],
        viewer_aliases=["alice"],
    )
    # Another app of the account, logged in from 127.0.0.2: a session of its own.
    relay.allocate(CAMERA, "video", account_alias, viewer_host="127.0.0.2")
    assert allocation.camera_media_ids == ("V_5", f"V_{camera_alias}")
    assert allocation.viewer_media_ids == ("V_k3x", "V_alice")
    target = _target(allocation)
    # R: its account alias and the camera's REST alias; R by login; K: V_<deviceId> twice.
    by_alias = await r_viewer(target, "V_k3x", f"V_{camera_alias}")
    by_login = await r_viewer(target, "V_alice", "V_5")
    k = await k_viewer(target, "V_5", host="127.0.0.2")
    camera = await _camera(allocation)
    camera[0].send(_media(3), target)
    for viewer in (by_alias, by_login, k):
        assert await viewer[0].media_count(1) == [_media(3)]
    assert relay.status()["sessions"] == 2 and relay.status()["cameras"] == 2


@pytest.mark.parametrize("camera_first", [True, False])
async def test_a_k_viewer_sharing_the_cameras_address_is_told_apart(
    relay: RelayPart, camera_first: bool
) -> None:
    # Hosted off the LAN behind one NAT, or here on loopback, camera and viewer share a host.
    allocation = relay.allocate(CAMERA, "video", "alice", camera_host="127.0.0.1", viewer_host=HOST)
    if camera_first:
        camera = await _camera(allocation)
        viewer = await _k_viewer(allocation)
    else:
        viewer = await _k_viewer(allocation)  # taken for the camera until the camera comes
        camera = await _camera(allocation)
        # Then it is asked to prove its address, as every viewer socket is.
        await _wait_for(lambda: relay.status()["unproven_viewers"] == 0)
    status = relay.status()
    assert (status["cameras"], status["viewers"]) == (2, 2)
    for index in range(5):
        camera[0].send(_media(index), _target(allocation))
    assert await viewer[0].media_count(5) == [_media(i) for i in range(5)]


async def test_the_camera_is_punched_once_someone_watches_each_channel(relay: RelayPart) -> None:
    allocation = relay.allocate(CAMERA, "video", "alice", viewer_host=HOST)
    camera = await _camera(allocation)
    ids = (allocation.camera_media_id, allocation.viewer_media_id)

    async def reregister(channel: int) -> list[Punch]:
        """REGISTER again and read up to its PEERS: every punch sent before has arrived."""
        sock = camera[channel]
        peers = len(sock.of_type(Peers))
        sock.send(Register(channel, "V", sock.address, ids).encode(), _target(allocation))
        await sock.until(lambda peer: len(peer.of_type(Peers)) > peers)
        return sock.of_type(Punch)

    assert await reregister(0) == [] and await reregister(1) == []
    viewer = await UdpPeer.bind()
    viewer_ids = (allocation.viewer_media_id, allocation.camera_media_id)
    viewer.send(Register(0, "V", viewer.address, viewer_ids).encode(), _target(allocation))
    await camera[0].until(lambda peer: len(peer.of_type(Punch)) >= 2)
    assert [punch.sequence for punch in camera[0].of_type(Punch)] == [0, 1]
    assert await reregister(1) == []  # nobody on the control channel yet
    tap_allocation = relay.allocate(CAMERA, "video", "fakecloud", viewer_host=HOST)
    relay.open_tap(tap_allocation)  # fakecloud's own viewer counts on both channels
    await camera[1].until(lambda peer: bool(peer.of_type(Punch)))


# --- issue 8: who may watch --------------------------------------------------------------------


def _silent_socket() -> socket.socket:
    """A victim's socket: it never answers, so what it receives is what a spoofer aimed at it."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((HOST, 0))
    sock.setblocking(False)
    return sock


def _drain(sock: socket.socket) -> int:
    received = 0
    with contextlib.suppress(BlockingIOError):
        for _ in range(100_000):  # bounded: far more than the relay could have sent
            received += len(sock.recv(4096))
    return received


async def test_a_spoofed_register_aims_nothing_large_at_its_victim(relay: RelayPart) -> None:
    allocation = relay.allocate(CAMERA, "video", "alice", viewer_host=HOST)
    target = _target(allocation)
    victim = _silent_socket()
    ids = (allocation.viewer_media_id, allocation.camera_media_id)
    # The spoofer's datagrams carry the victim's address (here: sent from the victim's socket,
    # which is all the relay can see): REGISTERs, then every possible echo, blind.
    sent = [Register(channel, "V", Address(HOST, 9), ids).encode() for channel in CHANNELS]
    sent += [RelayAck(0, "V", ids).encode()] + [Connected(b).encode() for b in range(64)]
    for datagram in sent:
        victim.sendto(datagram, target)
    # (64 guesses: a burst the kernel's receive buffer holds, so nothing else is lost.)
    await _wait_for(lambda: relay.status()["drops"].get("proof_failed", 0) >= 60)
    viewer = await _r_viewer(allocation)
    camera = await _camera(allocation)
    for index in range(40):
        camera[0].send(_media(index, 1200), target)
    await viewer[0].media_count(40)  # 48 KB flowed, to the viewer that proved itself
    received = _drain(victim)
    victim.close()
    assert received <= sum(map(len, sent)) + UNPROVEN_ALLOWANCE
    assert relay.status()["unproven_viewers"] == 1  # the victim's socket, still unproven


async def test_a_viewer_registers_only_from_its_apps_host(relay: RelayPart) -> None:
    allocation = relay.allocate(CAMERA, "video", "alice", viewer_host="127.0.0.2")
    stranger = await UdpPeer.bind(HOST)  # knows the ids, but its app never asked from here
    for ids in (
        (allocation.viewer_media_id, allocation.camera_media_id),
        (allocation.camera_media_id, allocation.camera_media_id),  # K's public form
    ):
        stranger.send(Register(0, "V", stranger.address, ids).encode(), _target(allocation))
    await _wait_for(lambda: relay.status()["drops"].get("viewer_host_mismatch") == 2)
    # fakecloud's own tap session takes no sockets at all.
    tap = relay.allocate(CAMERA, "video", "fakecloud")
    stranger.send(
        Register(0, "V", stranger.address, (tap.viewer_media_id, tap.camera_media_id)).encode(),
        _target(tap),
    )
    await _wait_for(lambda: relay.status()["drops"].get("viewer_host_mismatch") == 3)
    assert relay.status()["viewers"] == 0
    assert await k_viewer(_target(allocation), allocation.camera_media_id, host="127.0.0.2")


async def test_one_host_cannot_take_every_viewer_slot(settings: Settings) -> None:
    async for relay in _running(RelayPart(settings, max_viewer_sockets_per_host=4)):
        hog = relay.allocate(CAMERA, "video", "hog", viewer_host=HOST)
        for _ in range(3):  # three proven viewers = 6 sockets asked for; 4 fit
            with contextlib.suppress(TimeoutError):
                await r_viewer(_target(hog), hog.viewer_media_id, hog.camera_media_id)
        assert relay.status()["viewers"] == 4
        assert relay.status()["drops"]["source_limit"] >= 1
        other = relay.allocate(CAMERA, "video", "alice", viewer_host="127.0.0.2")
        assert await k_viewer(_target(other), other.camera_media_id, host="127.0.0.2")
        assert relay.status()["viewers"] == 6
