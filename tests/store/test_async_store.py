"""AsyncStore: the same methods, awaited, every call on one worker thread off the event loop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from fakecloud.core.errors import UserError
from fakecloud.store import AsyncStore, Store
from tests.capture import test_small_disk
from tests.store.conftest import FAST_HASHER, PASSWORD

small_disk = test_small_disk.small_disk  # a 1 MiB tmpfs of its own (skipped where impossible)
FILL_CHUNK = 16 << 10
FILL_CHUNKS = 128  # 2 MiB: more than the disk holds


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
    assert store.write_counters["grouped_calls"] == 40  # creations go through GroupedCalls
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


class GatedStore(Store):
    """A real store whose integrity check holds the store's thread until a gate opens, as a
    slow call would, so writes made meanwhile pile up behind it."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.entered = threading.Event()
        self.gate = threading.Event()

    def integrity_check(self) -> str:
        self.entered.set()
        self.gate.wait(10)
        return super().integrity_check()


@pytest.fixture
async def gated(tmp_path: Path) -> AsyncIterator[tuple[AsyncStore, GatedStore]]:
    sync = GatedStore(tmp_path / "db.sqlite3", hasher=FAST_HASHER)
    async_store = AsyncStore(sync)
    await async_store.add_account("alice", PASSWORD)
    yield async_store, sync
    sync.gate.set()
    await async_store.close()


async def hold_the_thread(store: AsyncStore, sync: GatedStore) -> asyncio.Future[str]:
    busy = asyncio.ensure_future(store.integrity_check())
    assert await asyncio.to_thread(sync.entered.wait, 10)
    return busy


async def test_writes_queued_meanwhile_commit_in_one_transaction(
    gated: tuple[AsyncStore, GatedStore],
) -> None:
    store, sync = gated
    cameras = [
        await store.upsert_camera(mac=f"00:11:22:33:45:{i:02X}", owner="alice") for i in range(50)
    ]
    transactions = sync.counters["transactions"]
    busy = await hold_the_thread(store, sync)
    for camera in cameras:
        await store.set_camera_presence(camera.id, True, ip="192.0.2.1")
        await store.log_session(camera.id, "alice", "camera", "192.0.2.1:1", "login")
    sync.gate.set()
    assert await busy == "ok"
    await store.flush()
    assert sync.counters["transactions"] == transactions + 1
    assert sync.counters["batches"] == 1 and sync.counters["batched_writes"] == 100
    assert store.write_counters["batches_committed"] == 1
    assert store.write_counters["largest_batch"] == 100
    assert all(camera.online for camera in await store.list_cameras(owner="alice"))
    assert len(await store.list_sessions(limit=1000)) == 50


async def test_presence_of_one_camera_is_coalesced_in_a_batch(
    gated: tuple[AsyncStore, GatedStore],
) -> None:
    store, sync = gated
    camera = await store.upsert_camera(mac="00:11:22:33:46:01", owner="alice")
    busy = await hold_the_thread(store, sync)
    await store.set_camera_presence(camera.id, True, "192.0.2.1", "1.0", {"lport": "9490"})
    assert not store.camera_seen(camera.id)  # its login just wrote last_seen
    await store.set_camera_presence(camera.id, True, ip="192.0.2.2")
    await store.set_camera_presence(camera.id, False)
    sync.gate.set()
    await busy
    await store.flush()
    stored = await store.get_camera(camera.id)
    assert stored is not None and not stored.online
    assert (stored.last_ip, stored.firmware, stored.properties) == (
        "192.0.2.2",
        "1.0",
        {"lport": "9490"},
    )
    assert store.write_counters["coalesced"] == 2
    assert sync.counters["batched_writes"] == 1
    assert store.write_counters["keepalives_skipped"] == 1


async def test_a_keepalive_moves_last_seen_once_the_interval_passed(tmp_path: Path) -> None:
    store = AsyncStore(Store(tmp_path / "db.sqlite3", hasher=FAST_HASHER), last_seen_interval=0)
    try:
        camera = await store.upsert_camera(mac="00:11:22:33:47:01")
        await store.set_camera_presence(camera.id, True)
        await store.flush()
        at_login = (await store.get_camera(camera.id)).last_seen
        assert store.camera_seen(camera.id)
        await store.flush()
        seen = await store.get_camera(camera.id)
        assert seen.online and seen.last_seen > at_login
    finally:
        await store.close()


async def test_nothing_written_behind_is_lost_on_close(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    store = AsyncStore(Store(path, hasher=FAST_HASHER))
    camera = await store.upsert_camera(mac="00:11:22:33:48:01")
    for index in range(300):
        await store.set_camera_presence(camera.id, index % 2 == 0, ip=f"192.0.2.{index % 250}")
        await store.log_session(camera.id, None, "camera", "192.0.2.1:1", f"line {index}")
    await store.close()  # no flush: close commits what is queued
    with Store(path, hasher=FAST_HASHER) as reopened:
        assert len(reopened.list_sessions(limit=1000)) == 300
        stored = reopened.get_camera(camera.id)
        assert stored is not None and not stored.online and stored.last_ip == "192.0.2.49"


async def test_writes_after_close_are_refused(tmp_path: Path) -> None:
    store = AsyncStore(Store(tmp_path / "db.sqlite3", hasher=FAST_HASHER))
    await store.close()
    with pytest.raises(UserError, match="closed"):
        await store.log_session(None, None, "app", "192.0.2.1:1", "login")


async def test_a_failing_batch_is_logged_and_the_next_one_commits(
    small_disk: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = AsyncStore(Store(small_disk / "db.sqlite3", hasher=FAST_HASHER))
    try:
        camera = await store.upsert_camera(mac="00:11:22:33:49:01")
        await store.log_session(camera.id, None, "camera", "192.0.2.1:1", "kept")
        await store.flush()
        filler = small_disk / "filler"
        # Unbuffered: a write the full disk refuses fails in the loop, not again at close.
        with filler.open("wb", buffering=0) as out, contextlib.suppress(OSError):
            for _ in range(FILL_CHUNKS):  # bounded: the disk is 1 MiB
                out.write(b"\0" * FILL_CHUNK)
                out.flush()
        await store.set_camera_presence(camera.id, True, ip="192.0.2.7")
        await store.log_session(camera.id, None, "camera", "192.0.2.1:1", "x" * (256 << 10))
        with caplog.at_level(logging.ERROR), pytest.raises(UserError, match="could not write"):
            await store.flush()
        assert "could not write" in caplog.text and "earlier data is kept" in caplog.text
        assert store.write_counters["batches_failed"] == 1
        assert store.write_counters["writes_lost"] == 2

        filler.unlink()
        await store.set_camera_presence(camera.id, True, ip="192.0.2.8")
        await store.log_session(camera.id, None, "camera", "192.0.2.1:1", "after")
        await store.flush()
        assert [entry.event for entry in await store.list_sessions(camera.id)] == ["after", "kept"]
        assert (await store.get_camera(camera.id)).last_ip == "192.0.2.8"
        assert await store.integrity_check() == "ok"
    finally:
        await store.close()
