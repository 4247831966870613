"""Pairing: no login without proof takes over a camera; unknown cameras wait for their owner.

Real broker, real store, real sockets on loopback; the pairing window is opened by the real
`fakecloud pair` command in another process."""

from __future__ import annotations

import asyncio
import os
import secrets
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fakecloud.broker.binding import NEW_CAMERAS_BURST
from fakecloud.broker.login import IDENTITY_SECRET_KEYS, read_login
from fakecloud.core.events import CameraPending
from fakecloud.net.cxnet import Action
from fakecloud.net.properties import Properties, encode_properties
from fakecloud.sim.app import SimulatedApp
from fakecloud.sim.camera import LoginRefused, SimulatedCamera
from fakecloud.store.core import MAX_PENDING_CAMERAS
from fakecloud.store.models import TRUNCATED_MARK, bounded_report_as_json
from tests.broker.conftest import OWNER, OWNER_PASSWORD, BrokerServer
from tests.broker.tend_clients import pack, read_reply
from tests.conftest import run_cli
from tests.media.test_viewer_e2e import Cloud, cloud

__all__ = ["cloud"]

MAC = "00:11:22:33:44:55"
SECRET = "the camera's own secret"
WITHIN = 10.0


def camera_for(served: BrokerServer, mac: str = MAC, **options: Any) -> SimulatedCamera:
    settings = {"login": None, "password": None, "first_backoff": 0.05, "max_backoff": 0.2}
    return SimulatedCamera("127.0.0.1", served.port, mac=mac, **(settings | options))


async def start(camera: SimulatedCamera) -> asyncio.Task[None]:
    task = asyncio.create_task(camera.run())
    async with asyncio.timeout(WITHIN):
        await camera.logged_in.wait()
    return task


async def refused(camera: SimulatedCamera) -> None:
    with pytest.raises(LoginRefused):
        await asyncio.wait_for(camera.run(), WITHIN)


async def test_a_login_without_proof_never_takes_over_an_owned_camera(
    served: BrokerServer, online_camera: SimulatedCamera
) -> None:
    stored = await served.store.find_camera(mac=MAC)
    await served.store.update_camera(stored.id, name="Porch camera")
    await refused(camera_for(served))  # no credentials
    await refused(camera_for(served, identity_secret="a guess"))  # a secret it never had
    assert served.broker.camera_session(stored.id).camera.owner == OWNER
    answer = await served.broker.send_command(stored.id, "get-camera-setting|1|")
    assert answer.action == Action.COMMAND, "the owner's commands still reach the real camera"
    (claim,) = [e for e in await served.store.list_events(stored.id) if e.kind == "claim-refused"]
    assert claim.data["message"] == "a device claimed to be Porch camera from 127.0.0.1"
    refusals = [r for r in served.recorder.of_kind("login") if r.get("refused")]
    assert [r["refused"] for r in refusals] == [
        "the login does not prove this camera's identity"
    ] * 2
    assert "a guess" not in repr(served.recorder.events), "no secret reaches the capture log"


async def test_an_unknown_camera_is_pending_until_its_owner_approves(
    served: BrokerServer,
) -> None:
    camera = camera_for(served, identity_secret=SECRET)
    task = await start(camera)
    stored = await served.store.find_camera(mac=MAC)
    assert stored.pending and stored.proof == "identity secret"
    assert "p2p-key" not in camera.welcome, "a pending camera gets nothing of an owner's"
    app = SimulatedApp("127.0.0.1", served.port, login=OWNER, password=OWNER_PASSWORD)
    await app.login()
    reply = await asyncio.wait_for(app.command(str(stored.id), "get-camera-setting|1|"), WITHIN)
    assert reply.action == Action.ERROR, "apps cannot command a pending camera"
    assert str(stored.id) not in app.welcome.get("device-info-list", "")
    await app.close()
    await refused(camera_for(served, identity_secret="someone else"))

    await served.store.approve_camera(stored.id, OWNER)
    await served.broker.camera_changed(stored.id)
    answer = await served.broker.send_command(stored.id, "get-camera-setting|1|")
    assert answer.action == Action.COMMAND
    camera.drop_connection()  # it comes back proving itself with the same secret
    async with asyncio.timeout(WITHIN):
        await camera.disconnected.wait()
        await camera.logged_in.wait()
    assert camera.login_count == 2
    assert camera.welcome["p2p-key"] == (await served.store.get_camera(stored.id)).p2p_key
    await refused(camera_for(served))  # an approved camera's secret is still required
    camera.stop()
    await task


