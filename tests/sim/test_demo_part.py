"""`serve --demo` whatever is in the data folder, and `fakecloud demo clean` removing only the
demo: a real runtime (front door, broker, store) and the real CLI in a child process."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

import pytest

from fakecloud.core.config import Settings
from fakecloud.runtime import Runtime
from fakecloud.server import build_runtime, close_services, start_parts, stop_parts
from fakecloud.sim.demo import demo_mac
from fakecloud.sim.demo_part import DEMO_LOGIN, DemoPart
from fakecloud.store import Store
from tests.conftest import run_cli

PASSWORD = "correct horse battery"
WITHIN = 30.0


@pytest.fixture
def demo_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"cloud_ports": [0], "broker_port": 0, "dns_enabled": False})


@contextlib.asynccontextmanager
async def running_demo(settings: Settings) -> AsyncIterator[tuple[Runtime, DemoPart]]:
    runtime = build_runtime(settings)
    demo = DemoPart(runtime)
    runtime.parts.append(demo)
    await start_parts(runtime)
    try:
        yield runtime, demo
    finally:
        await stop_parts(runtime)
        await close_services(runtime)


async def all_online(runtime: Runtime, count: int = 3) -> None:
    broker = runtime.services.broker
    async with asyncio.timeout(WITHIN):
        while len(broker.online_camera_ids()) < count:  # noqa: ASYNC110 - no presence event
            await asyncio.sleep(0.05)


def _user_data(settings: Settings) -> int:
    """A user's own account called demo, with a camera, its events and its session lines."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    with Store(settings.database_path) as store:
        store.add_account(DEMO_LOGIN, PASSWORD)
        camera = store.upsert_camera(mac="EC:1A:59:00:00:01", owner=DEMO_LOGIN, name="Porch")
        store.add_event(camera.id, "motion", {})
        store.log_session(camera.id, DEMO_LOGIN, "camera", "192.0.2.7:1", "login")
        return camera.id


async def test_the_demo_never_touches_a_users_demo_account(
    demo_settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    porch = _user_data(demo_settings)
    with caplog.at_level(logging.WARNING, "fakecloud.sim.demo_part"):
        async with running_demo(demo_settings) as (runtime, demo):
            await all_online(runtime)
            store = runtime.services.store
            assert demo.login == "demo-2"
            assert await store.verify_password(DEMO_LOGIN, PASSWORD) is not None
            demo_cameras = await store.list_cameras(owner="demo-2")
            assert sorted(camera.mac for camera in demo_cameras) == [demo_mac(i) for i in range(3)]
            assert [c.id for c in await store.list_cameras(owner=DEMO_LOGIN)] == [porch]
    assert "the account 'demo' is not the demo's, so the demo uses 'demo-2'" in caplog.text
    # A second start finds its own account again instead of making another.
    async with running_demo(demo_settings) as (runtime, demo):
        await all_online(runtime)
        assert demo.login == "demo-2"
        assert len(await runtime.services.store.list_accounts()) == 2


async def test_demo_clean_removes_the_demo_and_only_the_demo(demo_settings: Settings) -> None:
    porch = _user_data(demo_settings)
    data_dir = demo_settings.data_dir
    async with running_demo(demo_settings) as (runtime, _demo):
        await all_online(runtime)
        token = await runtime.services.store.issue_token("demo-2")
        # While a server runs the demo, clean refuses and removes nothing.
        busy = await asyncio.to_thread(run_cli, "demo", "clean", data_dir=data_dir)
        assert busy.returncode == 2 and "stop it first" in busy.stderr, busy.stderr
        assert len(await runtime.services.store.list_cameras(owner="demo-2")) == 3
    cleaned = run_cli("demo", "clean", data_dir=data_dir)
    assert cleaned.returncode == 0, cleaned.stderr
    assert "removed the demo account 'demo-2', 3 camera(s)" in cleaned.stdout
    with Store(demo_settings.database_path) as store:
        assert [account.login for account in store.list_accounts()] == [DEMO_LOGIN]
        assert [camera.id for camera in store.list_cameras()] == [porch]
        assert {session.camera_id for session in store.list_sessions()} == {porch}
        assert {session.login for session in store.list_sessions()} == {DEMO_LOGIN}
        assert [event.camera_id for event in store.list_events()] == [porch]
        assert store.account_for_token(token) is None
    again = run_cli("demo", "clean", data_dir=data_dir)
    assert again.returncode == 0 and "no demo data" in again.stdout
    assert "'demo' was not made by the demo and is kept" in again.stdout


async def test_a_demo_that_cannot_claim_an_account_leaves_the_server_serving(
    demo_settings: Settings,
) -> None:
    demo_settings.data_dir.mkdir(parents=True, exist_ok=True)
    with Store(demo_settings.database_path) as store:
        for login in ("demo", *(f"demo-{n}" for n in range(2, 21))):
            store.add_account(login, PASSWORD)
    async with running_demo(demo_settings) as (runtime, demo):
        status = demo.status()
        assert status["running"] is False and "is taken" in status["error"]
        # The rest started: the cloud port still takes logins.
        port = next(iter(runtime.part("frontdoor").bound_ports.values()))  # type: ignore[union-attr]
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.close()
