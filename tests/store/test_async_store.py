"""AsyncStore: the same methods, awaited, every call on one worker thread off the event loop."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from fakecloud.core.errors import UserError
from fakecloud.store import AsyncStore, Store
from tests.store.conftest import FAST_HASHER, PASSWORD


class ThreadNotingStore(Store):
    """A real store that notes which thread ran each call."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.threads: set[int] = set()

    def _query(self, sql: str, parameters: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        self.threads.add(threading.get_ident())
        return super()._query(sql, parameters)


@pytest.fixture
async def noted(tmp_path: Path) -> AsyncIterator[tuple[AsyncStore, ThreadNotingStore]]:
    sync = ThreadNotingStore(tmp_path / "db.sqlite3", hasher=FAST_HASHER)
    async_store = AsyncStore(sync)
    yield async_store, sync
    await async_store.close()


async def test_every_call_runs_on_one_worker_thread(
    noted: tuple[AsyncStore, ThreadNotingStore],
) -> None:
    store, sync = noted
    await store.add_account("alice", PASSWORD)
    cameras = await asyncio.gather(
        *(store.upsert_camera(mac=f"00:11:22:33:44:{i:02X}", owner="alice") for i in range(40))
    )
    await asyncio.gather(*(store.set_camera_presence(c.id, True) for c in cameras))
    await asyncio.gather(*(store.verify_password("alice", PASSWORD) for _ in range(20)))
    assert len(await store.list_cameras(owner="alice")) == 40
    assert len(sync.threads) == 1
    assert threading.get_ident() not in sync.threads


async def test_the_async_facade_mirrors_the_store(tmp_path: Path) -> None:
    store = AsyncStore(Store(tmp_path / "db.sqlite3", hasher=FAST_HASHER))
    try:
        account = await store.add_account("alice", PASSWORD)
        assert await store.get_account("ALICE") == account
        assert await store.list_accounts() == [account]
        token = await store.issue_token("alice")
        assert await store.verify_token("alice", token) == account
        assert await store.account_for_token(token) == account
        assert [t.partner for t in await store.list_tokens("alice")] == ["myQ"]
        assert await store.revoke_tokens("alice") == 1
        await store.set_password("alice", "another long password")
        assert await store.verify_password("alice", "another long password") == account
        camera = await store.upsert_camera(
            mac="001122AABBCC", reported_alias="oc9:cam", owner="alice"
        )
        assert (await store.find_camera(alias="oc9:cam")).id == camera.id
        await store.set_camera_presence(camera.id, True, ip="127.0.0.1", firmware="1.0")
        assert (await store.find_camera(ip="127.0.0.1")).id == camera.id
        assert (await store.update_camera(camera.id, name="Hall")).name == "Hall"
        assert await store.mark_all_offline() == 1
        await store.add_event(camera.id, "motion-event", {"n": 1})
        assert [e.kind for e in await store.list_events(camera.id)] == ["motion-event"]
        await store.log_session(camera.id, "alice", "camera", "127.0.0.1:1", "login")
        assert len(await store.list_sessions(camera.id)) == 1
        await store.forget_camera(camera.id)
        assert await store.get_camera(camera.id) is None
        with pytest.raises(UserError):
            await store.forget_camera(camera.id)
        await store.remove_account("alice")
        assert await store.integrity_check() == "ok"
    finally:
        await store.close()
