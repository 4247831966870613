"""Who is who: REGISTER readings, ids and aliases, the hosts sockets may come from."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fakecloud.core.events import EventBus
from fakecloud.net.sdnk import Address, Register
from fakecloud.relay import RelayPart
from fakecloud.relay.accounting import RelayAccounting
from fakecloud.relay.rendezvous import resolve
from fakecloud.relay.table import SessionTable
from tests.relay.peers import UdpPeer, k_viewer, r_viewer
from tests.relay.scenario import (
    CAMERA,
    HOST,
    ListRecorder,
    address_of,
    camera_of,
    k_viewer_of,
    media_datagram,
    r_viewer_of,
    wait_for,
)


async def test_k_reading_rendezvous_with_camera_host(relay: RelayPart) -> None:
    allocation = relay.allocate(CAMERA, "audio", "bob", camera_host="127.0.0.2", viewer_host=HOST)
    assert allocation.camera_media_id == "A_5"
    viewer = await k_viewer_of(allocation)
    # A K-style camera also names itself twice; its host tells it apart.
    camera = await k_viewer_of(allocation, host="127.0.0.2")
    for index in range(5):
        camera[0].send(media_datagram(index), address_of(allocation))
    assert await viewer[0].media_count(5) == [media_datagram(i) for i in range(5)]
    assert relay.status()["cameras"] == 2


async def test_camera_host_is_enforced(relay: RelayPart, recorder: ListRecorder) -> None:
    allocation = relay.allocate(CAMERA, "video", "alice", camera_host="127.0.0.2", viewer_host=HOST)
    impostor = await UdpPeer.bind()
    ids = (allocation.camera_media_id, allocation.viewer_media_id)
    impostor.send(Register(0, "V", impostor.address, ids).encode(), address_of(allocation))
    await r_viewer_of(allocation)  # proves the impostor's datagram was handled first
    assert relay.status()["cameras"] == 0
    assert relay.status()["drops"]["camera_host_mismatch"] == 1
    assert any(e.get("event") == "camera_host_mismatch" for e in recorder.events)


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
    target = address_of(allocation)
    # R: its account alias and the camera's REST alias; R by login; K: V_<deviceId> twice.
    by_alias = await r_viewer(target, "V_k3x", f"V_{camera_alias}")
    by_login = await r_viewer(target, "V_alice", "V_5")
    k = await k_viewer(target, "V_5", host="127.0.0.2")
    camera = await camera_of(allocation)
    camera[0].send(media_datagram(3), target)
    for viewer in (by_alias, by_login, k):
        assert await viewer[0].media_count(1) == [media_datagram(3)]
    assert relay.status()["sessions"] == 2 and relay.status()["cameras"] == 2


@pytest.mark.parametrize("camera_first", [True, False])
async def test_a_k_viewer_sharing_the_cameras_address_is_told_apart(
    relay: RelayPart, camera_first: bool
) -> None:
    # Hosted off the LAN behind one NAT, or here on loopback, camera and viewer share a host.
    allocation = relay.allocate(CAMERA, "video", "alice", camera_host="127.0.0.1", viewer_host=HOST)
    if camera_first:
        camera = await camera_of(allocation)
        viewer = await k_viewer_of(allocation)
    else:
        viewer = await k_viewer_of(allocation)  # taken for the camera until the camera comes
        camera = await camera_of(allocation)
        # Then it is asked to prove its address, as every viewer socket is.
        await wait_for(lambda: relay.status()["unproven_viewers"] == 0)
    status = relay.status()
    assert (status["cameras"], status["viewers"]) == (2, 2)
    for index in range(5):
        camera[0].send(media_datagram(index), address_of(allocation))
    assert await viewer[0].media_count(5) == [media_datagram(i) for i in range(5)]


async def test_a_viewer_registers_only_from_its_apps_host(relay: RelayPart) -> None:
    allocation = relay.allocate(CAMERA, "video", "alice", viewer_host="127.0.0.2")
    stranger = await UdpPeer.bind(HOST)  # knows the ids, but its app never asked from here
    for ids in (
        (allocation.viewer_media_id, allocation.camera_media_id),
        (allocation.camera_media_id, allocation.camera_media_id),  # K's public form
    ):
        stranger.send(Register(0, "V", stranger.address, ids).encode(), address_of(allocation))
    await wait_for(lambda: relay.status()["drops"].get("viewer_host_mismatch") == 2)
    # fakecloud's own tap session takes no sockets at all.
    tap = relay.allocate(CAMERA, "video", "fakecloud")
    stranger.send(
        Register(0, "V", stranger.address, (tap.viewer_media_id, tap.camera_media_id)).encode(),
        address_of(tap),
    )
    await wait_for(lambda: relay.status()["drops"].get("viewer_host_mismatch") == 3)
    assert relay.status()["viewers"] == 0
    assert await k_viewer(address_of(allocation), allocation.camera_media_id, host="127.0.0.2")


async def test_a_session_that_requires_its_viewer_id_takes_no_k_form_socket(
    relay: RelayPart,
) -> None:
    # The app named its secret per-session alias: K's form, which names only the public
    # camera id, cannot join it even from the app's own host.
    allocation = relay.allocate(
        CAMERA, "video", "k3x-s3cret", viewer_host=HOST, requires_viewer_id=True
    )
    stranger = await UdpPeer.bind(HOST)
    ids = (allocation.camera_media_id, allocation.camera_media_id)
    stranger.send(Register(0, "V", stranger.address, ids).encode(), address_of(allocation))
    await wait_for(lambda: relay.status()["drops"].get("viewer_host_mismatch") == 1)
    viewer = await r_viewer_of(allocation)
    camera = await camera_of(allocation)
    camera[0].send(media_datagram(1), address_of(allocation))
    assert await viewer[0].media_count(1) == [media_datagram(1)]
    assert relay.status()["viewers"] == 2


# --- the rules alone (pure): any REGISTER against a table of sessions -------------------------

APP_HOSTS = ("127.0.0.1", "127.0.0.2", "127.0.0.3")


def _table() -> SessionTable:
    accounting = RelayAccounting(None, records_per_second=1, local_port=lambda: 0)
    return SessionTable(
        accounting,
        EventBus(),
        max_sessions=64,
        max_endpoints=64,
        max_viewers_per_stream=64,
        max_viewer_sockets_per_host=16,
        replies_per_second=1,
    )


ids = st.sampled_from(["V_5", "V_k3x:CAM", "V_alice", "V_k3x", "V_bob", "V_6", "V_nobody"])


@given(
    st.lists(
        st.tuples(
            st.sampled_from([5, 6]),
            st.sampled_from(["alice", "bob", "k3x"]),
            st.sampled_from(APP_HOSTS),
            st.booleans(),
        ),
        max_size=6,
    ),
    st.tuples(ids, ids),
    st.sampled_from(APP_HOSTS),
    st.sampled_from([0, 1]),
)
def test_a_register_joins_only_a_session_of_its_own_host(
    sessions: list[tuple[int, str, str, bool]],
    register_ids: tuple[str, str],
    host: str,
    channel: int,
) -> None:
    """Security consideration: whatever the ids, a socket is a viewer only of a session its own
    host's app asked for, and of the stream one of its ids names."""
    table = _table()
    for camera_id, viewer, viewer_host, secret in sessions:
        table.allocate(
            camera_id,
            "video",
            viewer,
            Address(HOST, 6178),
            0.0,
            camera_host="127.0.0.9",
            viewer_host=viewer_host,
            camera_aliases=["k3x:CAM"] if camera_id == 5 else [],
            viewer_aliases=[],
            requires_viewer_id=secret,
            on_end=None,
        )
    register = Register(channel, "V", Address(host, 1), register_ids)
    resolved = resolve(table.stream_by_id, register, Address(host, 1))
    if isinstance(resolved, str):
        assert resolved in {"unknown_id", "viewer_host_mismatch"}
        return
    role, session = resolved
    assert session in table.sessions.values()
    assert set(register_ids) & set(session.allocation.camera_media_ids)
    if role == "viewer":
        assert session.allocation.viewer_host == host
        if session.allocation.requires_viewer_id:
            assert register_ids[0] in session.allocation.viewer_media_ids