async def test_a_pairing_window_opened_by_the_cli_binds_the_next_camera(
    served: BrokerServer,
) -> None:
    data_dir = served.broker.settings.data_dir
    opened = await asyncio.to_thread(
        run_cli, "pair", "--account", OWNER, "--minutes", "10", data_dir=data_dir
    )
    assert opened.returncode == 0, opened.stderr
    camera = camera_for(served, identity_secret=SECRET)
    task = await start(camera)
    stored = await served.store.find_camera(mac=MAC)
    assert stored.owner == OWNER and "p2p-key" in camera.welcome
    closed = await asyncio.to_thread(
        run_cli, "pair", "--account", OWNER, "--close", data_dir=data_dir
    )
    assert closed.returncode == 0, closed.stderr
    later = camera_for(served, mac="00:11:22:33:44:66")
    later_task = await start(later)
    assert (await served.store.find_camera(mac="00:11:22:33:44:66")).pending
    for running, handle in ((camera, task), (later, later_task)):
        running.stop()
        await handle


async def test_strict_policy_still_refuses_unknown_forms(served: BrokerServer) -> None:
    served.broker.settings = served.broker.settings.model_copy(update={"login_policy": "strict"})
    await refused(camera_for(served, identity_secret=SECRET))
    assert await served.store.find_camera(mac=MAC) is None


async def _random_mac_login(port: int, padding: str, source: str = "127.0.0.1") -> bytes:
    mac = "02:" + ":".join(f"{byte:02X}" for byte in os.urandom(5))
    options = encode_properties({"mac": mac, "client_type": "flood", "junk": padding})
    reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0))
    try:
        writer.write(pack(3, Action.LOGIN, 121, bytes(16), options, b""))
        return await read_reply(reader)
    finally:
        writer.close()


async def test_a_flood_of_random_macs_leaves_a_bounded_pending_list(
    served: BrokerServer, online_camera: SimulatedCamera
) -> None:
    logins, parallel = 2_000, 50
    padding = "x" * 12 * 1024  # reported properties far above what a pending camera keeps
    slots = asyncio.Semaphore(parallel)

    async def one(number: int) -> None:
        # From 200 addresses: more new cameras than the pending list holds get past the
        # per-address allowance, so the list's own cap is what bounds it.
        async with slots:
            await _random_mac_login(served.port, padding, f"127.0.0.{2 + number % 200}")

    async with asyncio.timeout(300):
        await asyncio.gather(*(one(number) for number in range(logins)))
    cameras = await served.store.list_cameras()
    pending = [camera for camera in cameras if camera.pending]
    assert len(pending) <= MAX_PENDING_CAMERAS
    assert all(len(repr(camera.properties)) < 8 * 1024 for camera in pending)
    assert any(TRUNCATED_MARK in camera.properties for camera in pending)
    database = served.broker.settings.database_path
    size = sum(p.stat().st_size for p in database.parent.glob(database.name + "*"))
    assert size < 16 * 1024 * 1024, f"{size} bytes after {logins} logins"
    owner_camera = await served.store.find_camera(mac=MAC)
    assert owner_camera.owner == OWNER and owner_camera.online


