"""GroupedCalls: write calls that came while the store's thread was busy share one commit."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from fakecloud.core.errors import UserError
from fakecloud.store import Store
from fakecloud.store.grouped import GroupedCalls
from fakecloud.store.worker import StoreWorker
from tests.store.conftest import FAST_HASHER, PASSWORD

RELEASE_DEADLINE = 10.0


@pytest.fixture
def parts(tmp_path: Path) -> Iterator[tuple[Store, StoreWorker, GroupedCalls]]:
    store = Store(tmp_path / "db.sqlite3", hasher=FAST_HASHER)
    store.add_account("alice", PASSWORD)
    worker = StoreWorker()
    counters: dict[str, float] = {}
    yield store, worker, GroupedCalls(store, worker, counters)
    worker.stop()
    store.close()


async def while_busy(
    worker: StoreWorker, calls: list[Callable[[], Any]], grouped: GroupedCalls
) -> list[Any]:
    """Start every call while the store's thread is held, then let it go: one group."""
    release = threading.Event()
    worker.submit(lambda: release.wait(RELEASE_DEADLINE))
    tasks = [asyncio.ensure_future(grouped.call(call)) for call in calls]
    await asyncio.sleep(0)  # each task queues its call and waits for its answer
    release.set()
    return await asyncio.gather(*tasks, return_exceptions=True)


def mac(number: int) -> str:
    return f"02:FC:00:10:00:{number:02X}"


async def test_calls_that_came_meanwhile_share_one_commit(
    parts: tuple[Store, StoreWorker, GroupedCalls],
) -> None:
    store, worker, grouped = parts
    before = store.counters["transactions"]
    calls = [lambda n=n: store.upsert_camera(mac=mac(n), owner="alice") for n in range(30)]
    cameras = await while_busy(worker, calls, grouped)
    assert [camera.mac for camera in cameras] == [mac(n) for n in range(30)]
    assert store.counters["transactions"] - before == 1
    assert grouped.counters["largest_call_group"] == 30
    assert len(store.list_cameras(owner="alice")) == 30


async def test_a_failing_call_leaves_the_others_writes(
    parts: tuple[Store, StoreWorker, GroupedCalls],
) -> None:
    store, worker, grouped = parts
    calls = [
        lambda: store.upsert_camera(mac=mac(1), owner="alice"),
        lambda: store.upsert_camera(mac=mac(2), owner="nobody"),
        lambda: store.upsert_camera(mac=mac(3), owner="alice"),
    ]
    first, refused, third = await while_busy(worker, calls, grouped)
    assert isinstance(refused, UserError)
    assert {first.mac, third.mac} == {mac(1), mac(3)}
    assert store.find_camera(mac=mac(2)) is None
    assert len(store.list_cameras()) == 2


async def test_a_failed_commit_fails_every_call_and_keeps_none_of_their_writes(
    parts: tuple[Store, StoreWorker, GroupedCalls], tmp_path: Path
) -> None:
    store, worker, grouped = parts

    def breaks_the_commit() -> None:
        # A foreign key checked at COMMIT: the commit, not the call, fails.
        store._db.execute("PRAGMA defer_foreign_keys = ON")
        store._db.execute(
            "INSERT INTO tokens (account_id, partner, token_hash, created) VALUES (?, ?, ?, ?)",
            (999_999, "myQ", "x", "2026-01-01"),
        )

    calls = [
        lambda: store.upsert_camera(mac=mac(1), owner="alice"),
        breaks_the_commit,
        lambda: store.upsert_camera(mac=mac(3), owner="alice"),
    ]
    outcomes = await while_busy(worker, calls, grouped)
    assert all(isinstance(outcome, sqlite3.IntegrityError) for outcome in outcomes)
    assert store.list_cameras() == []
    # The store goes on: the next group commits.
    camera = await grouped.call(lambda: store.upsert_camera(mac=mac(4), owner="alice"))
    with sqlite3.connect(tmp_path / "db.sqlite3") as reader:
        assert reader.execute("SELECT mac FROM cameras").fetchall() == [(camera.mac,)]


async def test_an_idle_store_runs_a_call_at_once_in_a_group_of_its_own(
    parts: tuple[Store, StoreWorker, GroupedCalls],
) -> None:
    store, _, grouped = parts
    async with asyncio.timeout(RELEASE_DEADLINE):
        camera = await grouped.call(lambda: store.upsert_camera(mac=mac(1), owner="alice"))
    assert camera.owner == "alice"
    assert grouped.counters["call_groups"] == 1 and grouped.counters["largest_call_group"] == 1
