"""WriteBehind: changes gathered into one transaction, committed by the next call on its way
or by their own job, and a failing batch counted and logged, never raised."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from fakecloud.core.errors import UserError
from fakecloud.store import Store
from fakecloud.store.batch import PresenceWrite, WriteBatch
from fakecloud.store.models import utc_now
from fakecloud.store.worker import StoreWorker
from fakecloud.store.write_behind import WriteBehind


def seen(camera_id: int) -> PresenceWrite:
    now = utc_now().isoformat()
    return PresenceWrite(camera_id, now, now, True, "127.0.0.1")


@pytest.fixture
def parts(tmp_path: Path):  # type: ignore[no-untyped-def]
    store = Store(tmp_path / "fakecloud.db")
    worker = StoreWorker()
    yield store, worker, WriteBehind(store, worker)
    worker.stop()
    store.close()


async def test_a_call_takes_the_gathered_writes_along_and_sees_them(parts) -> None:  # type: ignore[no-untyped-def]
    store, worker, writes = parts
    cameras = [store.upsert_camera(mac=f"02:FC:00:02:00:{index:02X}") for index in range(3)]
    for camera in cameras:
        writes.add(seen(camera.id), None)
    online = await worker.call(writes.take_along(lambda: [c.online for c in store.list_cameras()]))
    assert online == [True, True, True]
    assert writes.counters["batches_committed"] == 1 and writes.counters["largest_batch"] == 3


async def test_with_no_call_coming_the_writes_commit_on_their_own(
    parts,
    monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
) -> None:
    store, worker, writes = parts
    loop = asyncio.get_running_loop()
    committed = asyncio.Event()
    submit = worker.submit

    def submit_and_tell(job):  # type: ignore[no-untyped-def]
        submit(lambda: (job(), loop.call_soon_threadsafe(committed.set)))

    monkeypatch.setattr(worker, "submit", submit_and_tell)
    camera = store.upsert_camera(mac="02:FC:00:02:01:00")
    writes.add(seen(camera.id), None)
    async with asyncio.timeout(5):
        await committed.wait()
    assert writes.counters["batches_committed"] == 1
    assert await worker.call(lambda: store.get_camera(camera.id).online)  # type: ignore[union-attr]


async def test_a_failing_batch_is_counted_reported_once_and_never_raised(
    parts,
    monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
) -> None:
    store, worker, writes = parts

    def disk_full(batch: WriteBatch) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(store, "write_batch", disk_full)
    writes.add(seen(1), None)
    writes.add(seen(2), None)
    assert await worker.call(writes.take_along(writes.commit_and_report)) == 1
    assert writes.counters["batches_failed"] == 1 and writes.counters["writes_lost"] == 2
    assert await worker.call(writes.commit_and_report) == 0


async def test_a_closed_store_takes_no_more_writes(parts) -> None:  # type: ignore[no-untyped-def]
    _, _, writes = parts
    writes.closed = True
    with pytest.raises(UserError):
        writes.add(seen(1), None)