async def test_one_address_cannot_flood_the_pending_list(served: BrokerServer) -> None:
    pending_events = served.broker.bus.subscribe("test", CameraPending, limit=100)
    for _ in range(40):
        await _random_mac_login(served.port, "", "127.0.0.7")
    pending = [camera for camera in await served.store.list_cameras() if camera.pending]
    assert len(pending) == NEW_CAMERAS_BURST
    assert served.broker.counters["logins_limited"] == 40 - NEW_CAMERAS_BURST
    announced = [await pending_events.get() for _ in range(NEW_CAMERAS_BURST)]
    assert {event.camera_id for event in announced} == {camera.id for camera in pending}
    assert pending_events.status()["queued"] == 0
    # Another address (another camera on the LAN) still gets in as pending.
    await _random_mac_login(served.port, "", "127.0.0.8")
    pending = [camera for camera in await served.store.list_cameras() if camera.pending]
    assert len(pending) == NEW_CAMERAS_BURST + 1


async def test_the_api_approves_a_pending_camera(cloud: Cloud) -> None:
    camera = SimulatedCamera(
        "127.0.0.1", cloud.cloud_port, login=None, password=None, mac=MAC, first_backoff=0.05
    )
    task = asyncio.create_task(camera.run())
    try:
        async with asyncio.timeout(WITHIN):
            await camera.logged_in.wait()
        store = cloud.runtime.services.store
        stored = await store.find_camera(mac=MAC)
        url = cloud.url(f"/api/cameras/{stored.id}/approve")
        async with httpx.AsyncClient(timeout=WITHIN) as client:
            listed = (await client.get(cloud.url("/api/cameras"))).json()
            assert [c["pending"] for c in listed if c["id"] == stored.id] == [True]
            forged = await client.post(url, json={"account": OWNER})  # a cross-site form
            assert forged.status_code == 403
            anonymous = await client.post(url, json={}, headers={"AntiCSRF": "1"})
            assert anonymous.status_code == 400, "a trusted client names the account"
            approved = await client.post(url, json={"account": OWNER}, headers={"AntiCSRF": "1"})
        assert approved.status_code == 200, approved.text
        assert approved.json()["owner"] == OWNER and approved.json()["proof"] == "none"
        broker = cloud.runtime.services.broker
        assert broker.camera_session(stored.id).camera.owner == OWNER, "applied at once"
    finally:
        camera.stop()
        await task


def test_cli_lists_pending_cameras_and_approves_them(served_data: Any) -> None:
    data_dir, camera_id = served_data
    listed = run_cli("camera", "list", data_dir=data_dir)
    assert listed.returncode == 0 and "PENDING" in listed.stdout, listed.stdout
    approved = run_cli("camera", "approve", str(camera_id), "--account", OWNER, data_dir=data_dir)
    assert approved.returncode == 0, approved.stderr
    assert "cannot prove who it is" in approved.stdout
    listed = run_cli("camera", "list", data_dir=data_dir)
    assert f"owner {OWNER}" in listed.stdout and "PENDING" not in listed.stdout
    again = run_cli("camera", "approve", str(camera_id), "--account", "nobody", data_dir=data_dir)
    assert again.returncode == 2 and "Traceback" not in again.stderr


@pytest.fixture
def served_data(broker_settings: Any) -> tuple[Any, int]:
    from fakecloud.store import Store

    broker_settings.data_dir.mkdir(parents=True, exist_ok=True)
    with Store(broker_settings.database_path) as store:
        store.add_account(OWNER, OWNER_PASSWORD)
        camera = store.add_pending_camera(mac=MAC)
    return broker_settings.data_dir, camera.id


@given(
    st.dictionaries(st.sampled_from((*IDENTITY_SECRET_KEYS, "mac", "alias", "x")), st.text()),
    st.integers(min_value=32, max_value=8192),
)
def test_identity_secrets_never_reach_the_report_and_reports_stay_bounded(
    fields: dict[str, str], limit: int
) -> None:
    request = read_login(Properties(list(fields.items())), Properties())
    assert not set(request.reported) & set(IDENTITY_SECRET_KEYS)
    text = bounded_report_as_json(fields | {"big": secrets.token_hex(limit)}, limit)
    assert len(text.encode()) <= limit
