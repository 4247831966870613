"""A camera logging in again (after a power cut, all of them at once) costs one store read and no
write of its own, and is still refused or rebound whenever something changed."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from fakecloud.sim.camera import LoginRefused, SimulatedCamera
from tests.broker.conftest import OWNER, OWNER_PASSWORD, BrokerServer

MAC = "00:11:22:33:44:55"
WITHIN = 10.0


def camera_for(served: BrokerServer, **options: Any) -> SimulatedCamera:
    settings = {"login": OWNER, "password": OWNER_PASSWORD, "mac": MAC, "first_backoff": 0.05}
    return SimulatedCamera("127.0.0.1", served.port, **(settings | options))


async def log_in_and_leave(served: BrokerServer, **options: Any) -> SimulatedCamera:
    """One login (refusals raise LoginRefused), then the camera goes; its offline is stored."""
    camera = camera_for(served, **options)
    task = asyncio.create_task(camera.run(max_attempts=1))
    try:
        async with asyncio.timeout(WITHIN):
            waiter = asyncio.ensure_future(camera.logged_in.wait())
            await asyncio.wait((waiter, task), return_when=asyncio.FIRST_COMPLETED)
            waiter.cancel()
            if task.done():
                task.result()  # raises the refusal
    finally:
        camera.stop()
        async with asyncio.timeout(WITHIN):
            await asyncio.gather(task, return_exceptions=True)
    async with asyncio.timeout(WITHIN):
        while served.broker.online_camera_ids():  # noqa: ASYNC110 - the session ends on its own
            await asyncio.sleep(0.01)
    return camera


def own_transactions(served: BrokerServer) -> int:
    """Write transactions other than the grouped presence and session-log batches."""
    counters = served.store.store.counters
    return int(counters["transactions"] - counters["batches"])


async def test_a_camera_logging_in_again_writes_nothing_of_its_own(served: BrokerServer) -> None:
    first = await log_in_and_leave(served)
    await served.store.flush()
    before = own_transactions(served)
    again = await log_in_and_leave(served)
    await served.store.flush()
    assert again.camera_id == first.camera_id
    assert own_transactions(served) == before
    stored = await served.store.get_camera(first.camera_id)
    assert stored is not None and stored.owner == OWNER and stored.last_ip == "127.0.0.1"
    assert served.broker.counters["logins_ok"] == 2


async def test_a_camera_reporting_a_new_alias_is_still_written(served: BrokerServer) -> None:
    first = await log_in_and_leave(served, alias="oc9:first")
    await log_in_and_leave(served, alias="oc9:second")
    stored = await served.store.get_camera(first.camera_id)
    assert stored is not None and stored.reported_alias == "oc9:second"


async def test_a_changed_password_refuses_the_cached_one(served: BrokerServer) -> None:
    await log_in_and_leave(served)  # verified, so cached
    await served.store.set_password(OWNER, "a brand new password")
    with pytest.raises(LoginRefused):
        await log_in_and_leave(served)
    await log_in_and_leave(served, password="a brand new password")


async def test_a_removed_account_refuses_its_cached_password(served: BrokerServer) -> None:
    await log_in_and_leave(served)
    await served.store.remove_account(OWNER)
    with pytest.raises(LoginRefused):
        await log_in_and_leave(served)


async def test_a_forgotten_camera_is_made_anew_on_its_next_login(served: BrokerServer) -> None:
    first = await log_in_and_leave(served)
    await served.store.forget_camera(first.camera_id)
    again = await log_in_and_leave(served)
    assert again.camera_id != first.camera_id
    stored = await served.store.get_camera(again.camera_id)
    assert stored is not None and stored.owner == OWNER


async def test_a_pending_camera_is_bound_by_its_owners_login(served: BrokerServer) -> None:
    await log_in_and_leave(served)  # the password is cached from here on
    other = await log_in_and_leave(served, mac="00:11:22:33:44:66", login=None, password=None)
    pending = await served.store.get_camera(other.camera_id)
    assert pending is not None and pending.pending
    owned = await log_in_and_leave(served, mac="00:11:22:33:44:66")
    assert owned.camera_id == other.camera_id
    stored = await served.store.get_camera(other.camera_id)
    assert stored is not None and stored.owner == OWNER and not stored.pending
